"""Turn espeak-ng's ``--ipa --sep=_`` output into the manifest's phoneme string.

The manifest format is IPA segments separated by single spaces and words separated by
``" | "`` (:data:`polyvox.data.manifest.WORD_BOUNDARY`). espeak-ng 1.51 prints something close
to IPA but not quite; every rewrite below was found in its output for the corpus languages and
is listed, with examples, in ``docs/corpus.md`` (and tested in ``tests/test_ipa.py``):

1. language-switch flags such as ``(en)`` ``(de)`` are removed (:func:`language_switches`
   reports them, so the corpus can regenerate such utterances instead);
2. stress marks ``ˈ ˌ`` are removed: stress is suprasegmental, not a segment;
3. empty tokens left by ``--sep=_`` (leading ``_``, ``__``) are dropped;
4. espeak-internal notations are mapped to IPA by :data:`SEGMENT_MAP` (e.g. Hindi ``r.`` -> ``ɽ``),
   a trailing ``-`` (an espeak phoneme-variant marker) and ``#`` (voiceless, Icelandic) are
   rewritten, a segment written twice (``ee``, ``ss``) becomes one long segment (``eː``, ``sː``),
   a doubled modifier (``ʲʲ``, ``ːː``) becomes one, a glottal stop glued to a Danish vowel
   (``ʔe``) is split off, tie bars (``t͡s``) are dropped so affricates are spelled one way,
   Persian ``q 1`` (ق/غ) becomes ``ɢ``;
5. the length mark ``ː`` and other diacritics stay attached to their segment.

Segments that still contain a non-IPA character after this (e.g. espeak's ``??`` for a phoneme
without an IPA spelling) are dropped by :func:`clean_ipa` and reported by :func:`invalid_segments`.
"""

from __future__ import annotations

import re
import unicodedata

from polyvox.data.manifest import WORD_BOUNDARY

STRESS_MARKS = "ˈˌ"
LENGTH = "ː"
TIE_BARS = "\u0361\u035c"
_SWITCH_RE = re.compile(r"\(([a-z]{2,3}(?:-[a-z0-9]+)*)\)")

# espeak-ng notation -> IPA. Keys are whole segments after stress removal.
SEGMENT_MAP: dict[str, str] = {
    "r.": "ɽ",  # Hindi/Urdu/Bengali ड़ ڑ ড়: retroflex flap ("." = retroflex in espeak's phoneme names)
    "a.": "ɑ",  # Arabic: back allophone of /a/ next to emphatics
    "a.ː": "ɑː",
    "k^": "c",  # Macedonian ќ: palatal stop ("^" = palatal in espeak's names)
    "g^": "ɟ",  # Macedonian ѓ
    "ɡ^": "ɟ",
    'u"': "ʉ",  # Russian у after a soft consonant: centralised u ('"' = centralised)
    "sx": "ɧ",  # Swedish sj-sound
    "ε": "ɛ",  # Danish: Greek epsilon used for IPA open-mid e
    "?": "ʔ",  # Kirshenbaum glottal stop left unconverted (Danish)
    "ʲ": "j",  # Tamil/Telugu: a bare palatal glide before initial e
}

# Characters allowed in a segment, checked after NFD decomposition.
_IPA_LETTERS = set(
    "abcdefghijklmnopqrstuvwxyz"
    "æçðøħŋœθβχɐɑɒɓɔɕɖɗɘəɚɛɜɝɞɟɠɡɢɣɤɥɦɧɨɪɫɬɭɮɯɰɱɲɳɴɵɶɸɹɺɻɽɾʀʁʂʃʄʈʉʊʋʌʍʎʏʐʑʒʔʕʘʙʛʜʝʟʡʢʤʧⱱᵻ"
)
_IPA_MODIFIERS = set("ʰʱʲʷˠˤˀːˑⁿˡᵝ˞")


def _is_ipa_char(ch: str) -> bool:
    return ch in _IPA_LETTERS or ch in _IPA_MODIFIERS or "\u0300" <= ch <= "\u036f"


def is_ipa_segment(segment: str) -> bool:
    """True if every character of ``segment`` is an IPA letter, modifier letter or diacritic."""
    return bool(segment) and all(_is_ipa_char(c) for c in unicodedata.normalize("NFD", segment))


def language_switches(raw: str) -> list[str]:
    """Languages espeak-ng switched to inside ``raw`` (e.g. ``["en"]``), without the switch back
    to ``own`` language; the caller compares them with the voice's language."""
    return _SWITCH_RE.findall(raw)


def clean_segment(token: str) -> str:
    """One ``_``-separated espeak token -> one IPA segment ("" when nothing is left)."""
    seg = token.strip()
    for m in STRESS_MARKS:
        seg = seg.replace(m, "")
    seg = _SWITCH_RE.sub("", seg)
    for t in TIE_BARS:
        seg = seg.replace(t, "")
    if not seg or seg == "??":  # "??": espeak has no IPA for this phoneme; kept so it is reported
        return seg
    if seg in SEGMENT_MAP:
        return SEGMENT_MAP[seg]
    if len(seg) > 1 and "?" in seg and seg != "??":
        return clean_segment(seg.replace("?", "ʔ"))  # Danish "?a": unconverted glottal stop
    if len(seg) > 1 and seg.endswith("-"):  # espeak phoneme-variant marker (fr "a-", ar "s̪-")
        return clean_segment(seg[:-1])
    if len(seg) > 1 and seg.endswith("#"):  # Icelandic voiceless sonorant "l#" -> "l̥"
        return clean_segment(seg[:-1]) + "\u0325"
    while len(seg) > 1 and seg[-1] in _IPA_MODIFIERS and seg[-2] == seg[-1]:
        seg = seg[:-1]  # doubled modifier: "mʲʲ" -> "mʲ", "aːː" -> "aː"
    half = len(seg) // 2
    if len(seg) % 2 == 0 and half and seg[:half] == seg[half:]:
        return clean_segment(seg[:half]) + LENGTH  # same segment twice: "ee" -> "eː", "ss" -> "sː"
    return unicodedata.normalize("NFC", seg)


def _split_glottal(seg: str) -> list[str]:
    """Danish stød: espeak writes ``ʔe``; the glottal stop becomes its own segment."""
    if len(seg) > 1 and seg[0] == "ʔ" and seg[1] not in _IPA_MODIFIERS and not "\u0300" <= seg[1] <= "\u036f":
        return ["ʔ", seg[1:]]
    return [seg]


def word_segments(raw_word: str) -> list[str]:
    """The IPA segments of one whitespace-delimited espeak word such as ``"_ˈɪ_m_ɪ_dʒ"``."""
    out: list[str] = []
    for token in raw_word.split("_"):
        seg = clean_segment(token)
        if seg == "1" and out and out[-1] == "q":
            out[-1] = "ɢ"  # Persian ق/غ: espeak writes "q" then its phoneme "1"
        elif seg:
            out.extend(_split_glottal(seg))
    return out


def invalid_segments(raw: str) -> list[str]:
    """Segments of ``raw`` that are still not IPA after cleaning (e.g. ``??``)."""
    return [s for w in raw.split() for s in word_segments(w) if not is_ipa_segment(s)]


def clean_ipa(raw: str) -> str:
    """espeak-ng ``--ipa --sep=_`` output (one or more lines) -> ``"p h o n e s | w o r d"``.

    Words with no segments left (a bare language flag) disappear; non-IPA segments are dropped.
    """
    words = []
    for raw_word in raw.split():
        segs = [s for s in word_segments(raw_word) if is_ipa_segment(s)]
        if segs:
            words.append(" ".join(segs))
    return f" {WORD_BOUNDARY} ".join(words)
