"""Romanized text with ``uroman`` (offline; ships its tables): any script to the Latin alphabet, for cascades whose text
classifier must read languages written in scripts it never trained on.

    romanize("включи свет", "ru")  ->  "vklyuchi svet"

One :class:`uroman.Uroman` per process (loading its tables takes ~2 s); ISO 639-1 codes of polyvox manifests map to
the ISO 639-3 codes uroman's language-specific rules use, through pycountry.
"""

from __future__ import annotations

import functools
import unicodedata


@functools.lru_cache(maxsize=1)
def _uroman():
    import uroman

    return uroman.Uroman()


@functools.lru_cache(maxsize=None)
def iso639_3(code: str) -> str | None:
    """``"ru"`` -> ``"rus"``, ``"pt-br"`` -> ``"por"``; a 3-letter code is kept; None when pycountry does not know it."""
    import pycountry

    base = code.lower().replace("_", "-").split("-")[0]
    if len(base) == 3:
        return base
    lang = pycountry.languages.get(alpha_2=base)
    return getattr(lang, "alpha_3", None)


def romanize(text: str, language: str | None = None) -> str:
    """``text`` in Latin letters, lower-cased and NFC-normalised (so romanized forms of one word compare equal);
    ``language`` (ISO 639-1 or -3) selects uroman's language-specific rules where it has them."""
    out = _uroman().romanize_string(text, lcode=iso639_3(language) if language else None)
    return unicodedata.normalize("NFC", out).lower().strip()
