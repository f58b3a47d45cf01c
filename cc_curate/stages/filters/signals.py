"""Which recipe threshold each filter signal is tested against, and from which side.

Shared by the report (thresholds drawn on the distributions) and calibration (thresholds
proposed from them). Bound "max": documents above the threshold are removed; "min": below.
"""

from __future__ import annotations

import re

SIGNAL_THRESHOLDS: dict[str, list[tuple[str, str, str]]] = {
    "dup_para_frac": [("gopher_repetition", "dup_para_frac", "max")],
    "dup_para_char_frac": [("gopher_repetition", "dup_para_char_frac", "max")],
    "dup_line_frac": [("gopher_repetition", "dup_line_frac", "max")],
    "dup_line_char_frac": [("gopher_repetition", "dup_line_char_frac", "max")],
    "line_punct_ratio": [("fineweb_quality", "line_punct_thr", "min")],
    "short_line_ratio": [("fineweb_quality", "short_line_thr", "max")],
    "char_dup_ratio": [("fineweb_quality", "char_duplicates_ratio", "max")],
    "list_ratio": [("fineweb_quality", "new_line_ratio", "max")],
    "gopher_words": [("gopher_quality", "min_doc_words", "min"), ("gopher_quality", "max_doc_words", "max")],
    "gopher_avg_word_length": [("gopher_quality", "min_avg_word_length", "min"),
                               ("gopher_quality", "max_avg_word_length", "max")],
    "gopher_hash_ratio": [("gopher_quality", "max_symbol_word_ratio", "max")],
    "gopher_ellipsis_ratio": [("gopher_quality", "max_symbol_word_ratio", "max")],
    "gopher_bullet_lines_ratio": [("gopher_quality", "max_bullet_lines_ratio", "max")],
    "gopher_end_ellipsis_lines_ratio": [("gopher_quality", "max_ellipsis_lines_ratio", "max")],
    # despite the key's name, the share of words with a letter must reach it
    "gopher_alpha_words_ratio": [("gopher_quality", "max_non_alpha_words_ratio", "min")],
    "gopher_stop_words": [("gopher_quality", "min_stop_words", "min")],
}
# Per-n signals (top_2_gram, duplicated_5_n_grams) and their [[n, threshold], ...] recipe keys.
NGRAM_SIGNAL = re.compile(r"(?P<kind>top|duplicated)_(?P<n>\d+)_(n_grams|gram)")
NGRAM_THRESHOLDS = {"top": ("gopher_repetition", "top_n_grams"), "duplicated": ("gopher_repetition", "dup_n_grams")}
