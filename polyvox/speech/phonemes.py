"""Phonology layer for cross-lingual phone recognition (Xu, Baevski & Auli 2021).

Four small groups of pure functions:

* **Segmentation / normalization** of espeak-ng IPA into segments that panphon knows
  (:func:`normalize_token`, :func:`parse_espeak`, :func:`normalize_segments`). Segments are NFC
  strings; word boundaries are ``"|"``. Symbols that cannot be resolved are kept in place, returned
  and warned about, never dropped. The rules are listed in ``docs/phonology.md``.
* **Articulatory features** per segment (panphon's 24 SPE-style features in {-1, 0, +1}) and
  feature distances (:func:`feature_vector`, :func:`feature_distance`).
* **Inventories**: from a manifest, a user file, or espeak-ng for any of its languages
  (:func:`inventory_from_manifest`, :func:`read_inventory`, :func:`espeak_inventory`).
* **Zero-shot decoding helpers** on CTC log-posteriors ``(T, V)`` (numpy or torch):
  :func:`restrict_to_inventory` + :func:`apply_mask`, :func:`nearest_phone_mapping` +
  :func:`mapping_matrix` + :func:`map_log_probs`.
* **Metrics**: :func:`phone_error_rate`, :func:`phone_feature_error_rate`, :func:`oov_rate`.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import re
import shutil
import subprocess
import unicodedata
import warnings
from collections import Counter
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import numpy as np

from polyvox.data.ipa import SEGMENT_MAP
from polyvox.data.paths import default_cache_dir

WORD_BOUNDARY = "|"
# Tokens every decoding mode keeps: CTC blank (under its usual names) and the word boundary.
SPECIAL_TOKENS = ("<blank>", "<pad>", "<b>", WORD_BOUNDARY)

log = logging.getLogger(__name__)

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


class UnknownSegmentError(KeyError):
    """A segment panphon has no features for."""


# --------------------------------------------------------------------------- panphon access


@functools.lru_cache(maxsize=1)
def feature_table():
    """The shared panphon FeatureTable (built once, ~1 s)."""
    import panphon

    return panphon.FeatureTable()


def feature_names() -> list[str]:
    """panphon's feature names in vector order (24: syl, son, cons, ..., hitone, hireg)."""
    return list(feature_table().names)


@functools.lru_cache(maxsize=1)
def feature_weights() -> np.ndarray:
    """panphon's feature saliences aligned to :func:`feature_names` by name, shape (F,).

    panphon's own ``weighted_*`` distances zip its weight file with the feature list although the
    two are in different orders; we align by name. Tone features (no weight in the file) get 0.125.
    """
    import csv
    from importlib.resources import files

    with files("panphon").joinpath("data", "feature_weights.csv").open() as f:
        rows = list(csv.reader(f))
    by_name = dict(zip(rows[0], map(float, rows[1])))
    return np.array([by_name.get(n, 0.125) for n in feature_names()], dtype=np.float64)


def is_known(segment: str) -> bool:
    """True if panphon has features for exactly this segment (``fts`` alone is no test: it
    returns an empty dict rather than failing for unknown symbols)."""
    return bool(segment) and feature_table().seg_known(unicodedata.normalize("NFD", segment))


def feature_vector(segment: str) -> np.ndarray:
    """Articulatory features of one segment, shape (F,) int8 in {-1, 0, +1}.

    Raises UnknownSegmentError for a symbol panphon does not know (normalize it first)."""
    return _feature_vector(unicodedata.normalize("NFC", segment)).copy()


@functools.lru_cache(maxsize=4096)
def _feature_vector(segment: str) -> np.ndarray:
    nfd = unicodedata.normalize("NFD", segment)
    ft = feature_table()
    if not ft.seg_known(nfd):
        raise UnknownSegmentError(f"panphon has no features for segment {segment!r}; "
                                  "normalize it with polyvox.speech.phonemes.normalize_token first")
    seg = ft.fts(nfd)
    return np.array([seg[n] for n in ft.names], dtype=np.int8)


def feature_matrix(segments: Sequence[str]) -> np.ndarray:
    """Stacked :func:`feature_vector` rows, shape (N, F)."""
    if not segments:
        return np.zeros((0, len(feature_names())), dtype=np.int8)
    return np.stack([feature_vector(s) for s in segments])


def feature_distance(a: str | np.ndarray, b: str | np.ndarray, *, weighted: bool = True) -> float:
    """Distance in [0, 1] between two segments (or feature vectors).

    ``weighted``: panphon-salience-weighted, |a-b|/2 per feature (so 0 vs +/- counts half);
    otherwise Hamming: the share of features that differ (panphon's ``hamming_substitution_cost``).
    """
    va = feature_vector(a) if isinstance(a, str) else np.asarray(a)
    vb = feature_vector(b) if isinstance(b, str) else np.asarray(b)
    if weighted:
        w = feature_weights()
        return float((w * np.abs(va.astype(float) - vb) / 2).sum() / w.sum())
    return float(np.mean(va != vb))


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


def _nfc(s: str) -> str:
    return unicodedata.normalize("NFC", s)


def _base_lang(lang: str | None) -> str:
    return (lang or "").lower().split("-")[0]


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
        return [_nfc(s)], [_nfc(s)]
    if base in TONAL_LANGUAGES:
        s = re.sub("[0-9]", "", s).replace("nɡ", "ŋ").replace("ng", "ŋ")  # rhymes "onɡ5" -> o ŋ
        if len(s) > 1 and s.endswith("ɜ"):  # tone 3, see TONAL_LANGUAGES
            s = s[:-1]
    else:
        s = _DIGITS.sub("", s)
    table = {**ESPEAK_TOKENS, **ESPEAK_LANGUAGE_TOKENS.get(base, {})}
    s = _nfc(s)
    s = unicodedata.normalize("NFD", table.get(s, s))
    s = _map_chars(s)
    s = unicodedata.normalize("NFD", table.get(_nfc(s), s))
    if not s:
        return [], []
    cur = s
    while True:
        segs = _resolve(cur)
        if segs is not None:
            return [_nfc(x) for x in segs], []
        if strict:
            break
        step = next(((a, b) for a, b in FALLBACK if a in cur), None)
        if step is None:
            break
        cur = cur.replace(step[0], step[1], 1)
    return [_nfc(s)], [_nfc(s)]


def normalize_token(token: str, lang: str | None = None, *, strict: bool = False) -> tuple[list[str], list[str]]:
    """One espeak phoneme (or one manifest segment) -> (panphon-known segments, unknown symbols).

    A token may give 0 segments (a lone stress or tone mark), 1, or several (diphthongs "aɪ" ->
    a ɪ). An unresolvable token comes back unchanged in ``segments`` and is listed in ``unknown``.
    ``strict`` turns off the diacritic-stripping fallback (see docs/phonology.md).
    """
    return _normalize_token(token, lang, strict)


def _warn_unknown(unknown: Iterable[str], where: str) -> list[str]:
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
    return out, (_warn_unknown(unknown, f"normalize_segments(lang={lang})") if warn else sorted(set(unknown)))


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
            for tok in w.split(sep):
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
    return out, (_warn_unknown(unknown, f"parse_espeak(lang={lang})") if warn else sorted(set(unknown)))


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
            segs.append(_nfc(m))
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


# --------------------------------------------------------------------------- espeak


def _espeak_bin() -> str:
    exe = shutil.which("espeak-ng") or shutil.which("espeak")
    if exe is None:
        raise FileNotFoundError("espeak-ng not found on PATH; install it (apt-get install espeak-ng)")
    return exe


@functools.lru_cache(maxsize=1)
def espeak_version() -> str:
    out = subprocess.run([_espeak_bin(), "--version"], capture_output=True, text=True).stdout
    m = re.search(r"(\d+\.\d+(?:\.\d+)?)", out)
    return m.group(1) if m else "unknown"


@functools.lru_cache(maxsize=1)
def espeak_voices() -> dict[str, str]:
    """espeak-ng language code -> voice name, from ``espeak-ng --voices``."""
    out = subprocess.run([_espeak_bin(), "--voices"], capture_output=True, text=True, check=True).stdout
    voices = {}
    for line in out.splitlines()[1:]:
        parts = line.split()
        if len(parts) >= 5:
            voices[parts[1]] = parts[3].replace("_", " ")
            # the voice file name is a code espeak accepts too ("en" for en-gb, file gmw/en)
            voices.setdefault(parts[4].rsplit("/", 1)[-1], parts[3].replace("_", " "))
    return voices


def resolve_espeak_language(lang: str) -> str:
    """An espeak-ng language code for ``lang``: a code ("sw"), a voice name ("Swahili"), or a
    code with a region espeak lacks ("de-AT" -> "de"). Raises ValueError listing close matches."""
    voices = espeak_voices()
    if lang in voices:
        return lang
    low = lang.lower()
    for code, name in voices.items():
        if low in (code.lower(), name.lower()):
            return code
    if _base_lang(lang) in voices:
        return _base_lang(lang)
    close = sorted(c for c, n in voices.items() if c.startswith(low[:2]) or n.lower().startswith(low[:3]))
    raise ValueError(f"espeak-ng has no language {lang!r}" + (f"; close: {', '.join(close)}" if close else "")
                     + "; see `espeak-ng --voices`")


def espeak_ipa(text: str | Sequence[str], lang: str, *, sep: str = "_") -> str:
    """Raw espeak-ng IPA for a text (or words, joined by spaces), with phonemes separated by ``sep``."""
    if not isinstance(text, str):
        text = " ".join(text)
    cmd = [_espeak_bin(), "-q", "--ipa", "-v", lang] + ([f"--sep={sep}"] if sep else [])
    p = subprocess.run(cmd, input=text, capture_output=True, text=True)
    if p.returncode != 0:
        raise RuntimeError(f"espeak-ng -v {lang} failed: {p.stderr.strip()}")
    return p.stdout


def phonemize(text: str | Sequence[str], lang: str, *, drop_foreign: bool = False,
              warn: bool = True) -> tuple[list[str], list[str]]:
    """espeak-ng + :func:`parse_espeak`: text -> (known segments with "|", unknown symbols)."""
    code = resolve_espeak_language(lang)
    return parse_espeak(espeak_ipa(text, code), code, drop_foreign=drop_foreign, warn=warn)


# espeak code -> wordfreq code where they differ. Not cmn/yue -> zh: espeak-ng 1.51 reads most Han
# characters as English letter names with tone digits, so Chinese inventories come from numbers.
_WORDFREQ_CODES = {"no": "nb", "hbs": "sh", "tl": "fil"}
_SYLLABLE_ONSETS = ["", "b", "c", "d", "f", "g", "h", "j", "k", "l", "m", "n", "p", "q", "r", "s", "t", "v",
                    "w", "x", "y", "z", "ch", "sh", "th", "dh", "gh", "kh", "ny", "ng", "mb", "nd", "ts", "dz"]


def sample_words(lang: str, n_words: int = 300) -> tuple[list[str], str]:
    """Words to phonemize for an inventory: wordfreq's most frequent words when it covers the
    language, else Latin CV pseudo-syllables read by espeak's letter-to-sound rules (a voice that
    cannot read Latin script switches language, and :func:`espeak_inventory` drops those words);
    plus numbers (num2words when it knows the language, else digits espeak reads aloud).
    Returns (words, description of the source)."""
    words: list[str] = []
    source = []
    try:
        import wordfreq

        avail = set(wordfreq.available_languages())
        for cand in (lang, lang.lower(), _base_lang(lang), _WORDFREQ_CODES.get(_base_lang(lang))):
            if cand in avail:
                words = [w for w in wordfreq.top_n_list(cand, n_words * 2) if w.isalpha()][:n_words]
                source.append(f"wordfreq:{cand}")
                break
    except ImportError:
        pass
    if not words:
        words = [c + v for c in _SYLLABLE_ONSETS for v in "aeiou"]
        source.append("syllables")
    numbers = list(range(0, 21)) + list(range(30, 101, 10)) + [1000]
    try:
        from num2words import num2words

        words += [num2words(i, lang=_base_lang(lang)) for i in numbers]
        source.append("num2words")
    except (ImportError, NotImplementedError, KeyError, ValueError, TypeError):
        words += [str(i) for i in numbers]  # espeak reads digits in the voice's language
        source.append("digits")
    return words, "+".join(source)


def espeak_inventory(lang: str, *, n_words: int = 300, min_count: int = 1,
                     cache_dir: str | os.PathLike | None = None, refresh: bool = False) -> list[str]:
    """The phone inventory espeak-ng uses for ``lang`` (any of its languages), sorted.

    Phonemizes :func:`sample_words` (words espeak reads in another language are dropped) and keeps
    segments seen at least ``min_count`` times. Cached as JSON (with counts) under
    ``cache_dir/inventories`` (default :func:`default_cache_dir`), keyed by espeak version.
    """
    code = resolve_espeak_language(lang)
    cache = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    path = cache / "inventories" / f"espeak-{espeak_version()}-{code}-{n_words}.json"
    data = None
    if path.exists() and not refresh:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            log.warning("ignoring unreadable inventory cache %s", path)
    if data is None:
        words, source = sample_words(code, n_words)
        segs, unknown = parse_espeak(espeak_ipa(words, code), code, drop_foreign=True, warn=False)
        counts = Counter(s for s in segs if s != WORD_BOUNDARY)
        if not counts:
            raise ValueError(f"espeak-ng produced no {code} phones for the sample words ({source}); "
                             "give the inventory as a file instead (read_inventory)")
        data = {"language": code, "espeak": espeak_version(), "source": source, "n_words": len(words),
                "unknown": unknown, "counts": dict(sorted(counts.items()))}
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(json.dumps(data, ensure_ascii=False, indent=1), encoding="utf-8")
        os.replace(tmp, path)
    if data.get("unknown"):
        _warn_unknown(data["unknown"], f"espeak_inventory({code})")
    return sorted(p for p, c in data["counts"].items() if c >= min_count)


# --------------------------------------------------------------------------- inventories


def inventory_from_manifest(manifest: str | os.PathLike | Iterable[Any], *, normalize: bool = False,
                            language: str | None = None) -> list[str]:
    """Sorted set of phones over a manifest's rows (a path or Utterances), "|" excluded.

    ``language`` keeps only that language's rows; ``normalize`` passes phones through
    :func:`normalize_segments` (for manifests not made by polyvox)."""
    from polyvox.data.manifest import read_manifest

    utts = read_manifest(manifest) if isinstance(manifest, (str, os.PathLike)) else list(manifest)
    phones: set[str] = set()
    for u in utts:
        if language is not None and u.language != language:
            continue
        segs = u.phoneme_list(keep_word_boundary=False)
        if normalize:
            segs, _ = normalize_segments(segs, u.language, warn=False)
        phones.update(_nfc(s) for s in segs if s != WORD_BOUNDARY)
    return sorted(phones)


def read_inventory(path: str | os.PathLike) -> list[str]:
    """Phones from a user file: a JSON list (or {"phones": [...]}) or text, one phone per line
    (blank lines and ``#`` comments skipped). Sorted, NFC, duplicates removed."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: inventory file not found")
    text = path.read_text(encoding="utf-8")
    if path.suffix.lower() == ".json" or text.lstrip().startswith(("[", "{")):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as e:
            raise ValueError(f"{path}: not valid JSON ({e.msg} at line {e.lineno})") from None
        if isinstance(data, dict):
            data = data.get("phones", data.get("inventory"))
        if not isinstance(data, list) or not all(isinstance(p, str) and p.strip() for p in data):
            raise ValueError(f"{path}: expected a JSON list of phone strings or {{\"phones\": [...]}}")
        phones = [p.strip() for p in data]
    else:
        phones = []
        for lineno, line in enumerate(text.splitlines(), 1):
            line = line.split("#", 1)[0].strip()
            if not line:
                continue
            if len(line.split()) != 1:
                raise ValueError(f"{path}:{lineno}: expected one phone per line, got {line!r}")
            phones.append(line)
    if not phones:
        raise ValueError(f"{path}: no phones in inventory file")
    return sorted({_nfc(p) for p in phones})


def write_inventory(path: str | os.PathLike, phones: Iterable[str]) -> Path:
    """Write phones one per line (the text format :func:`read_inventory` reads)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(p + "\n" for p in sorted(set(phones))), encoding="utf-8")
    return path


# --------------------------------------------------------------------------- zero-shot decoding


def canonical_token(token: str) -> str:
    """Spelling-independent key of a phone token: its normalized segments joined by spaces, so
    "tʃ" (polyvox.data.ipa drops tie bars) and "t͡ʃ" compare equal."""
    segs, _ = _normalize_token(token, None, strict=False)
    return " ".join(segs) if segs else _nfc(token)


def restrict_to_inventory(vocab: Sequence[str], inventory: Iterable[str],
                          keep: Iterable[str] = SPECIAL_TOKENS) -> np.ndarray:
    """Boolean mask (V,): True for vocab tokens in the target inventory and for ``keep`` tokens
    (blank, word boundary). Use with :func:`apply_mask` before CTC decoding."""
    keep = set(keep)
    allowed = {canonical_token(p) for p in inventory}
    mask = np.array([t in keep or canonical_token(t) in allowed for t in vocab], dtype=bool)
    if not mask.any():
        raise ValueError("no vocabulary token is in the inventory (check blank/word-boundary names)")
    return mask


def apply_mask(log_probs, mask, *, renormalize: bool = True):
    """Set masked-out columns of log-posteriors (T, V) (or (B, T, V)) to -inf and renormalize.

    Works on numpy arrays and torch tensors; returns the same kind."""
    if _is_torch(log_probs):
        import torch

        m = torch.as_tensor(np.asarray(mask), device=log_probs.device)
        out = log_probs.masked_fill(~m, float("-inf"))
        return torch.log_softmax(out, dim=-1) if renormalize else out
    out = np.where(np.asarray(mask), log_probs, -np.inf)
    if renormalize:
        out = out - _logsumexp_np(out, axis=-1, keepdims=True)
    return out


def nearest_phone_mapping(source_phones: Iterable[str], target_inventory: Iterable[str], *,
                          weighted: bool = True, same_class: bool = True) -> dict[str, str]:
    """Map each source phone (e.g. the model's training phones) to the closest target phone.

    Phones in both (compared by :func:`canonical_token`) map to themselves. Others go to the target phone at the smallest
    :func:`feature_distance`; with ``same_class`` vowels only go to vowels and consonants to
    consonants (panphon ``syl``) while the target has any. Ties go to the first phone in sorted
    order. Source phones with no known features map to nothing (warned).
    """
    targets = sorted({_nfc(p) for p in target_inventory})
    tfeats = {t: token_features(t) for t in targets}
    usable = [t for t in targets if tfeats[t] is not None]
    if not usable:
        raise ValueError("target inventory has no phones with known features")
    tmat = np.stack([tfeats[t] for t in usable])
    w = feature_weights() if weighted else np.ones(tmat.shape[1])
    syl_idx = feature_names().index("syl")
    by_key = {}
    for t in targets:
        by_key.setdefault(canonical_token(t), t)
    mapping, unmapped = {}, []
    for p in dict.fromkeys(_nfc(p) for p in source_phones):
        if canonical_token(p) in by_key:
            mapping[p] = by_key[canonical_token(p)]
            continue
        f = token_features(p)
        if f is None:
            unmapped.append(p)
            continue
        if weighted:
            d = (w * np.abs(tmat - f) / 2).sum(axis=1) / w.sum()
        else:
            d = (np.abs(tmat - f) > 1e-9).mean(axis=1)
        if same_class:
            same = (tmat[:, syl_idx] > 0) == (f[syl_idx] > 0)
            if same.any():
                d = np.where(same, d, np.inf)
        mapping[p] = usable[int(np.argmin(d))]
    if unmapped:
        _warn_unknown(unmapped, "nearest_phone_mapping: no features, left unmapped")
    return mapping


def mapping_matrix(vocab: Sequence[str], target_vocab: Sequence[str],
                   mapping: Mapping[str, str | Iterable[str]],
                   keep: Iterable[str] = SPECIAL_TOKENS) -> np.ndarray:
    """0/1 matrix (V_train, V_target): M[i, j] = 1 when vocab[i] maps to target_vocab[j].

    ``mapping`` values may be one phone or several. ``keep`` tokens (blank, "|") present in both
    vocabularies map to themselves. A vocab token with no target gets a zero row: its posterior
    mass is dropped by :func:`map_log_probs`."""
    index = {_nfc(t): j for j, t in enumerate(target_vocab)}
    keep = set(keep)
    norm_map = {_nfc(k): v for k, v in mapping.items()}
    m = np.zeros((len(vocab), len(target_vocab)), dtype=np.float32)
    missing = []
    for i, tok in enumerate(vocab):
        tok = _nfc(tok)
        if tok in norm_map:
            dests = norm_map[tok]
            for d in [dests] if isinstance(dests, str) else dests:
                if _nfc(d) not in index:
                    missing.append(d)
                else:
                    m[i, index[_nfc(d)]] = 1.0
        elif tok in keep and tok in index:
            m[i, index[tok]] = 1.0
    if missing:
        raise ValueError(f"mapping targets not in target_vocab: {sorted(set(missing))}")
    return m


def map_log_probs(log_probs, matrix):
    """Sum posteriors into target tokens: out[..., j] = logsumexp_i(log_probs[..., i]) over i with
    matrix[i, j] = 1. (T, V_train) -> (T, V_target) (any leading dims); numpy or torch.
    Target columns that no train token feeds are -inf."""
    if _is_torch(log_probs):
        import torch

        logm = torch.log(torch.as_tensor(np.asarray(matrix), dtype=log_probs.dtype, device=log_probs.device))
        return torch.logsumexp(log_probs.unsqueeze(-1) + logm, dim=-2)
    with np.errstate(divide="ignore"):
        logm = np.log(np.asarray(matrix, dtype=np.float64))
    return _logsumexp_np(np.asarray(log_probs)[..., :, None] + logm, axis=-2)


def _is_torch(x) -> bool:
    return type(x).__module__.startswith("torch")


def _logsumexp_np(x: np.ndarray, axis: int, keepdims: bool = False) -> np.ndarray:
    mx = np.max(x, axis=axis, keepdims=True)
    safe = np.where(np.isfinite(mx), mx, 0.0)
    with np.errstate(divide="ignore"):
        out = np.log(np.sum(np.exp(x - safe), axis=axis, keepdims=True)) + safe
    return out if keepdims else np.squeeze(out, axis=axis)


# --------------------------------------------------------------------------- metrics


def _as_segments(utt: str | Sequence[str], keep_word_boundary: bool) -> list[str]:
    toks = utt.split() if isinstance(utt, str) else list(utt)
    return [_nfc(t) for t in toks if keep_word_boundary or t != WORD_BOUNDARY]


def edit_distance(ref: Sequence[str], hyp: Sequence[str]) -> int:
    """Levenshtein distance between two segment lists (unit costs)."""
    prev = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        cur = [i] + [0] * len(hyp)
        for j, h in enumerate(hyp, 1):
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (r != h))
        prev = cur
    return prev[-1]


def _sub_cost(a: str, b: str, weighted: bool) -> float:
    if a == b:
        return 0.0
    try:
        return feature_distance(a, b, weighted=weighted)
    except UnknownSegmentError:
        return 1.0  # unknown symbol: a whole-segment error


def feature_edit_distance(ref: Sequence[str], hyp: Sequence[str], *, weighted: bool = False) -> float:
    """Edit distance with insertion/deletion cost 1 and substitution cost :func:`feature_distance`
    (Hamming by default: panphon's ``hamming_feature_edit_distance`` on segment lists)."""
    prev = [float(j) for j in range(len(hyp) + 1)]
    for i, r in enumerate(ref, 1):
        cur = [float(i)] + [0.0] * len(hyp)
        for j, h in enumerate(hyp, 1):
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + _sub_cost(r, h, weighted))
        prev = cur
    return prev[-1]


def _check_pairs(refs, hyps):
    if isinstance(refs, str) or isinstance(hyps, str):
        raise TypeError("refs and hyps are lists of utterances; wrap a single utterance as [ref]")
    if len(refs) != len(hyps):
        raise ValueError(f"{len(refs)} references but {len(hyps)} hypotheses")


def phone_error_rate(refs: Sequence[str | Sequence[str]], hyps: Sequence[str | Sequence[str]], *,
                     keep_word_boundary: bool = False) -> float:
    """PER over a corpus: total phone edit distance / total reference phones. Utterances are
    space-separated strings or segment lists; "|" is ignored unless ``keep_word_boundary``."""
    _check_pairs(refs, hyps)
    errs = n = 0
    for r, h in zip(refs, hyps):
        r, h = _as_segments(r, keep_word_boundary), _as_segments(h, keep_word_boundary)
        errs += edit_distance(r, h)
        n += len(r)
    return errs / n if n else float(errs > 0)


def phone_feature_error_rate(refs: Sequence[str | Sequence[str]], hyps: Sequence[str | Sequence[str]], *,
                             weighted: bool = False) -> float:
    """PFER over a corpus: total :func:`feature_edit_distance` / total reference phones
    (insert/delete 1, substitute by share of differing articulatory features; <= PER)."""
    _check_pairs(refs, hyps)
    errs, n = 0.0, 0
    for r, h in zip(refs, hyps):
        r, h = _as_segments(r, False), _as_segments(h, False)
        errs += feature_edit_distance(r, h, weighted=weighted)
        n += len(r)
    return errs / n if n else float(errs > 0)


def oov_rate(refs: Iterable[str | Sequence[str]], inventory: Iterable[str]) -> float:
    """Share of reference phone tokens (word boundaries excluded) not in ``inventory``."""
    inv = {canonical_token(p) for p in inventory}
    total = oov = 0
    for r in refs:
        for s in _as_segments(r, False):
            total += 1
            oov += canonical_token(s) not in inv
    return oov / total if total else 0.0
