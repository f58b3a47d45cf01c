"""Turning an HTML payload's bytes into text, and saying how.

Order of evidence (the first that decodes wins):

1. a byte-order mark;
2. the charset of the HTTP ``Content-Type`` header;
3. the charset of an HTML ``<meta charset>`` / ``<meta http-equiv="Content-Type">`` near the top;
4. detection: strict UTF-8 first (valid multi-byte UTF-8 almost never happens by accident),
   then charset-normalizer;
5. a declared charset (else UTF-8) that leaves at most 1% of characters undecodable;
6. nothing usable: the caller skips the record as ``charset_failed``.

Declared labels are mapped the way browsers read them (WHATWG Encoding Standard), e.g.
``iso-8859-1``/``us-ascii`` -> windows-1252, ``gb2312``/``gbk`` -> gb18030, so that pages decode
as they render; unknown or non-text labels (``foobar``, ``base64``) are ignored. Two corrections
to "the declaration wins", because wrong declarations are common in crawls and produce mojibake:
a payload that is valid UTF-8 with non-ASCII bytes is read as UTF-8 whatever a legacy declaration
says, and a declared charset that fails on very few bytes is still used, with those bytes replaced
("lossy" in the label). A character cut at the very end (crawlers cut payloads at a byte limit)
is dropped without counting as an error.

The label says what was decided, e.g. ``"utf-8 (header)"``, ``"windows-1251 (meta)"``,
``"windows-1251 (detected)"``, ``"utf-8 (detected, declared windows-1252)"``, ``"utf-8 (header, lossy)"``.
"""

from __future__ import annotations

import codecs
import re

from charset_normalizer import from_bytes

# A declared charset that fails strict decoding is still accepted when at most this share of the
# decoded characters (or MIN_LOSSY_CHARS) are replacement characters; when detection finds nothing,
# a declared charset (or UTF-8) with up to LAST_RESORT_SHARE replaced characters is used.
MAX_LOSSY_SHARE = 0.001
MIN_LOSSY_CHARS = 2
LAST_RESORT_SHARE = 0.01
# How much of the payload is searched for <meta charset> (browsers look at 1 KiB; real pages put
# the tag later, after long <script>/<link> blocks).
META_SCAN_BYTES = 16_384
# How much of the payload charset-normalizer looks at (it samples; bounding keeps it fast on
# megabyte pages).
DETECT_SAMPLE_BYTES = 65_536

_META_CHARSET = re.compile(
    rb"""<meta\b[^>]*?\bcharset\s*=\s*["']?\s*([a-z0-9][a-z0-9_.:+-]*)""", re.IGNORECASE
)
_CT_CHARSET = re.compile(r"""charset\s*=\s*["']?\s*([a-z0-9][a-z0-9_.:+-]*)""", re.IGNORECASE)

# How browsers read declared labels (WHATWG), keyed by Python's canonical codec name.
_BROWSER_CODEC = {
    "iso8859-1": "cp1252",
    "ascii": "cp1252",
    "iso8859-9": "cp1254",
    "iso8859-11": "cp874",
    "tis-620": "cp874",
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "euc_kr": "cp949",
    "shift_jis": "cp932",
    "big5": "big5hkscs",
}
# Python codecs that are not web text encodings (or are unsafe to honour from a page).
_NOT_WEB_CODECS = {
    "unicode-escape",
    "raw-unicode-escape",
    "idna",
    "punycode",
    "utf-7",
    "undefined",
    "charmap",
    "mbcs",
    "oem",
}
_UTF16_32 = {"utf-16", "utf-16-le", "utf-16-be", "utf-32", "utf-32-le", "utf-32-be"}
_BOMS = (
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF32_LE, "utf-32-le"),  # before UTF-16 LE: same first two bytes
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)


def charset_from_content_type(content_type: str | None) -> str | None:
    """The ``charset=`` parameter of a Content-Type value, if any."""
    if not content_type:
        return None
    match = _CT_CHARSET.search(content_type)
    return match.group(1) if match else None


def meta_charset(payload: bytes) -> str | None:
    """The charset declared by a ``<meta>`` tag near the top of an HTML payload, if any."""
    match = _META_CHARSET.search(payload, 0, META_SCAN_BYTES)
    return match.group(1).decode("ascii") if match else None


def codec_for_label(label: str, *, from_meta: bool = False) -> str | None:
    """Python codec for a declared charset label as a browser would read it; None if unusable."""
    try:
        name = codecs.lookup(label.strip().strip("\"'")).name
        b"\x00".decode(name, "ignore")  # rejects bytes-to-bytes codecs such as base64
    except (LookupError, ValueError):
        return None
    if name in _NOT_WEB_CODECS:
        return None
    if name == "utf-8-sig":
        return "utf-8"
    if from_meta and name in _UTF16_32:
        return "utf-8"  # an ASCII <meta> cannot be in UTF-16; browsers read such pages as UTF-8
    return _BROWSER_CODEC.get(name, name)


def display_name(codec: str) -> str:
    """Human label for a Python codec name (``cp1251`` -> ``windows-1251``)."""
    name = codecs.lookup(codec).name
    if re.fullmatch(r"cp125\d", name):
        return "windows-" + name[2:]
    return name


def decode_html(payload: bytes, content_type: str | None = None) -> tuple[str, str] | None:
    """Decode an HTML payload; returns ``(text, label)`` or None when no charset fits."""
    for bom, codec in _BOMS:
        if payload.startswith(bom):
            text = payload[len(bom) :].decode(codec, errors="replace")
            return text, f"{display_name(codec)} (bom)"

    is_utf8 = payload.isascii() or _is_utf8(payload)
    last_resort: tuple[str, str] | None = None  # a declared charset with a few more bad bytes
    declared = (
        (charset_from_content_type(content_type), "header", False),
        (meta_charset(payload), "meta", True),
    )
    for label, source, from_meta in declared:
        codec = codec_for_label(label, from_meta=from_meta) if label else None
        if codec is None or (codec in _UTF16_32 and not _looks_like_utf16_32(payload)):
            continue
        name = display_name(codec)
        if name != "utf-8" and is_utf8 and not payload.isascii():
            return _utf8(payload), f"utf-8 (detected, declared {name})"
        text, bad = _decode_counting_errors(payload, codec)
        if bad == 0:
            return text, f"{name} ({source})"
        if bad <= max(MIN_LOSSY_CHARS, int(len(text) * MAX_LOSSY_SHARE)):
            return text, f"{name} ({source}, lossy)"
        if last_resort is None and bad <= len(text) * LAST_RESORT_SHARE:
            last_resort = text, f"{name} ({source}, lossy)"

    if is_utf8:
        return _utf8(payload), "utf-8 (detected)"
    detected = _detect(payload)
    if detected is not None:
        return detected
    if last_resort is not None:
        return last_resort
    text, bad = _decode_counting_errors(payload, "utf-8")
    return (text, "utf-8 (detected, lossy)") if bad <= len(text) * LAST_RESORT_SHARE else None


def _detect(payload: bytes) -> tuple[str, str] | None:
    """charset-normalizer's best guess for a payload that is neither ASCII nor UTF-8."""
    best = from_bytes(payload[:DETECT_SAMPLE_BYTES]).best()
    if best is None or best.encoding is None:
        return None
    codec = codec_for_label(best.encoding)
    if codec is None:
        return None
    text, bad = _decode_counting_errors(payload, codec)  # detection saw a sample, not all of it
    return text, f"{display_name(codec)} (detected, lossy)" if bad else f"{display_name(codec)} (detected)"


def _decode_counting_errors(payload: bytes, codec: str) -> tuple[str, int]:
    """Decode, replacing bad bytes; returns the text and how many characters were replaced.

    A character cut at the very end is dropped, not counted: crawlers cut payloads at a byte limit.
    """
    try:
        return codecs.getincrementaldecoder(codec)().decode(payload, final=False), 0
    except UnicodeDecodeError:
        text = codecs.getincrementaldecoder(codec)(errors="replace").decode(payload, final=False)
        return text, max(text.count("\ufffd"), 1)


def _utf8(payload: bytes) -> str:
    """Strict UTF-8, dropping a character cut at the very end."""
    return codecs.getincrementaldecoder("utf-8")().decode(payload, final=False)


def _is_utf8(payload: bytes) -> bool:
    """Valid UTF-8, allowing a character cut at the very end."""
    try:
        _utf8(payload)
    except UnicodeDecodeError:
        return False
    return True


def _looks_like_utf16_32(payload: bytes) -> bool:
    """Only honour a UTF-16/32 declaration when ASCII markup shows the NUL padding it implies."""
    head = payload[:1024]
    return b"<\x00" in head or b"\x00<" in head
