"""Phone inventories of target languages: from espeak-ng for any of its languages (cached), from a manifest's rows,
or from a user's file."""

from __future__ import annotations

import json
import logging
import os
from collections import Counter
from pathlib import Path
from typing import Any, Iterable

from polyvox.data.espeak import espeak_ipa, espeak_version, resolve_espeak_language
from polyvox.data.ipa import WORD_BOUNDARY, nfc, normalize_segments, parse_espeak, warn_unknown
from polyvox.data.paths import default_cache_dir
from polyvox.data.synth.words import sample_words

log = logging.getLogger(__name__)


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
    words, source = sample_words(code, n_words)
    if data is not None and data.get("source") != source:  # cached from other words (an older polyvox): redo
        data = None
    if data is None:
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
        warn_unknown(data["unknown"], f"espeak_inventory({code})")
    return sorted(p for p, c in data["counts"].items() if c >= min_count)



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
        phones.update(nfc(s) for s in segs if s != WORD_BOUNDARY)
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
    return sorted({nfc(p) for p in phones})


def write_inventory(path: str | os.PathLike, phones: Iterable[str]) -> Path:
    """Write phones one per line (the text format :func:`read_inventory` reads)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(p + "\n" for p in sorted(set(phones))), encoding="utf-8")
    return path

