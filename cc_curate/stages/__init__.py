"""Pure transforms on document batches, one stage each; ``base`` is the protocol, ``registry`` the
stages by name (built-in and ``cc_curate.stages`` entry points), ``pipeline`` runs a recipe's stages.
No Ray and no output I/O here."""
