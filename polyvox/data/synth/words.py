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
from dataclasses import dataclass

from polyvox.data.espeak import READING_VOICES, base_language
from polyvox.data.synth.text_sources import (  # also what callers of this module use by name
    CLDR, GETTEXT_CATALOGS, HUNSPELL_PACKAGES, ISO_LOCALES, MIN_CLDR_WORDS, MIN_OFFLINE_WORDS, SWORD_LEXICONS,
    UNPACKED_DEBS, WORD_LISTS, _in_scripts, _script, cldr_words, gettext_files, gettext_words, hunspell_files,
    hunspell_words, iso_words, offline_words, sample_text_words, sword_words, word_list_words,
)

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
        _lang("ko", "Korean", "ko", _W, "ko", "HANGUL"),  # joined phonemes split: polyvox.data.ipa
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

# espeak-ng code -> CLDR locale where they differ
CLDR_LOCALES = {"cmn": "zh", "hyw": "hy"}
# espeak-ng languages whose CLDR text it cannot read back in the language (found by building a corpus of each)
UNREADABLE = {
    # (cmn is read through pinyin and chr through its Latin transliteration: polyvox.data.espeak.READING_VOICES)
    "my": "espeak-ng 1.51 aborts (buffer overflow) on some Burmese text and spells words out letter by letter "
          "(ကင်ညာ -> k ŋ ŋ t s)",
    # clean characters, wrong segments (docs/corpus.md): kept out so no transcript is silently wrong
    "th": "espeak-ng 1.51's Thai rules spell many words out letter by letter (สวัสดี -> s a w m s a d s)",
}


@functools.lru_cache(maxsize=1)
def cldr_languages() -> dict[str, Language]:
    """espeak-ng languages outside :data:`LANGUAGES` whose text comes from CLDR and, for small ones, iso-codes and
    hunspell (:func:`offline_words`), keyed by their manifest code; with too few words they are left out
    (:func:`unavailable_languages` says why)."""
    return {code: lang for code, (lang, n) in _espeak_candidates().items()
            if n >= MIN_OFFLINE_WORDS and code not in UNREADABLE}


def unavailable_languages() -> dict[str, str]:
    """espeak-ng languages polyvox cannot build a corpus for, with the reason."""
    out = {}
    for code, (lang, n) in _espeak_candidates().items():
        if code in UNREADABLE:
            out[code] = f"{lang.name}: {UNREADABLE[code]}"
        elif n < MIN_OFFLINE_WORDS:
            package = HUNSPELL_PACKAGES.get(code)
            hint = f"; 'apt-get install {package}' adds its hunspell words" if package and not hunspell_files(code) \
                else ""
            if code in SWORD_LEXICONS and not sword_words(code):
                hint = f"; 'apt-get install {SWORD_LEXICONS[code][0]}' adds its words"
            if code in WORD_LISTS and not word_list_words(code):
                hint = f"; 'apt-get install {WORD_LISTS[code][0]}' adds its words"
            if code in GETTEXT_CATALOGS and not gettext_files(code):
                hint = (f"; `make setup` adds its words (it unpacks Debian's {GETTEXT_CATALOGS[code][0]} into "
                        f"{UNPACKED_DEBS})")
            iso = len(iso_words(ISO_LOCALES.get(code, lang.source_code or code)))
            counts = (f"CLDR {len(cldr_words(lang.source_code)) if lang.source_code else 'has no locale'}, "
                      f"iso-codes {iso}, hunspell {len(hunspell_words(code))}, "
                      f"sword {len(sword_words(code))}, word lists {len(word_list_words(code))}, "
                      f"UI translations {len(gettext_words(code))}, sample texts {len(sample_text_words(code))}")
            out[code] = f"{lang.name}: only {n} offline words ({counts}), fewer than {MIN_OFFLINE_WORDS}{hint}"
    return out


@functools.lru_cache(maxsize=1)
def _espeak_candidates() -> dict[str, tuple[Language, int]]:
    from polyvox.data.espeak import EspeakError, run_espeak

    try:
        lines = run_espeak(["--voices"]).splitlines()[1:]
    except EspeakError:
        return {}
    covered = set(LANGUAGES) | set(ALIASES) | {l.voice.split("-")[0] for l in LANGUAGES.values()} | set(VARIETIES)
    out = {}
    for line in lines:
        parts = line.split()
        if len(parts) < 4:
            continue
        voice, name = parts[1], parts[3].replace("_", " ").strip()
        code = voice.split("-")[0]  # "chr-US-Qaaa-x-west" is espeak's only Cherokee voice: manifest code chr
        voice = READING_VOICES.get(code, voice)  # spoken by its reading voice ("cmn" by "cmn-latn-pinyin")
        if voice in covered or code in covered or code in out:
            continue  # regional variants (en-gb, fr-be) of covered languages, or a language already listed
        locale = CLDR_LOCALES.get(code, code)
        words, source = offline_words(code, locale if cldr_words(locale) else "")
        scripts = tuple(sorted({_script(c) for w in words[:50] for c in w})) if words else ()
        out[code] = (Language(code, name, voice, source or CLDR, locale if cldr_words(locale) else "", scripts),
                     len(words))
    return out


# Regional varieties espeak-ng speaks with their own voice and rules (accents, for accent and dialect studies):
# the text of the base language, the variety's pronunciation. code -> (base language code, espeak voice, name).
VARIETIES: dict[str, tuple[str, str, str]] = {
    "en-gb": ("en", "en-gb", "English (Great Britain)"),
    "en-gb-scotland": ("en", "en-gb-scotland", "English (Scotland)"),
    "en-gb-x-rp": ("en", "en-gb-x-rp", "English (Received Pronunciation)"),
    "en-gb-x-gbclan": ("en", "en-gb-x-gbclan", "English (Lancaster)"),
    "en-gb-x-gbcwmd": ("en", "en-gb-x-gbcwmd", "English (West Midlands)"),
    "en-029": ("en", "en-029", "English (Caribbean)"),
    "en-us-nyc": ("en", "en-us-nyc", "English (New York City)"),
    "es-419": ("es", "es-419", "Spanish (Latin America)"),
    "fr-be": ("fr", "fr-be", "French (Belgium)"),
    "fr-ch": ("fr", "fr-ch", "French (Switzerland)"),
    "pt-br": ("pt", "pt-br", "Portuguese (Brazil)"),
    "ru-lv": ("ru", "ru-lv", "Russian (Latvia)"),
}


@functools.lru_cache(maxsize=1)
def variety_languages() -> dict[str, Language]:
    """:data:`VARIETIES` whose espeak-ng voice is installed, as languages with their base language's text."""
    from polyvox.data.espeak import EspeakError, run_espeak

    try:
        installed = {line.split()[1] for line in run_espeak(["--voices"]).splitlines()[1:] if len(line.split()) > 1}
    except EspeakError:
        return {}
    out = {}
    for code, (base, voice, name) in VARIETIES.items():
        if voice in installed:
            b = LANGUAGES[base]
            out[code] = Language(code, name, voice, b.source, b.source_code, b.scripts)
    return out


def languages() -> dict[str, Language]:
    """Every language a corpus can be built for: the curated :data:`LANGUAGES` (wordfreq, num2words), the
    espeak-ng languages whose text comes from CLDR / iso-codes / hunspell, then regional varieties
    (:data:`VARIETIES`)."""
    return {**LANGUAGES, **cldr_languages(), **variety_languages()}


def language_name(code: str) -> str:
    """English name of an ISO code by CLDR ("tl" -> "Tagalog"), or the code itself."""
    from babel import Locale, UnknownLocaleError

    try:
        return Locale("en").languages.get(Locale.parse(code).language, code)
    except (UnknownLocaleError, ValueError, TypeError):
        return code


def resolve_language(code: str) -> Language:
    """The :class:`Language` for an ISO code or alias; ValueError naming how to list them, or why a language espeak-ng
    speaks has no corpus."""
    key = code.strip().lower()
    key = ALIASES.get(key, key)
    if key in LANGUAGES:  # no need to list every espeak-ng language's offline words (seconds) for a curated one
        return LANGUAGES[key]
    available = languages()
    if key in available:
        return available[key]
    why = unavailable_languages().get(key)
    if why:
        raise ValueError(f"language {code!r} cannot be used for a corpus: {why}")
    name = language_name(key)
    known = f" ({name}): espeak-ng has no voice for it" if name != key else ""
    raise ValueError(
        f"unknown language code {code!r}{known}; run 'polyvox synth --list-langs' to see the "
        f"{len(available)} supported codes (or pass --langs all)"
    )


def language(code: str) -> Language:
    """The :class:`Language` stored under manifest code ``code`` (curated or CLDR)."""
    if code in LANGUAGES:
        return LANGUAGES[code]
    return cldr_languages()[code] if code in cldr_languages() else variety_languages()[code]



@functools.lru_cache(maxsize=None)
def word_pool(code: str, top_n: int = TOP_N) -> tuple[str, ...]:
    """A CLDR language's words (:func:`cldr_words`), or frequent words of a wordfreq language, in frequency order, kept only if written entirely
    in the language's script, at least 2 characters long, and (for Latin-script languages other
    than English) not more frequent in English than in the language (drops "the", "of", "ok")."""
    lang = language(code)
    if lang.source not in ("wordfreq", "num2words"):
        return offline_words(code, lang.source_code)[0]
    import wordfreq

    check_english = "LATIN" in lang.scripts and lang.source_code != "en"
    out = []
    for w in wordfreq.top_n_list(lang.source_code, top_n):
        if lang.source_code == "el" and w.endswith("σ"):
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

# corpus codes wordfreq spells otherwise; cmn uses its zh list (Han words, read through pinyin by espeak_ipa)
_WORDFREQ_CODES = {"no": "nb", "hbs": "sh", "tl": "fil", "cmn": "zh"}
_SYLLABLE_ONSETS = ["", "b", "c", "d", "f", "g", "h", "j", "k", "l", "m", "n", "p", "q", "r", "s", "t", "v",
                    "w", "x", "y", "z", "ch", "sh", "th", "dh", "gh", "kh", "ny", "ng", "mb", "nd", "ts", "dz"]


def sample_words(lang: str, n_words: int = 300) -> tuple[list[str], str]:
    """Words to phonemize for an inventory: wordfreq's most frequent words when it covers the
    language, else the corpus's own offline words for it (CLDR names: :func:`cldr_languages`), else Latin CV
    pseudo-syllables read by espeak's letter-to-sound rules (a voice that cannot read Latin script switches
    language, and :func:`espeak_inventory` drops those words);
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
    if not words:  # a corpus language's own offline words (CLDR, iso-codes, hunspell), in its script
        code = ALIASES.get(lang.lower(), lang.lower())
        if code in cldr_languages():
            words = list(word_pool(code))[:n_words]
            source.append(cldr_languages()[code].source)
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
