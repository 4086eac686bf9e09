"""The one word sampler: texts for the built-in corpus (real words of each language, or numbers read out), and the
words phonemized to find a language's phone inventory (:func:`sample_words`).

Each supported language is one :class:`Language` row in :data:`LANGUAGES` (a plain dict keyed
by the ISO 639 code written to manifests). Texts come from ``wordfreq`` (the most frequent
words, filtered to the language's script) or, for espeak-ng languages that wordfreq does not
cover, from ``num2words`` (numbers spelled out in the language). Every text is a pure function
of ``(language, seed, index, attempt, words)``, so a corpus is reproducible without storing state.
"""

from __future__ import annotations

import functools
import random
import unicodedata
from collections import Counter
from dataclasses import dataclass

from polyvox.data.espeak import base_language

TOP_N = 5000  # words are drawn from the most frequent TOP_N of wordfreq's list
MIN_POOL = 200  # a filtered word list smaller than this is an error (the filter is wrong)
MIN_WORDS, MAX_WORDS = 2, 6
DEFAULT_WORDS = (MIN_WORDS, MAX_WORDS)  # words per text unless asked otherwise (0.9-5 s of speech)


@dataclass(frozen=True)
class Language:
    code: str  # ISO 639 code stored in manifests
    name: str
    voice: str  # espeak-ng voice
    source: str  # "wordfreq" or "num2words"
    source_code: str  # the language's code in that library
    scripts: tuple[str, ...]  # Unicode script names (first word of a character's name) allowed in words


def _lang(code, name, voice, source, source_code, *scripts) -> tuple[str, Language]:
    return code, Language(code, name, voice, source, source_code, tuple(scripts))


_W, _N = "wordfreq", "num2words"
LANGUAGES: dict[str, Language] = dict(
    [
        _lang("ar", "Arabic", "ar", _W, "ar", "ARABIC"),
        _lang("bg", "Bulgarian", "bg", _W, "bg", "CYRILLIC"),
        _lang("bn", "Bengali", "bn", _W, "bn", "BENGALI"),
        _lang("ca", "Catalan", "ca", _W, "ca", "LATIN"),
        _lang("cs", "Czech", "cs", _W, "cs", "LATIN"),
        _lang("da", "Danish", "da", _W, "da", "LATIN"),
        _lang("de", "German", "de", _W, "de", "LATIN"),
        _lang("el", "Greek", "el", _W, "el", "GREEK"),
        _lang("en", "English", "en-us", _W, "en", "LATIN"),
        _lang("es", "Spanish", "es", _W, "es", "LATIN"),
        _lang("fa", "Persian", "fa", _W, "fa", "ARABIC"),
        _lang("fi", "Finnish", "fi", _W, "fi", "LATIN"),
        _lang("fr", "French", "fr-fr", _W, "fr", "LATIN"),
        _lang("he", "Hebrew", "he", _W, "he", "HEBREW"),
        _lang("hi", "Hindi", "hi", _W, "hi", "DEVANAGARI"),
        _lang("hbs", "Serbo-Croatian (Latin)", "hr", _W, "sh", "LATIN"),
        _lang("hu", "Hungarian", "hu", _W, "hu", "LATIN"),
        _lang("id", "Indonesian", "id", _W, "id", "LATIN"),
        _lang("is", "Icelandic", "is", _W, "is", "LATIN"),
        _lang("it", "Italian", "it", _W, "it", "LATIN"),
        _lang("ja", "Japanese (kana words)", "ja", _W, "ja", "HIRAGANA", "KATAKANA"),
        _lang("lt", "Lithuanian", "lt", _W, "lt", "LATIN"),
        _lang("lv", "Latvian", "lv", _W, "lv", "LATIN"),
        _lang("mk", "Macedonian", "mk", _W, "mk", "CYRILLIC"),
        _lang("ms", "Malay", "ms", _W, "ms", "LATIN"),
        _lang("nb", "Norwegian Bokmål", "nb", _W, "nb", "LATIN"),
        _lang("nl", "Dutch", "nl", _W, "nl", "LATIN"),
        _lang("pl", "Polish", "pl", _W, "pl", "LATIN"),
        _lang("pt", "Portuguese", "pt", _W, "pt", "LATIN"),
        _lang("ro", "Romanian", "ro", _W, "ro", "LATIN"),
        _lang("ru", "Russian", "ru", _W, "ru", "CYRILLIC"),
        _lang("sk", "Slovak", "sk", _W, "sk", "LATIN"),
        _lang("sl", "Slovenian", "sl", _W, "sl", "LATIN"),
        _lang("sv", "Swedish", "sv", _W, "sv", "LATIN"),
        _lang("ta", "Tamil", "ta", _W, "ta", "TAMIL"),
        _lang("tr", "Turkish", "tr", _W, "tr", "LATIN"),
        _lang("uk", "Ukrainian", "uk", _W, "uk", "CYRILLIC"),
        _lang("ur", "Urdu", "ur", _W, "ur", "ARABIC"),
        # espeak-ng languages without a wordfreq list: numbers spelled out by num2words.
        _lang("az", "Azerbaijani", "az", _N, "az", "LATIN"),
        _lang("be", "Belarusian", "be", _N, "be", "CYRILLIC"),
        _lang("cy", "Welsh", "cy", _N, "cy", "LATIN"),
        _lang("eo", "Esperanto", "eo", _N, "eo", "LATIN"),
        _lang("kk", "Kazakh", "kk", _N, "kz", "CYRILLIC"),
        _lang("kn", "Kannada", "kn", _N, "kn", "KANNADA"),
        _lang("te", "Telugu", "te", _N, "te", "TELUGU"),
    ]
)

# Other spellings users may type -> the code stored in manifests.
ALIASES: dict[str, str] = {"sh": "hbs", "hr": "hbs", "sr-latn": "hbs", "no": "nb", "kz": "kk", "iw": "he"}


# --------------------------------------------------------------------------- every espeak-ng language

CLDR = "cldr"
MIN_CLDR_WORDS = 300  # fewer distinct CLDR words than this: too little text for a corpus (reported, not used)
# espeak-ng code -> CLDR locale where they differ
CLDR_LOCALES = {"cmn": "zh", "hyw": "hy"}
# espeak-ng languages whose CLDR text it cannot read back in the language (found by building a corpus of each)
UNREADABLE = {
    "cmn": "espeak-ng 1.51 reads most Han characters as English letter names",
    "yue": "espeak-ng 1.51 reads most Han characters as English letter names",
    "my": "espeak-ng 1.51 aborts (buffer overflow) on Burmese words",
    # clean characters, wrong segments (docs/corpus.md): kept out so no transcript is silently wrong
    "ko": "espeak-ng 1.51's Korean IPA has clusters such as pɡ, ɫph, t-ɡ that are not segments",
    "vi": "espeak-ng 1.51 writes tones as digits and tone 3 as ɜ, indistinguishable from the vowel",
    "th": "espeak-ng 1.51 writes tones as digits and tone 3 as ɜ, indistinguishable from the vowel",
}


@functools.lru_cache(maxsize=None)
def cldr_words(locale: str) -> tuple[str, ...]:
    """Real words of a language in its own script from the localized names CLDR holds (via Babel): territories,
    languages, scripts, currencies, months and days. Words are split at spaces and hyphens, kept when they are letters
    and marks only, at least 2 characters, not an all-capital acronym, and in the script most of them use. Sorted
    (deterministic); () when Babel has no such locale."""
    from babel import Locale, UnknownLocaleError

    try:
        loc = Locale.parse(locale)
    except (UnknownLocaleError, ValueError):
        return ()
    names = [*loc.territories.values(), *loc.languages.values(), *loc.scripts.values(), *loc.currencies.values(),
             *loc.months["format"]["wide"].values(), *loc.days["format"]["wide"].values()]
    words = set()
    for name in names:
        for w in name.replace("-", " ").split():
            w = w.strip("().,;:'\"«»“”")
            if len(w) >= 2 and not w.isupper() and all(unicodedata.category(c)[0] in "LM" for c in w):
                words.add(w)
    scripts = Counter(_script(c) for w in words for c in w if unicodedata.category(c)[0] == "L")
    if not scripts:
        return ()
    main = scripts.most_common(1)[0][0]
    # Latin-script locales keep many English spellings of names ("Aruba", "Mohawk"), which espeak reads as English
    english = {w.lower() for w in cldr_words("en")} if main == "LATIN" and locale != "en" else set()
    return tuple(sorted(w for w in words if _in_scripts(w, (main,)) and w.lower() not in english))


def _script(ch: str) -> str:
    return unicodedata.name(ch, "").split(" ", 1)[0]


@functools.lru_cache(maxsize=1)
def cldr_languages() -> dict[str, Language]:
    """espeak-ng languages outside :data:`LANGUAGES` whose text comes from CLDR (:func:`cldr_words`), keyed by their
    espeak code; with too few words they are left out (:func:`unavailable_languages` says why)."""
    return {code: lang for code, (lang, n) in _espeak_candidates().items()
            if n >= MIN_CLDR_WORDS and code not in UNREADABLE}


def unavailable_languages() -> dict[str, str]:
    """espeak-ng languages polyvox cannot build a corpus for, with the reason."""
    out = {}
    for code, (lang, n) in _espeak_candidates().items():
        if code in UNREADABLE:
            out[code] = f"{lang.name}: {UNREADABLE[code]}"
        elif n < MIN_CLDR_WORDS:
            out[code] = (f"{lang.name}: only {n} offline words (CLDR {lang.source_code or 'has no locale'}), "
                         f"fewer than {MIN_CLDR_WORDS}")
    return out


@functools.lru_cache(maxsize=1)
def _espeak_candidates() -> dict[str, tuple[Language, int]]:
    from polyvox.data.espeak import EspeakError, run_espeak

    try:
        lines = run_espeak(["--voices"]).splitlines()[1:]
    except EspeakError:
        return {}
    covered = set(LANGUAGES) | set(ALIASES) | {l.voice.split("-")[0] for l in LANGUAGES.values()}
    out = {}
    for line in lines:
        parts = line.split()
        if len(parts) < 4 or "-" in parts[1] or parts[1] in covered or parts[1] in out:
            continue  # regional variants (en-gb, fr-be) of covered languages, or a language already listed
        code, name = parts[1], parts[3].replace("_", " ")
        locale = CLDR_LOCALES.get(code, code)
        words = cldr_words(locale)
        scripts = tuple(sorted({_script(c) for w in words[:50] for c in w})) if words else ()
        out[code] = (Language(code, name, code, CLDR, locale if words else "", scripts), len(words))
    return out


def languages() -> dict[str, Language]:
    """Every language a corpus can be built for: the curated :data:`LANGUAGES` (wordfreq, num2words), then the
    espeak-ng languages whose text comes from CLDR."""
    return {**LANGUAGES, **cldr_languages()}


def resolve_language(code: str) -> Language:
    """The :class:`Language` for an ISO code or alias; ValueError naming how to list them, or why a language espeak-ng
    speaks has no corpus."""
    key = code.strip().lower()
    key = ALIASES.get(key, key)
    available = languages()
    if key in available:
        return available[key]
    why = unavailable_languages().get(key)
    if why:
        raise ValueError(f"language {code!r} cannot be used for a corpus: {why}")
    raise ValueError(
        f"unknown language code {code!r}; run 'polyvox synth --list-langs' to see the "
        f"{len(available)} supported codes (or pass --langs all)"
    )


def language(code: str) -> Language:
    """The :class:`Language` stored under manifest code ``code`` (curated or CLDR)."""
    return LANGUAGES[code] if code in LANGUAGES else cldr_languages()[code]


def _in_scripts(word: str, scripts: tuple[str, ...]) -> bool:
    """Every character is a letter/mark whose Unicode name starts with one of ``scripts``."""
    for ch in word:
        if unicodedata.category(ch)[0] not in "LM":
            return False
        if unicodedata.name(ch, "").split(" ", 1)[0] not in scripts:
            return False
    return True


@functools.lru_cache(maxsize=None)
def word_pool(code: str, top_n: int = TOP_N) -> tuple[str, ...]:
    """A CLDR language's words (:func:`cldr_words`), or frequent words of a wordfreq language, in frequency order, kept only if written entirely
    in the language's script, at least 2 characters long, and (for Latin-script languages other
    than English) not more frequent in English than in the language (drops "the", "of", "ok")."""
    lang = language(code)
    if lang.source == CLDR:
        return cldr_words(lang.source_code)
    import wordfreq

    check_english = "LATIN" in lang.scripts and code != "en"
    out = []
    for w in wordfreq.top_n_list(lang.source_code, top_n):
        if lang.code == "el" and w.endswith("σ"):
            w = w[:-1] + "ς"  # wordfreq folds final sigma; restore the spelling espeak expects
        if len(w) < 2 or not _in_scripts(w, lang.scripts):
            continue
        if check_english and wordfreq.word_frequency(w, "en") > wordfreq.word_frequency(w, lang.source_code):
            continue
        out.append(w)
    if len(out) < MIN_POOL:
        raise ValueError(f"only {len(out)} usable {lang.name} words in wordfreq's top {top_n}")
    return tuple(out)


def check_words(words) -> tuple[int, int]:
    """``words`` (a 2-item sequence of ints: min, max words per text) as a tuple; ValueError
    unless 1 <= min <= max."""
    try:
        lo, hi = words
    except (TypeError, ValueError):
        raise ValueError(f"words must be (min, max), got {words!r}") from None
    if not all(isinstance(x, int) and not isinstance(x, bool) for x in (lo, hi)) or not 1 <= lo <= hi:
        raise ValueError(f"words must be two integers with 1 <= min <= max, got {words!r}")
    return lo, hi


def _spelled(lang: Language, n: int) -> str:
    """Number ``n`` spelled out by num2words, punctuation turned into spaces."""
    from num2words import num2words

    text = num2words(n, lang=lang.source_code)
    return " ".join("".join(c if c.isalpha() or unicodedata.category(c)[0] == "M" else " " for c in text).split())


def number_text(lang: Language, rng: random.Random, words: tuple[int, int] = DEFAULT_WORDS) -> str:
    """Numbers (0-9999) spelled out by num2words, punctuation turned into spaces.

    With the default ``words`` one to three numbers of any length (the original rule, kept so
    existing corpora stay valid); otherwise exactly n ~ U[min, max] words: whole numbers are
    joined until there are n words and the last one is cut to fit."""
    if tuple(words) == DEFAULT_WORDS:
        return " ".join(_spelled(lang, rng.randint(0, 9999)) for _ in range(rng.randint(1, 3)))
    n = rng.randint(*words)
    out: list[str] = []
    while len(out) < n:
        out += _spelled(lang, rng.randint(0, 9999)).split()
    return " ".join(out[:n])


def make_text(code: str, seed: int, index: int, attempt: int = 0, words: tuple[int, int] = DEFAULT_WORDS) -> str:
    """The text of utterance ``index`` of language ``code``: n ~ U[min, max] distinct frequent
    words, ``words`` = (min, max) inclusive, default 2-6 (or spelled-out numbers, see
    :func:`number_text`). n is capped at the language's pool size (>= MIN_POOL words).
    ``attempt`` > 0 gives a different text for the same slot, used when espeak-ng switched
    language inside the first one. Texts of the default range are those of polyvox before
    ``words`` existed (same rng draws), so corpora on disk stay reusable."""
    lo, hi = check_words(words)
    lang = language(code)
    rng = random.Random(f"text:{seed}:{code}:{index}:{attempt}")
    if lang.source == "num2words":
        return number_text(lang, rng, (lo, hi))
    pool = word_pool(code)
    return " ".join(rng.sample(pool, min(rng.randint(lo, hi), len(pool))))


# --------------------------------------------------------------------------- inventory words

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
        for cand in (lang, lang.lower(), base_language(lang), _WORDFREQ_CODES.get(base_language(lang))):
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

        words += [num2words(i, lang=base_language(lang)) for i in numbers]
        source.append("num2words")
    except (ImportError, NotImplementedError, KeyError, ValueError, TypeError):
        words += [str(i) for i in numbers]  # espeak reads digits in the voice's language
        source.append("digits")
    return words, "+".join(source)
