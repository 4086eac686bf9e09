"""The one espeak-ng wrapper: finding the binary, its version and voices, resolving a language to a voice, running
it (raw IPA of a text, or any command line such as the corpus synthesizer's).

Everything else that speaks or phonemizes (``polyvox.data.synth``, ``polyvox.data.ipa.phonemize``, inventories)
goes through here, so a missing binary or a failing call gives the same message everywhere.
"""

from __future__ import annotations

import functools
import re
import shutil
import subprocess
from typing import Sequence

ESPEAK = "espeak-ng"
INSTALL_HINT = ("Install it with 'apt-get install espeak-ng' (Debian/Ubuntu) or 'brew install espeak-ng' (macOS).")


class EspeakError(RuntimeError):
    """espeak-ng is missing or failed; the message says what to do."""


def espeak_binary() -> str:
    """Path of the espeak-ng binary (or of the older ``espeak``), or EspeakError with the install command."""
    exe = shutil.which(ESPEAK) or shutil.which("espeak")
    if exe is None:
        raise EspeakError(f"{ESPEAK} was not found on PATH; the built-in corpus is spoken by it. {INSTALL_HINT}")
    return exe


def run_espeak(args: Sequence[str], *, input: str | None = None) -> str:
    """Run espeak-ng with ``args`` (without the binary); its stdout. EspeakError with its stderr on failure."""
    cmd = [espeak_binary(), *args]
    res = subprocess.run(cmd, input=input, capture_output=True, text=True, encoding="utf-8")
    if res.returncode != 0:
        raise EspeakError(f"{' '.join(cmd)} failed ({res.returncode}): {res.stderr.strip()}")
    return res.stdout


@functools.lru_cache(maxsize=1)
def espeak_version() -> str:
    m = re.search(r"(\d+\.\d+(?:\.\d+)?)", run_espeak(["--version"]))
    return m.group(1) if m else "unknown"


@functools.lru_cache(maxsize=1)
def espeak_voices() -> dict[str, str]:
    """espeak-ng language code -> voice name, from ``espeak-ng --voices``."""
    voices = {}
    for line in run_espeak(["--voices"]).splitlines()[1:]:
        parts = line.split()
        if len(parts) >= 5:
            voices[parts[1]] = parts[3].replace("_", " ")
            # the voice file name is a code espeak accepts too ("en" for en-gb, file gmw/en)
            voices.setdefault(parts[4].rsplit("/", 1)[-1], parts[3].replace("_", " "))
    return voices


def base_language(lang: str | None) -> str:
    """"de-AT" -> "de" (lower case)."""
    return (lang or "").lower().split("-")[0]


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
    if base_language(lang) in voices:
        return base_language(lang)
    close = sorted(c for c, n in voices.items() if c.startswith(low[:2]) or n.lower().startswith(low[:3]))
    raise ValueError(f"espeak-ng has no language {lang!r}" + (f"; close: {', '.join(close)}" if close else "")
                     + "; see `espeak-ng --voices`")


# --------------------------------------------------------------------------- voices that read a romanization
# espeak-ng 1.51 reads most Han characters as English letter names in its "cmn" voice, while its "cmn-latn-pinyin"
# voice reads pinyin with tone numbers well. polyvox keeps the text in Han characters (what a transcript holds) and
# gives that voice the pinyin of it (pypinyin: offline, its dictionary resolves most polyphones by word).


def pinyin(text: str) -> str:
    """Han characters -> pinyin with tone numbers, one espeak word per word of ``text`` ("中国 美元" -> "zhong1guo2
    mei3yuan2"; neutral tone 5); other characters are kept."""
    from pypinyin import Style, lazy_pinyin

    return " ".join("".join(lazy_pinyin(w, style=Style.TONE3, neutral_tone_with_five=True)) for w in text.split())


# espeak-ng 1.51's Cherokee voice has rules for the Latin transliteration only and prints nothing for the syllabary
# CLDR writes Cherokee in; each syllabary letter's Unicode name is its syllable ("CHEROKEE LETTER TSA" -> tsa). QU is
# written gw, the usual romanization of /kʷ/, which the voice reads as ɡ w (its "j" would be dʒ, its "q" nothing).


def cherokee_latin(text: str) -> str:
    """Cherokee syllabary -> the Latin transliteration espeak-ng's chr voice reads ("ᏣᎳᎩ" -> "tsalagi",
    "ᏆᏂᏏ" -> "gwanisi"); other characters are kept."""
    import unicodedata

    def syllable(ch: str) -> str:
        name = unicodedata.name(ch, "")
        for prefix in ("CHEROKEE LETTER ", "CHEROKEE SMALL LETTER "):
            if name.startswith(prefix):
                return name[len(prefix):].lower().replace("qu", "gw")
        return ch

    return "".join(syllable(ch) for ch in text)


# espeak-ng voice -> what it reads instead of the text itself
READINGS = {"cmn-latn-pinyin": pinyin, "chr": cherokee_latin}
# a language polyvox speaks through such a voice -> that voice ("chr": espeak lists its Cherokee voice as
# chr-US-Qaaa-x-west, a name it then rejects with a +variant, while "chr+m5" works)
READING_VOICES = {"cmn": "cmn-latn-pinyin", "chr": "chr"}


def espeak_reading(text: str, voice: str) -> str:
    """What espeak-ng voice ``voice`` (with or without a ``+variant``) is given to say ``text``: the text itself, or
    its romanization for a voice in :data:`READINGS`."""
    read = READINGS.get(voice.split("+", 1)[0].lower())
    return read(text) if read else text


def espeak_ipa(text: str | Sequence[str], lang: str, *, sep: str = "_") -> str:
    """Raw espeak-ng IPA for a text (or words, joined by spaces), with phonemes separated by ``sep``. A language in
    :data:`READING_VOICES` is read by its romanizing voice."""
    if not isinstance(text, str):
        text = " ".join(text)
    voice = READING_VOICES.get(lang, lang)
    return run_espeak(["-q", "--ipa", "-v", voice] + ([f"--sep={sep}"] if sep else []),
                      input=espeak_reading(text, voice))
