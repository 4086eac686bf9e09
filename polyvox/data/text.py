"""Orthographic text normalisation, the one used for character CTC targets and for the native text form."""

from __future__ import annotations

import unicodedata

_KEEP_PUNCT = {"'", "-"}


def normalize_text(text: str) -> str:
    """NFC, lower case, punctuation and symbols removed (apostrophes and hyphens inside words kept), whitespace
    collapsed to single spaces: the orthographic form character CTC targets are made of."""
    text = unicodedata.normalize("NFC", text).lower().replace("\u2019", "'")
    out = []
    for ch in text:
        cat = unicodedata.category(ch)
        if ch.isspace() or (cat[0] in "PS" and ch not in _KEEP_PUNCT):
            out.append(" ")
        else:
            out.append(ch)
    words = [w.strip("'-") for w in "".join(out).split()]
    return " ".join(w for w in words if w)
