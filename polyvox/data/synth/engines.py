"""Speech engines other than espeak-ng for the built-in corpus: voices espeak never made (Debian's flite and
festival voices, built from recordings of people), for a wider training corpus and held-out-engine tests.

One small interface per engine (plain data + two functions): which voices are installed for a language, and how to
speak a text into a wav. The phonemes of their speech come from espeak-ng's IPA of the same text (espeak as a G2P),
cleaned by the same rules as espeak's own speech (:func:`polyvox.data.synth.corpus.synthesize_one`).
A missing engine or voice is reported with the Debian package to install; the corpus builds from what is there.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from polyvox.data.espeak import EspeakError

FESTIVAL_VOICES_DIR = Path("/usr/share/festival/voices")
# festival's voice folders are grouped by language name
FESTIVAL_LANGUAGES = {"english": "en", "italian": "it", "czech": "cs", "russian": "ru", "finnish": "fi",
                      "hindi": "hi", "marathi": "mr", "telugu": "te", "catalan": "ca", "spanish": "es"}
# the text encoding festival's front end reads, per language folder (checked by ear-free means: the wrong one spells
# the bytes out, several times longer); ISO-8859-1 for the rest (Italian "à", Finnish "ä" as one byte)
FESTIVAL_ENCODINGS = {"czech": "iso-8859-2", "russian": "utf-8", "hindi": "utf-8", "marathi": "utf-8",
                      "telugu": "utf-8"}
FLITE_VOICES = {"en": ("awb", "kal16", "rms", "slt")}  # compiled into Debian's flite


@dataclass(frozen=True)
class Engine:
    name: str
    binary: str  # what must be on PATH
    package: str  # the Debian package(s) that provide it and its default voices


ENGINES = {
    "flite": Engine("flite", "flite", "flite"),
    "festival": Engine("festival", "text2wave", "festival festvox-kallpc16k (more voices: festvox-*)"),
}
# Debian packages of festival voices by language (the Makefile installs all of them)
FESTIVAL_PACKAGES = {
    "en": "festvox-kallpc16k festvox-kdlpc16k", "it": "festvox-italp16k festvox-itapc16k",
    "cs": "festvox-czech-dita festvox-czech-ph", "fi": "festvox-suopuhe-lj festvox-suopuhe-mv",
    "ca": "festvox-ca-ona-hts", "ru": "festvox-ru", "hi": "festvox-hi-nsk", "mr": "festvox-mr-nsk",
    "te": "festvox-te-nsk",
}


def check_engines(names) -> None:
    """ValueError naming the known engines unless every name is espeak or one of :data:`ENGINES`."""
    unknown = [n for n in names if n != "espeak" and n not in ENGINES]
    if unknown:
        raise ValueError(f"unknown speech engine(s) {unknown}; choose from espeak, {', '.join(ENGINES)}")


def missing(engine: str) -> str | None:
    """Why ``engine`` cannot speak on this machine (with the package to install), or None."""
    e = ENGINES[engine]
    if shutil.which(e.binary) is None:
        return f"{engine}: {e.binary} not found on PATH; install it with 'apt-get install {e.package}'"
    return None


def voices(engine: str, code: str) -> list[str]:
    """Installed voices of ``engine`` that speak language ``code`` (manifest code), sorted; [] if none."""
    if missing(engine):
        return []
    if engine == "flite":
        return list(FLITE_VOICES.get(code, ()))
    out = []
    for lang_dir, lang in FESTIVAL_LANGUAGES.items():
        if lang == code and (FESTIVAL_VOICES_DIR / lang_dir).is_dir():  # "suopuhe.common": shared files, no voice
            out += [p.name for p in (FESTIVAL_VOICES_DIR / lang_dir).iterdir() if p.is_dir() and "." not in p.name]
    return sorted(out)


def install_hint(engine: str, code: str) -> str:
    """'; apt-get install PACKAGES' for voices of ``engine`` in language ``code`` that Debian packages, else ''."""
    packages = FESTIVAL_PACKAGES.get(code) if engine == "festival" else None
    return f"; Debian has voices for it: apt-get install {packages}" if packages else ""


def festival_encoding(voice: str) -> str:
    """The encoding festival's front end expects for ``voice`` (by its language folder)."""
    for lang_dir, encoding in FESTIVAL_ENCODINGS.items():
        if (FESTIVAL_VOICES_DIR / lang_dir / voice).is_dir():
            return encoding
    return "latin-1"


def speak(engine: str, voice: str, text: str, wav: Path) -> None:
    """Write ``text`` spoken by ``voice`` of ``engine`` to ``wav``; EspeakError-style error with stderr on failure
    (one error type for every engine the corpus calls)."""
    if engine == "flite":
        cmd, stdin = ["flite", "-voice", voice, "-t", text, "-o", str(wav)], None
    elif engine == "festival":
        cmd, stdin = ["text2wave", "-eval", f"(voice_{voice})", "-o", str(wav)], text.encode(festival_encoding(voice),
                                                                                             "replace")
    else:
        raise ValueError(f"unknown speech engine {engine!r}")
    res = subprocess.run(cmd, input=stdin, capture_output=True)
    if res.returncode != 0 or not wav.exists():
        err = res.stderr.decode("utf-8", "replace").strip()[-500:]
        raise EspeakError(f"{' '.join(cmd)} failed ({res.returncode}): {err}")
