"""FineWeb2's final touches on kept text: ftfy, then removal of table-artifact lines.

FineWeb2 runs ftfy with encoding repairs only — nothing that normalises the text's form
(curly quotes, full-width CJK punctuation, ligatures and line breaks stay as written, because
models should see them) — and then replaces each run of lines made only of ``|`` (and spaces),
which trafilatura leaves behind from HTML tables, with an empty line.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

import ftfy

from cc_curate.stages.base import BatchContext, Document, Stage

# Encoding repairs on; every form-normalising fix off (FineWeb2's choice).
FTFY_CONFIG = ftfy.TextFixerConfig(
    unescape_html="auto",
    remove_terminal_escapes=True,
    fix_encoding=True,
    restore_byte_a0=True,
    replace_lossy_sequences=True,
    decode_inconsistent_utf8=True,
    fix_c1_controls=True,
    fix_latin_ligatures=False,
    fix_character_width=False,
    uncurl_quotes=False,
    fix_line_breaks=False,
    fix_surrogates=True,
    remove_control_chars=True,
    normalization=None,
)


def fix_encoding(text: str) -> str:
    """Repair mojibake and stray control characters with ftfy, keeping the text's form."""
    return ftfy.fix_text(text, config=FTFY_CONFIG)


def remove_symbol_lines(text: str, symbols: Iterable[str] = ("|",), replace_char: str = "\n") -> str:
    """Replace every run of lines made only of ``symbols`` and spaces by ``replace_char``.

    Like datatrove's SymbolLinesFormatter; unlike it, a text without such a line is returned
    unchanged (datatrove re-joins every text's lines, normalising ``\\r\\n`` and dropping a final
    newline even when nothing was removed).
    """
    chars = "".join(symbols)
    if not any(c in text for c in chars):
        return text
    lines = text.splitlines()
    is_symbol_line = [bool(line.strip()) and not line.replace(" ", "").strip(chars) for line in lines]
    if not any(is_symbol_line):
        return text
    out: list[str] = []
    in_run = False
    for line, symbol_line in zip(lines, is_symbol_line):
        if not symbol_line:
            out.append(line)
            in_run = False
        elif not in_run:
            if replace_char:
                out.append(replace_char)
            in_run = True
    return "\n".join(out)


# A line made only of these characters is one ftfy cannot change with FTFY_CONFIG: printable
# ASCII except "&" (HTML entities), plus tab. Control characters, "\r" and all non-ASCII go to ftfy.
_FTFY_UNTOUCHABLE_LINE = re.compile(r"[\t\x20-\x25\x27-\x7e]*")
_FTFY_UNTOUCHABLE_TEXT = re.compile(r"[\t\n\x20-\x25\x27-\x7e]*")


def fix_encoding_lines(text: str) -> str:
    """``fix_encoding(text)``, exactly, with the lines ftfy cannot change kept out of its way.

    ftfy works one ``\n``-terminated line at a time and costs tens of microseconds per line even
    when it changes nothing; most lines of web text are plain ASCII. Its only state carried from
    line to line is HTML unescaping, switched off for good by the first line with a "<": when a
    text has both "<" and "&" it goes to ftfy whole, otherwise runs of consecutive lines that
    need it are fixed together and the rest is copied.
    """
    if "<" in text and "&" in text:
        return fix_encoding(text)
    if _FTFY_UNTOUCHABLE_TEXT.fullmatch(text):
        return text
    lines = text.split("\n")
    last = len(lines) - 1
    out: list[str] = []
    run: list[str] = []  # consecutive lines that go to ftfy, with their newlines
    for i, line in enumerate(lines):
        segment = line if i == last else line + "\n"
        if _FTFY_UNTOUCHABLE_LINE.fullmatch(line):
            if run:
                out.append(fix_encoding("".join(run)))
                run = []
            out.append(segment)
        else:
            run.append(segment)
    if run:
        out.append(fix_encoding("".join(run)))
    return "".join(out)


class TextFixes(Stage):
    """ftfy and table-symbol lines, on the documents no rule removed (FineWeb2 repairs kept text;
    a document a rule removed stays removed whatever dedup decides, so its text is published in
    ``_removed`` as extracted). Runs after every signal, hash and signature is computed."""

    name = "text_fixes"
    phase = "finish"
    doc = "ftfy encoding repairs and removal of table-symbol lines, on documents no rule removed"

    def process(self, doc: Document, params: Any, context: BatchContext) -> None:
        if doc.filter_reason is None:
            doc.text = remove_symbol_lines(fix_encoding_lines(doc.text or ""))
