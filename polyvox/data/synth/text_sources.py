"""Where the words of a language without a wordfreq list come from, all offline: CLDR's localized names (Babel), the
iso-codes names translated into the language (pycountry), Debian's hunspell dictionaries, SWORD lexicons, word lists
and LibreOffice translations, and Google Fonts' sample texts (gflanguages); and the filters they share (real words
in the language's main script, without the ones CLDR also spells that way in English). :func:`offline_words` pools
them; :mod:`polyvox.data.synth.words` turns the pools into corpus languages and texts.
"""

from __future__ import annotations

import functools
import re
import sys
import unicodedata
from collections import Counter
from pathlib import Path

CLDR = "cldr"
MIN_CLDR_WORDS = 300  # CLDR alone gives at least this many words: its words are the language's text
# Fewer: CLDR's words plus the ISO names translated into the language (pycountry's iso-codes catalogues) plus a
# Debian hunspell dictionary when one is installed; at least this many of those together, or the language is
# reported as lacking text. 100 words still give millions of distinct 2-6 word texts, though fewer phone contexts.
MIN_OFFLINE_WORDS = 100
HUNSPELL_DIR = Path("/usr/share/hunspell")
HUNSPELL_CODES = {"gn": "gug"}  # espeak-ng code -> hunspell's file prefix where they differ
# Debian packages of the hunspell dictionaries that make a language usable (the Makefile installs them)
HUNSPELL_PACKAGES = {"an": "hunspell-an", "gn": "hunspell-gug"}
# Debian SWORD lexicons whose headwords are a language's words: Strong's Greek dictionary (public domain, 1890; its
# New Testament headwords in polytonic Greek, 6,035 words) for Ancient Greek. code -> (Debian package, zLD module
# path without its suffix). The Makefile installs them.
SWORD_LEXICONS = {"grc": ("sword-dict-strongs-greek",
                          Path("/usr/share/sword/modules/lexdict/zld/strongsgreek/dict"))}
# Debian word lists of a language, one word at the start of each line: Lojban's gismu (root words), cmavo
# (structure words) and lujvo (compounds, "word:parts:..."). code -> (Debian package, files). The Makefile installs
# them.
WORD_LISTS = {"jbo": ("lojban-common", tuple(Path("/usr/share/lojban") / f"{name}.txt"
                                             for name in ("gismu", "cmavo", "lujvo")))}
# Debian's LibreOffice translations of a language (gettext .mo catalogues of its menus and dialogs), for one that CLDR
# and the dictionaries barely cover: Setswana's ~2,300 words (CLDR has 39). code -> (Debian package, the catalogues'
# folder inside it). The package depends on LibreOffice itself (~60 MB installed), so `make setup` only unpacks its
# .deb (220 KB) under UNPACKED_DEBS; a copy installed by apt-get is found too.
GETTEXT_CATALOGS = {"tn": ("libreoffice-l10n-tn", "usr/lib/libreoffice/program/resource/tn/LC_MESSAGES")}
UNPACKED_DEBS = Path(sys.prefix) / "share" / "polyvox-debs"  # <package>/ holds a .deb's files (Makefile)
# espeak-ng code -> the iso-codes catalogue in the language where the codes differ: Classical Nahuatl's voice reads
# the Nahuatl ("nah") country names (Mēxihco, Xapon), which keep the classical orthography (tl, tz, hu, x)
ISO_LOCALES = {"nci": "nah"}


def _is_word(w: str) -> bool:
    """At least 2 letters/marks and not an all-capital acronym (Cherokee is written in capitals: not acronyms)."""
    acronym = w.isupper() and _script(w[0]) != "CHEROKEE"
    return len(w) >= 2 and not acronym and all(unicodedata.category(c)[0] in "LM" for c in w)


def _split_names(names) -> set[str]:
    words = set()
    for name in names:
        for w in str(name).replace("-", " ").split():
            w = w.strip("().,;:'\"«»“”")
            if _is_word(w):
                words.add(w)
    return words


def _main_script_words(words: set[str], locale: str) -> tuple[str, ...]:
    """``words`` in the script most of them use; for Latin scripts, without the words CLDR also spells that way in
    English ("Aruba", "Mohawk"), which espeak reads as English. Sorted."""
    scripts = Counter(_script(c) for w in words for c in w if unicodedata.category(c)[0] == "L")
    if not scripts:
        return ()
    main = scripts.most_common(1)[0][0]
    english = {w.lower() for w in cldr_words("en")} if main == "LATIN" and locale != "en" else set()
    return tuple(sorted(w for w in words if _in_scripts(w, (main,)) and w.lower() not in english))


@functools.lru_cache(maxsize=None)
def iso_words(locale: str) -> tuple[str, ...]:
    """Words of the ISO 3166 / 639 / 4217 / 15924 names translated into ``locale`` (the iso-codes project's
    catalogues, shipped by pycountry), filtered like :func:`cldr_words`; () when there is no catalogue."""
    import gettext

    import pycountry

    folder = Path(pycountry.__file__).parent / "locales" / locale / "LC_MESSAGES"
    names = []
    for mo in sorted(folder.glob("*.mo")) if folder.is_dir() else ():
        with open(mo, "rb") as f:
            names += [v for k, v in gettext.GNUTranslations(f)._catalog.items() if k and v != k]
    return _main_script_words(_split_names(names), locale)


def hunspell_files(code: str) -> list[Path]:
    """Installed Debian hunspell dictionaries (``.dic``) of ``code``: ``xx.dic`` and ``xx_YY.dic``."""
    prefix = HUNSPELL_CODES.get(code, code)
    found = {p.resolve() for p in [*HUNSPELL_DIR.glob(f"{prefix}.dic"), *HUNSPELL_DIR.glob(f"{prefix}_*.dic")]}
    return sorted(found)


@functools.lru_cache(maxsize=None)
def hunspell_words(code: str) -> tuple[str, ...]:
    """Stems of the installed hunspell dictionaries of ``code`` (the part before ``/flags``, in the encoding the
    ``.aff`` names), filtered like :func:`cldr_words`."""
    words = set()
    for dic in hunspell_files(code):
        encoding = "utf-8"
        aff = dic.with_suffix(".aff")
        if aff.exists():
            for line in aff.read_bytes().decode("latin-1").splitlines():
                if line.startswith("SET "):
                    encoding = line.split()[1].strip()
                    break
        lines = dic.read_bytes().decode(encoding, "replace").splitlines()[1:]  # first line: the entry count
        words |= {w for line in lines if (w := line.split("/")[0].split("\t")[0].strip()) and _is_word(w)}
    return _main_script_words(words, code)


def read_zld_entries(module: Path) -> list[str]:
    """Every entry's text of a SWORD compressed lexicon (the zLD driver): ``module.zdx`` holds one little-endian
    (offset, size) per zlib block of ``module.zdt``; a block is an entry count, then (offset, size) per entry into
    the block. Raises ValueError naming the file when a block does not decode."""
    import struct
    import zlib

    index, data = Path(f"{module}.zdx").read_bytes(), Path(f"{module}.zdt").read_bytes()
    entries = []
    for i in range(len(index) // 8):
        start, size = struct.unpack_from("<II", index, 8 * i)
        try:
            block = zlib.decompress(data[start: start + size])
            (count,) = struct.unpack_from("<I", block)
            for j in range(count):
                at, n = struct.unpack_from("<II", block, 4 + 8 * j)
                entries.append(block[at: at + n].decode("utf-8", "replace"))
        except (zlib.error, struct.error) as e:
            raise ValueError(f"{module}.zdt: block {i} is not a SWORD zLD block ({e})") from e
    return entries


@functools.lru_cache(maxsize=None)
def sword_words(code: str) -> tuple[str, ...]:
    """Headwords (``<orth>`` without a ``type``) of the installed SWORD lexicon of ``code``
    (:data:`SWORD_LEXICONS`), filtered like :func:`cldr_words`; () when it is not installed."""
    if code not in SWORD_LEXICONS or not Path(f"{SWORD_LEXICONS[code][1]}.zdt").exists():
        return ()
    entries = read_zld_entries(SWORD_LEXICONS[code][1])
    heads = [m for text in entries for m in re.findall(r"<orth>([^<]+)</orth>", text)]
    return _main_script_words(_split_names(heads), code)


@functools.lru_cache(maxsize=None)
def word_list_words(code: str) -> tuple[str, ...]:
    """The first word of every line of the installed :data:`WORD_LISTS` files of ``code`` (a leading "." of a
    Lojban cmavo dropped; words with an apostrophe, ba'u, dropped like every non-letter), filtered like
    :func:`cldr_words`; () when none is installed."""
    words = set()
    for path in WORD_LISTS.get(code, ("", ()))[1]:
        if path.exists():
            for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
                first = re.split(r"[\s:]", line.strip(), maxsplit=1)[0].lstrip(".")
                if _is_word(first):
                    words.add(first)
    return _main_script_words(words, code)


# Google Fonts' sample texts of a language (gflanguages: excerpts of the Universal Declaration of Human Rights, set
# as type specimens), all its scripts; the fields that hold running text, not the 1-4 letter mastheads or notes.
SAMPLE_TEXT_FIELDS = ("styles", "tester", "poster_sm", "poster_md", "poster_lg", "specimen_48", "specimen_36",
                      "specimen_32", "specimen_21", "specimen_16")


@functools.lru_cache(maxsize=1)
def _gf_languages() -> dict:
    import gflanguages

    return gflanguages.LoadLanguages()


@functools.lru_cache(maxsize=None)
def sample_text_words(code: str) -> tuple[str, ...]:
    """Words of the gflanguages sample texts of ``code`` (:data:`SAMPLE_TEXT_FIELDS`; Hawaiian: "Ua noa i nā kānaka
    apau ..."), filtered like :func:`cldr_words`."""
    texts = [getattr(lang.sample_text, field) for lang in _gf_languages().values() if lang.language == code
             for field in SAMPLE_TEXT_FIELDS]
    return _main_script_words(_split_names(re.split(r"[\s,.;:!?¿¡()]+", " ".join(texts))), code)


def gettext_files(code: str) -> list[Path]:
    """The ``.mo`` catalogues of :data:`GETTEXT_CATALOGS` for ``code``, installed or unpacked; [] when neither."""
    package, folder = GETTEXT_CATALOGS.get(code, ("", ""))
    for root in (Path("/"), UNPACKED_DEBS / package):
        if folder and (root / folder).is_dir():
            return sorted((root / folder).glob("*.mo"))
    return []


def _message_text(text: str) -> str:
    """A UI message without markup, placeholders ("$(ARG1)", "%1", "\\n") and accelerator marks ("~Faele")."""
    text = re.sub(r"<[^>]*>|\$\([A-Za-z0-9_]+\)|%[A-Za-z0-9_]+|\\[nt]|&[a-z]+;", " ", text)
    return text.replace("~", "").replace("&", "")


@functools.lru_cache(maxsize=None)
def gettext_words(code: str) -> tuple[str, ...]:
    """Words of the translations in :func:`gettext_files` of ``code``, without those the English source of the same
    message has too (names and untranslated terms: "LibreOffice", "Version"), words run together ("NalediChate")
    and vowelless fragments ("tl"); filtered like :func:`cldr_words`. () when no catalogue is there."""
    from babel.messages.mofile import read_mo

    words = set()
    for path in gettext_files(code):
        with path.open("rb") as f:
            catalog = read_mo(f)
        for message in catalog:
            if not message.id or not message.string:
                continue
            ids = message.id if isinstance(message.id, (list, tuple)) else [message.id]
            translations = message.string if isinstance(message.string, (list, tuple)) else [message.string]
            source = {w.lower() for text in ids for w in _message_text(text).split()}
            for w in _split_names(_message_text(t) for t in translations):
                if w.lower() not in source and not re.search(r"[a-z][A-Z]", w) and re.search("[aeiouy]", w.lower()):
                    words.add(w)
    return _main_script_words(words, code)


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
    return _main_script_words(_split_names(names), locale)


def offline_words(code: str, locale: str) -> tuple[tuple[str, ...], str]:
    """(words, source) of an espeak-ng language outside :data:`LANGUAGES`: CLDR's words when there are at least
    :data:`MIN_CLDR_WORDS` (source "cldr"), else CLDR + iso-codes + hunspell + SWORD + Debian word lists + UI
    translations + gflanguages' sample texts together (source naming the parts that gave words, e.g.
    "cldr+hunspell", "sword", "cldr+gettext", "cldr+iso-codes+sample-text")."""
    cldr = cldr_words(locale) if locale else ()
    if len(cldr) >= MIN_CLDR_WORDS:
        return cldr, CLDR
    iso = iso_words(ISO_LOCALES.get(code, locale or code))
    parts = {CLDR: cldr, "iso-codes": iso, "hunspell": hunspell_words(code), "sword": sword_words(code),
             "word-list": word_list_words(code), "gettext": gettext_words(code), "sample-text": sample_text_words(code)}
    union = set().union(*parts.values())
    return _main_script_words(union, locale or code), "+".join(k for k, v in parts.items() if v)


def _script(ch: str) -> str:
    return unicodedata.name(ch, "").split(" ", 1)[0]


def _in_scripts(word: str, scripts: tuple[str, ...]) -> bool:
    """Every character is a letter/mark whose Unicode name starts with one of ``scripts``."""
    for ch in word:
        if unicodedata.category(ch)[0] not in "LM":
            return False
        if unicodedata.name(ch, "").split(" ", 1)[0] not in scripts:
            return False
    return True
