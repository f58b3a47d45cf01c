"""FineWeb2's final touches on kept text: ftfy, then removal of table-artifact lines.

FineWeb2 runs ftfy with encoding repairs only — nothing that normalises the text's form
(curly quotes, full-width CJK punctuation, ligatures and line breaks stay as written, because
models should see them) — and then replaces each run of lines made only of ``|`` (and spaces),
which trafilatura leaves behind from HTML tables, with an empty line.
"""

from __future__ import annotations

from collections.abc import Iterable

import ftfy

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
