"""The one IPA module: espeak-ng's symbol tables, and the two spellings polyvox derives from espeak's output.

* **Corpus spelling** (:func:`clean_ipa`): espeak-ng's ``--ipa --sep=_`` output -> the manifest's phoneme string,
  IPA segments separated by single spaces and words by ``" | "`` (:data:`polyvox.data.manifest.WORD_BOUNDARY`).
  Tie bars are dropped so affricates are spelled one way. The rules, each found in espeak-ng 1.51's output for the
  corpus languages, are listed with examples in ``docs/corpus.md``:

  1. language-switch flags such as ``(en)`` ``(de)`` are removed (:func:`language_switches`
     reports them, so the corpus can regenerate such utterances instead);
  2. stress marks ``ˈ ˌ`` are removed: stress is suprasegmental, not a segment;
  3. empty tokens left by ``--sep=_`` (leading ``_``, ``__``) are dropped;
  4. espeak-internal notations are mapped to IPA by :data:`SEGMENT_MAP` (e.g. Hindi ``r.`` -> ``ɽ``),
     a trailing ``-`` (an espeak phoneme-variant marker) and ``#`` (voiceless, Icelandic) are
     rewritten, a segment written twice (``ee``, ``ss``) becomes one long segment (``eː``, ``sː``),
     a doubled modifier (``ʲʲ``, ``ːː``) becomes one, a glottal stop glued to a Danish vowel
     (``ʔe``) is split off, Persian ``q 1`` (ق/غ) becomes ``ɢ``;
  5. the length mark ``ː`` and other diacritics stay attached to their segment.

  Segments that still contain a non-IPA character (espeak's ``??``) are dropped by :func:`clean_ipa` and reported
  by :func:`invalid_segments`.

* **panphon segments** (:func:`normalize_token`, :func:`parse_espeak`, :func:`normalize_segments`,
  :func:`phonemize`): espeak IPA (any of its languages) or manifest segments -> segments panphon has articulatory
  features for, with ties (``t͡ʃ``). Symbols that cannot be resolved are kept in place, returned and warned about,
  never dropped. The rules are listed in ``docs/phonology.md``. :func:`canonical_token` compares the two spellings.

Both use one table, :data:`SEGMENT_MAP` (extended by :data:`ESPEAK_TOKENS` for notations only the panphon side sees).
"""

from __future__ import annotations

import re
import unicodedata
import warnings
from typing import Iterable, Sequence

import numpy as np

from polyvox.data.articulatory import feature_matrix, feature_table, feature_vector, is_known
from polyvox.data.espeak import base_language, espeak_ipa, resolve_espeak_language
from polyvox.data.manifest import WORD_BOUNDARY
from polyvox.data.voice_tokens import (STRESS_MARKS, SWITCH_RE, TOKEN_REWRITES, joining_names, phoneme_name,
                                        voice_tokens)

LENGTH = "ː"
TIE_BARS = "\u0361\u035c"

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
    # Kirshenbaum leftovers of espeak's Kyrgyz (and other CLDR-text languages): X, tS, dZ, dental "["
    "X": "χ",
    "tS": "tʃ",
    "dZ": "dʒ",
    "t[": "t̪",
    "d[": "d̪",
    # espeak's Mandarin (cmn-latn-pinyin) phoneme names: "h" = aspirated, "." = retroflex / apical, ər = erhua
    "ph": "pʰ",
    "th": "tʰ",
    "kh": "kʰ",
    "tsh": "tsʰ",
    "tɕh": "tɕʰ",
    "ts.": "ʈʂ",
    "ts.h": "ʈʂʰ",
    "s.": "ʂ",
    "i.": "ɨ",
    "ər": "ə˞",
    "onɡ": "oŋ",  # the rhyme -ong, one token like the other rhymes (ei, uo, iɑ)
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
    return SWITCH_RE.findall(raw)


# espeak-ng writes tone 3 of vi and cmn (its pinyin voice) as "ɜ" glued to the rhyme ("aːɜ"); no espeak language glues
# the vowel ɜ after these (every corpus language's espeak output checked: only lb's diphthong "ɜɪ", with ɜ first)
_TONE_3_AFTER = set("aeiouyɛɔəɐɨʉɯɤøœæɑɒʌɪʊː")
_TONE_RHYMES = ("ər", "onɡ", "i.", "i\u032a")  # cmn rhyme tokens that end in a consonant letter and take tones too


def clean_segment(token: str) -> str:
    """One ``_``-separated espeak token -> one IPA segment ("" when nothing is left)."""
    seg = token.strip()
    for m in STRESS_MARKS:
        seg = seg.replace(m, "")
    seg = SWITCH_RE.sub("", seg)
    for t in TIE_BARS:
        seg = seg.replace(t, "")
    if not seg or seg == "??":  # "??": espeak has no IPA for this phoneme; kept so it is reported
        return seg
    if seg in SEGMENT_MAP:
        return SEGMENT_MAP[seg]
    if len(seg) > 1 and "-" in seg:  # espeak phoneme-variant marker (fr "a-", ar "s̪-", vi "e-1", cmn "o-ɜ")
        return clean_segment(seg.replace("-", ""))
    if len(seg) > 2 and seg[-1] == "ʲ" and (seg[-2].isdigit() or seg[-2] == "ɜ"):  # cmn "u5ʲ", "ɑɜʲ" before y
        return clean_segment(seg[:-1])
    if len(seg) > 1 and seg[-1].isdigit() and not seg[0].isdigit():  # tone numbers (th "a2", vi): not segments
        return clean_segment(seg.rstrip("0123456789"))
    if len(seg) > 1 and seg[-1] == "ɜ" and (seg[-2] in _TONE_3_AFTER or seg[:-1].endswith(_TONE_RHYMES)):
        return clean_segment(seg[:-1])  # vi "aːɜ", cmn "ərɜ": tone 3 (the digit 3 as ɜ)
    if len(seg) > 1 and "?" in seg and seg != "??":
        return clean_segment(seg.replace("?", "ʔ"))  # Danish "?a": unconverted glottal stop
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


def unjoined_tokens(raw: str, lang: str | None) -> list[str]:
    """Tokens of a joining voice's output (:data:`~polyvox.data.voice_tokens.JOINING_VOICE_PHONEMES`) that are not
    a sequence of its phonemes, so their segments are unknown; [] for every other language and for text read partly
    in another language (its phonemes are the other voice's: :func:`language_switches` reports them)."""
    names = joining_names(lang)
    if not names or language_switches(raw):
        return []
    bare = (phoneme_name(t) for w in raw.split() for t in voice_tokens(w, lang))
    return [t for t in bare if t and t not in names]


def word_segments(raw_word: str, lang: str | None = None) -> list[str]:
    """The IPA segments of one whitespace-delimited espeak word such as ``"_ˈɪ_m_ɪ_dʒ"`` (``lang``: the corpus
    language, for voices that join phonemes, :data:`~polyvox.data.voice_tokens.JOINING_VOICE_PHONEMES`)."""
    out: list[str] = []
    for token in voice_tokens(raw_word, lang):
        seg = clean_segment(token)
        if seg == "1" and out and out[-1] == "q":
            out[-1] = "ɢ"  # Persian ق/غ: espeak writes "q" then its phoneme "1"
        elif seg:
            out.extend(_split_glottal(seg))
    return out


def invalid_segments(raw: str, lang: str | None = None) -> list[str]:
    """Segments of ``raw`` that are still not IPA after cleaning (e.g. ``??``), and, for a voice that joins phonemes,
    tokens that are not its phonemes (:func:`unjoined_tokens`)."""
    bad = [s for w in raw.split() for s in word_segments(w, lang) if not is_ipa_segment(s)]
    return bad + unjoined_tokens(raw, lang)


def clean_ipa(raw: str, lang: str | None = None) -> str:
    """espeak-ng ``--ipa --sep=_`` output (one or more lines) -> ``"p h o n e s | w o r d"``.

    Words with no segments left (a bare language flag) disappear; non-IPA segments are dropped. ``lang`` (the corpus
    language) splits the joined tokens of the voices in :data:`~polyvox.data.voice_tokens.JOINING_VOICE_PHONEMES`.
    """
    words = []
    for raw_word in raw.split():
        segs = [s for s in word_segments(raw_word, lang) if is_ipa_segment(s)]
        if segs:
            words.append(" ".join(segs))
    return f" {WORD_BOUNDARY} ".join(words)


# --------------------------------------------------------------------------- panphon segments

TIE = "\u0361"  # combining double inverted breve: t͡ʃ
_STRESS = "ˈˌ'"
# Tonal espeak languages: tone numbers are written as digits, and tone 3 comes out as "ɜ"
# (espeak's ASCII-to-IPA table turns "3" into ɜ), glued to the end of the rhyme token.
TONAL_LANGUAGES = frozenset({"cmn", "yue", "hak", "nan", "vi", "th", "shn", "lo", "my", "zh"})

# Whole-token rewrites of espeak phoneme names that are not IPA (checked after stress/tone removal):
# the corpus cleaner's table (polyvox.data.ipa.SEGMENT_MAP, so both spell these alike) plus the
# notations of languages the corpus does not clean (cmn erhua, rhotic vowels, en-us barred i).
ESPEAK_TOKENS = {
    **SEGMENT_MAP,
    "ər": "ə˞",  # cmn erhua
    "ɚ": "ə˞",
    "ɚː": "ə˞",
    "ɝ": "ɜ˞",
    "ɝː": "ɜ˞",
    "ᵻ": "ɨ",  # en-us reduced barred i ("roses")
    "i.": "ɨ",  # cmn apical vowel after s., ts. (zhi, shi)
}
# Per-language whole-token rewrites, for espeak names that mean different things elsewhere.
ESPEAK_LANGUAGE_TOKENS = {"ky": {"oe": "ø"}}
# Single characters: ASCII/Kirshenbaum leftovers, ligatures, look-alikes.
ESPEAK_CHARS = {
    "g": "ɡ",
    ":": "ː",
    "S": "ʃ",
    "Z": "ʒ",
    "X": "χ",
    "A": "ɑ",
    "?": "ʔ",
    "ε": "ɛ",  # Greek epsilon (da)
    "`": "ʼ",  # Kirshenbaum ejective (am t`)
    "#": "\u0325",  # Kirshenbaum voiceless (is l#, n#)
    "[": "\u032a",  # Kirshenbaum dental (ky t[)
    "ʦ": "t͡s",
    "ʣ": "d͡z",
    "ʧ": "t͡ʃ",
    "ʤ": "d͡ʒ",
    "ʨ": "t͡ɕ",
    "ʥ": "d͡ʑ",
    "\u200d": TIE,  # zero-width joiner: espeak --ipa=3 affricates (t‍ʃ)
    "\u035c": TIE,  # tie below
    "\u203f": TIE,
    "-": "",  # espeak "unreleased/weak" variant marker (ko t-, fr ə-)
    "ᵝ": "",  # ja compressed ɯᵝ
    "ɚ": "ə˞",  # inside a longer token too (corpus diphthong "aɪɚ"); whole tokens: ESPEAK_TOKENS
    "ɝ": "ɜ˞",
}
# Kirshenbaum "." after a letter = retroflex.
RETROFLEX = {"t": "ʈ", "d": "ɖ", "s": "ʂ", "z": "ʐ", "n": "ɳ", "l": "ɭ", "r": "ɽ", "ɾ": "ɽ", "c": "ʈ"}
_STOPS = set("pbtdʈɖcɟkɡqɢ")
_FRICATIVES = set("fvθðszʃʒʂʐɕʑçʝxɣχʁɬɮ")
# Diacritics removed one at a time (this order) when a segment is otherwise unknown to panphon.
# (old, new) rewrites applied cumulatively, one per step, while a segment is unknown to panphon:
# laminal -> dental first (be t̻͡s̪ʲ -> t̪͡s̪ʲ), then minor diacritics are removed.
FALLBACK = [("\u033b", "\u032a"), ("\u033b", ""), ("\u033a", ""), ("\u030a", ""), ("\u0325", ""),
            ("\u031f", ""), ("\u0320", ""), ("\u031d", ""), ("\u031e", ""), ("\u0318", ""),
            ("\u0319", ""), ("ʲ", ""), ("\u0303", ""), ("˞", ""), ("ˑ", ""), ("ː", ""), ("\u0329", ""),
            ("\u032f", ""), ("\u032a", "")]
_LANG_SWITCH = re.compile(r"\(([a-z]{2,3}(?:-[a-z0-9]+)*)\)", re.I)
_DIGITS = re.compile(r"[0-9]")


def token_features(token: str) -> np.ndarray | None:
    """Features of a vocabulary token: the segment itself, or the mean over the known segments it
    normalizes to (a diphthong "aɪ" gets the mean of a and ɪ). None if nothing in it is known."""
    if is_known(token):
        return feature_vector(token).astype(np.float64)
    segs, _ = _normalize_token(token, None, strict=False)
    known = [s for s in segs if is_known(s)]
    if not known:
        return None
    return feature_matrix(known).astype(np.float64).mean(axis=0)



# --------------------------------------------------------------------------- normalization


def nfc(s: str) -> str:
    return unicodedata.normalize("NFC", s)


_base_lang = base_language


def _map_chars(token: str) -> str:
    """Character-level rewrites: stress, ASCII/Kirshenbaum symbols, retroflex '.', 'h' aspiration."""
    out: list[str] = []
    for ch in unicodedata.normalize("NFD", token):
        if ch in _STRESS:
            continue
        if ch == ".":
            if out and out[-1] in RETROFLEX:
                if len(out) >= 2 and out[-1] in _FRICATIVES and out[-2] in _STOPS & set(RETROFLEX):
                    out[-2] = RETROFLEX[out[-2]]  # affricate "ts." -> ʈʂ
                out[-1] = RETROFLEX[out[-1]]
            elif out and out[-1] == "i":
                out[-1] = "ɨ"
            continue
        if ch == "^":  # espeak palatalized/"soft" variant: ʲ on consonants, nothing on vowels
            if out and is_known(out[-1]) and feature_vector(out[-1])[0] != 1:
                out.append("ʲ")
            continue
        if ch == "h" and out and (out[-1] in _STOPS or (out[-1] in _FRICATIVES and len(out) >= 2
                                                         and out[-2] in _STOPS)):
            out.append("ʰ")  # inside one espeak phoneme "h" after a stop/affricate is aspiration ("kh")
            continue
        out.append(ESPEAK_CHARS.get(ch, ch))
    s = unicodedata.normalize("NFD", "".join(out))
    s = re.sub("ː+", "ː", s)
    s = re.sub("ʲ+", "ʲ", s)
    return s


def _split_known(s: str) -> list[str] | None:
    """Greedy longest-match split into panphon segments; None if any character is left over."""
    ft = feature_table()
    pieces, rest = [], unicodedata.normalize("NFD", s)
    while rest:
        m = ft.longest_one_seg_prefix(rest, False)
        if not m:
            return None
        pieces.append(m)
        rest = rest[len(m):]
    return pieces


def _resolve(s: str) -> list[str] | None:
    """Known segment(s) for one espeak phoneme after character rewrites, or None."""
    if not s:
        return []
    if is_known(s):
        return [s]
    # geminate / doubled vowel written twice: "ss", "aa", "ʈʰʈʰ", "t͡st͡s" -> one long segment
    half = len(s) // 2
    if len(s) % 2 == 0 and s[:half] == s[half:]:
        single = _resolve(s[:half])
        if single and len(single) == 1:
            long_ = single[0] if single[0].endswith("ː") else single[0] + "ː"
            return [long_] if is_known(long_) else single
    pieces = _split_known(s)
    if pieces is None:
        return None
    # stop + fricative inside one espeak phoneme is an affricate: "tʃ" -> t͡ʃ, "tsʰ" -> t͡sʰ
    if len(pieces) == 2 and pieces[0] and pieces[0][0] in _STOPS and pieces[1][0] in _FRICATIVES:
        tied = pieces[0] + TIE + pieces[1]
        if is_known(tied):
            return [tied]
    return pieces


def _normalize_token(token: str, lang: str | None, strict: bool) -> tuple[list[str], list[str]]:
    base = _base_lang(lang)
    s = unicodedata.normalize("NFD", token.strip())
    s = "".join(c for c in s if c not in _STRESS)
    if "??" in s:  # espeak's "no phoneme for this letter"
        return [nfc(s)], [nfc(s)]
    if base in TONAL_LANGUAGES:
        s = re.sub("[0-9]", "", s).replace("nɡ", "ŋ").replace("ng", "ŋ")  # rhymes "onɡ5" -> o ŋ
        if len(s) > 2 and s.endswith("ɜʲ"):  # tone 3 before y (cmn "ɑɜʲ"): the ʲ is not the vowel's
            s = s[:-2]
        elif len(s) > 1 and s.endswith("ɜ"):  # tone 3, see TONAL_LANGUAGES
            s = s[:-1]
    else:
        s = _DIGITS.sub("", s)
    table = {**ESPEAK_TOKENS, **ESPEAK_LANGUAGE_TOKENS.get(base, {})}
    s = nfc(s)
    s = unicodedata.normalize("NFD", table.get(s, s))
    s = _map_chars(s)
    s = unicodedata.normalize("NFD", table.get(nfc(s), s))
    if not s:
        return [], []
    cur = s
    while True:
        segs = _resolve(cur)
        if segs is not None:
            return [nfc(x) for x in segs], []
        if strict:
            break
        step = next(((a, b) for a, b in FALLBACK if a in cur), None)
        if step is None:
            break
        cur = cur.replace(step[0], step[1], 1)
    return [nfc(s)], [nfc(s)]


def normalize_token(token: str, lang: str | None = None, *, strict: bool = False) -> tuple[list[str], list[str]]:
    """One espeak phoneme (or one manifest segment) -> (panphon-known segments, unknown symbols).

    A token may give 0 segments (a lone stress or tone mark), 1, or several (diphthongs "aɪ" ->
    a ɪ). An unresolvable token comes back unchanged in ``segments`` and is listed in ``unknown``.
    ``strict`` turns off the diacritic-stripping fallback (see docs/phonology.md).
    """
    return _normalize_token(token, lang, strict)


def warn_unknown(unknown: Iterable[str], where: str) -> list[str]:
    unk = sorted(set(unknown))
    if unk:
        warnings.warn(f"{where}: {len(unk)} symbol(s) unknown to panphon kept as-is: {' '.join(unk)}",
                      stacklevel=3)
    return unk


def normalize_segments(segments: str | Sequence[str], lang: str | None = None, *, strict: bool = False,
                       warn: bool = True) -> tuple[list[str], list[str]]:
    """Manifest-style segments ("h ə l oʊ | w ɜː l d" or a list) -> (known segments, unknown).

    ``"|"`` is kept. Returns the normalized list and the sorted unknown symbols (also warned)."""
    toks = segments.split() if isinstance(segments, str) else list(segments)
    out, unknown = [], []
    for t in toks:
        if t == WORD_BOUNDARY:
            out.append(t)
            continue
        segs, unk = _normalize_token(t, lang, strict)
        out += segs
        unknown += unk
    return out, (warn_unknown(unknown, f"normalize_segments(lang={lang})") if warn else sorted(set(unknown)))


def parse_espeak(output: str, lang: str | None = None, *, sep: str = "_", drop_foreign: bool = False,
                 strict: bool = False, warn: bool = True) -> tuple[list[str], list[str]]:
    """Raw ``espeak-ng -q --ipa --sep=_`` output -> (segments with "|" between words, unknown).

    Without ``sep`` in the text (plain ``--ipa`` or ``--ipa=3``/``--tie``) words are split by
    panphon's longest match, so affricates are only joined when espeak wrote a tie (or ZWJ).
    Language-switch markers like ``(en)`` are removed; with ``drop_foreign`` the words espeak read
    in another language are dropped too (used for inventories).
    """
    base = _base_lang(lang)
    cur_lang, words = base, []
    for chunk in output.split():
        parts = _LANG_SWITCH.split(chunk)
        # parts alternates text, lang, text, ...; a word belongs to the language active at its start
        word_tokens: list[str] = []
        foreign = bool(base) and cur_lang != base
        for i, p in enumerate(parts):
            if i % 2 == 1:
                cur_lang = _base_lang(p)
                if not word_tokens:
                    foreign = bool(base) and cur_lang != base
                continue
            if p:
                word_tokens.append(p)
        if word_tokens and not (drop_foreign and foreign):
            words.append("".join(word_tokens))
    out, unknown = [], []
    for w in words:
        segs: list[str] = []
        if sep and sep in w:
            tokens = w.split(sep)
            if rewrite := TOKEN_REWRITES.get(base):
                tokens = rewrite([t for t in tokens if t])
            for tok in tokens:
                if not tok:
                    continue
                if segs and segs[-1] == "q" and tok == "1":  # fa ق/غ: espeak writes "q" then "1"
                    segs[-1] = "ɢ"
                    continue
                if segs and _is_modifier(tok) and tok not in ESPEAK_TOKENS:  # lone "ː": previous phone
                    tok = segs.pop() + tok
                s, u = _normalize_token(tok, lang, strict)
                segs += s
                unknown += u
        else:
            segs, u = _normalize_unsegmented(w, lang, strict)
            unknown += u
        if segs:
            if out:
                out.append(WORD_BOUNDARY)
            out += segs
    return out, (warn_unknown(unknown, f"parse_espeak(lang={lang})") if warn else sorted(set(unknown)))


def _is_modifier(tok: str) -> bool:
    c = unicodedata.normalize("NFD", tok.lstrip(_STRESS))[:1]
    return bool(c) and (unicodedata.category(c) in ("Lm", "Mn", "Sk") or c in "#`[^") and c not in _STRESS


def _normalize_unsegmented(word: str, lang: str | None, strict: bool) -> tuple[list[str], list[str]]:
    """A whole word without phoneme separators: longest-match segmentation, unknown chars reported."""
    s = unicodedata.normalize("NFD", word)
    s = "".join(c for c in s if c not in _STRESS)
    s = re.sub("[0-9]", "", s)
    s = "".join(ESPEAK_CHARS.get(c, c) for c in s)
    ft = feature_table()
    segs, unknown, rest = [], [], s
    while rest:
        m = ft.longest_one_seg_prefix(rest, False)
        if m:
            segs.append(nfc(m))
            rest = rest[len(m):]
        elif rest[0] == TIE:  # a tie panphon has no joint segment for (espeak ZWJ in "ə‍ʊ")
            rest = rest[1:]
        else:
            # an unknown char: try the token rules on it before giving up
            one, u = _normalize_token(rest[0], lang, strict)
            segs += one
            unknown += u
            rest = rest[1:]
    return segs, unknown



def phonemize(text: str | Sequence[str], lang: str, *, drop_foreign: bool = False,
              warn: bool = True) -> tuple[list[str], list[str]]:
    """espeak-ng + :func:`parse_espeak`: text -> (known segments with "|", unknown symbols)."""
    code = resolve_espeak_language(lang)
    return parse_espeak(espeak_ipa(text, code), code, drop_foreign=drop_foreign, warn=warn)




def canonical_token(token: str) -> str:
    """Spelling-independent key of a phone token: its normalized segments joined by spaces, so
    "tʃ" (polyvox.data.ipa drops tie bars) and "t͡ʃ" compare equal."""
    segs, _ = _normalize_token(token, None, strict=False)
    return " ".join(segs) if segs else nfc(token)

