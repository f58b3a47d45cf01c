"""Secrets in URLs, and text safe to write: the one place that knows what a URL secret looks like.

A URL can carry a credential in two places: its user info (``https://user:password@host/``) and
its query string (presigned URLs: ``X-Amz-Signature=``, ``X-Goog-Signature=``, Azure's ``sig=``;
API tokens: ``token=``, ``key=``, ...). ``public_url`` is the form of one URL that may be written
anywhere (outputs, ledger, logs, report, job metadata): user info dropped, the values of
secret-looking query parameters replaced by ``REDACTED``, other parameters kept (they may tell
two inputs apart). ``redact`` does the same to every URL inside free text (error messages,
tracebacks). ``representable`` makes any text encodable as UTF-8, which Arrow, Parquet and JSON
files require: a lone surrogate (from a ``"\\udc00"`` JSON escape, or a file name that is not
UTF-8) becomes the visible escape ``\\udc00``.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

REDACTED = "REDACTED"

# Query parameter names whose values are secrets (matched anywhere in the name, any case):
# signatures of presigned URLs (AWS, GCS, Azure SAS `sig`, CloudFront `Signature`/`Key-Pair-Id`),
# temporary credentials (`X-Amz-Security-Token`, `X-Amz-Credential`), API tokens and keys.
_SECRET_PARAM = re.compile(r"sig|token|key|secret|pass|pwd|auth|credential|session", re.I)
# A URL inside free text: a scheme, "://", then anything up to whitespace or a quote.
_URL_IN_TEXT = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^\s'\"<>]+?(?=[).,;:]*(?:[\s'\"<>]|$))")
_SURROGATE = re.compile("[\ud800-\udfff]")


def public_url(url: str) -> str:
    """``url`` without its credentials (see the module docstring); a local path is returned as it is.

    Also ``representable``, so the result can be written to any output file.
    """
    url = representable(url)
    if "://" not in url:
        return url
    try:
        parts = urlsplit(url)
    except ValueError:  # not parseable as a URL (e.g. a bad IPv6 literal): keep nothing after the host part
        return _USERINFO.sub("", url.split("?", 1)[0])
    netloc = parts.netloc.rsplit("@", 1)[-1]
    pairs = parse_qsl(parts.query, keep_blank_values=True)
    secret_query = any(_SECRET_PARAM.search(name) for name, _ in pairs)
    if netloc == parts.netloc and not secret_query:
        return url  # nothing to take off: the URL exactly as given
    query = parts.query
    if secret_query:
        query = urlencode([(name, REDACTED if _SECRET_PARAM.search(name) else value) for name, value in pairs],
                          safe="/:")
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


_USERINFO = re.compile(r"(?<=://)[^/@\s]*@")


def redact(text: str) -> str:
    """``text`` with every URL in it replaced by its ``public_url`` (for messages and logs)."""
    return _URL_IN_TEXT.sub(lambda match: public_url(match.group(0)), representable(text))


def has_credentials(text: str) -> bool:
    """Whether ``text`` holds a URL with user info or a secret query parameter."""
    return redact(text) != representable(text)


def representable(text: str) -> str:
    """``text`` with each lone surrogate written as a visible ``\\udXXX`` escape (valid UTF-8)."""
    if _SURROGATE.search(text) is None:
        return text
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def first_surrogate(text: str) -> int | None:
    """The position of the first lone surrogate in ``text`` (not encodable as UTF-8), or None."""
    match = _SURROGATE.search(text)
    return None if match is None else match.start()
