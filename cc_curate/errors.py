"""The one base class for problems the user can fix (bad recipe, missing input, unreachable
cluster). The CLI prints these as one line and exits 2; anything else is a bug and keeps its
traceback."""


class UserError(Exception):
    """A problem in what the user asked for, explained in one line."""
