"""Manifests: one JSONL row per utterance, read into small immutable records.

On disk, ``audio`` is a path relative to the manifest file, so a corpus folder can be moved or
copied as a whole. In memory, :func:`read_manifest` resolves it to an absolute path, and
:func:`write_manifest` makes it relative again to wherever the manifest is written.

Row fields::

    id           str    unique within a manifest
    audio        str    path to the audio file
    duration     float  seconds (> 0)
    sample_rate  int    Hz of the file on disk
    language     str    ISO 639 code ("en", "hi", "yue", ...)
    speaker      str    speaker id ("" if unknown)
    text         str    orthographic transcript ("" if none)
    phonemes     str    IPA segments separated by spaces, words by " | " ("" if none)
    custom       dict   task fields: emotion, label, answer, ...
"""

from __future__ import annotations

import copy
import json
import math
import os
import random
from collections import defaultdict
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from types import MappingProxyType
from typing import Any, Callable, Iterable, Iterator, Mapping, Sequence

WORD_BOUNDARY = "|"


class ManifestError(ValueError):
    """A manifest row is malformed; the message names the file, the line and the field."""


@dataclass(frozen=True)
class Utterance:
    id: str
    audio: str
    duration: float
    sample_rate: int
    language: str
    speaker: str = ""
    text: str = ""
    phonemes: str = ""
    custom: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self):
        # Read-only view so a record shared between datasets cannot be changed in place.
        object.__setattr__(self, "custom", MappingProxyType(dict(self.custom)))

    def with_(self, **changes) -> "Utterance":
        """A copy with some fields changed (records are immutable)."""
        return replace(self, **changes)

    def phoneme_list(self, keep_word_boundary: bool = True) -> list[str]:
        """The IPA segments as a list; word boundaries appear as ``"|"`` unless dropped."""
        return [p for p in self.phonemes.split() if keep_word_boundary or p != WORD_BOUNDARY]

    def __reduce__(self):
        # mappingproxy cannot be pickled or deep-copied; rebuild from plain values instead
        # (DataLoader workers, multiprocessing, copy.deepcopy).
        return (type(self), tuple(dict(v) if f.name == "custom" else v for f, v in self._items()))

    def _items(self):
        return [(f, getattr(self, f.name)) for f in fields(self)]

    def to_row(self, relative_to: Path | None = None) -> dict:
        # not dataclasses.asdict: it deep-copies ``custom`` and mappingproxy cannot be copied
        row = {f.name: (copy.deepcopy(dict(v)) if f.name == "custom" else v) for f, v in self._items()}
        if relative_to is not None and os.path.isabs(self.audio):
            row["audio"] = os.path.relpath(self.audio, relative_to)
        return row


_REQUIRED = {"id": str, "audio": str, "duration": (int, float), "sample_rate": int, "language": str}
_OPTIONAL = {"speaker": str, "text": str, "phonemes": str, "custom": dict}
FIELD_NAMES = tuple(f.name for f in fields(Utterance))


def row_to_utterance(row: Any, where: str, root: Path | None = None) -> Utterance:
    """Check one decoded JSON row and build its record. ``where`` is "file:line" for errors."""
    if not isinstance(row, dict):
        raise ManifestError(f"{where}: expected a JSON object, got {type(row).__name__}")
    unknown = set(row) - set(FIELD_NAMES)
    if unknown:
        raise ManifestError(
            f"{where}: unknown field(s) {sorted(unknown)}; task fields belong in 'custom'. "
            f"Allowed: {', '.join(FIELD_NAMES)}"
        )
    for name, typ in _REQUIRED.items():
        if name not in row:
            raise ManifestError(f"{where}: missing required field '{name}'")
        if not isinstance(row[name], typ) or isinstance(row[name], bool):
            raise ManifestError(
                f"{where}: field '{name}' must be {_type_name(typ)}, got {row[name]!r}"
            )
    for name, typ in _OPTIONAL.items():
        if name in row and not isinstance(row[name], typ):
            raise ManifestError(f"{where}: field '{name}' must be {_type_name(typ)}, got {row[name]!r}")
    if not row["id"]:
        raise ManifestError(f"{where}: field 'id' is empty")
    if not (row["duration"] > 0 and math.isfinite(row["duration"])):
        raise ManifestError(f"{where}: field 'duration' must be a positive number of seconds, got {row['duration']!r}")
    if row["sample_rate"] <= 0:
        raise ManifestError(f"{where}: field 'sample_rate' must be a positive integer, got {row['sample_rate']!r}")
    if not row["language"]:
        raise ManifestError(f"{where}: field 'language' is empty; expected an ISO 639 code such as 'en'")
    audio = row["audio"]
    if root is not None and not os.path.isabs(audio):
        audio = str((root / audio).resolve())
    return Utterance(**{**row, "audio": audio, "duration": float(row["duration"])})


def _type_name(typ) -> str:
    if isinstance(typ, tuple):
        return "a number"
    return {str: "a string", int: "an integer", dict: "an object"}[typ]


def manifest_lines(path: str | os.PathLike) -> Iterator[tuple[int, str, Any]]:
    """``(line number, "FILE:LINE", parsed JSON or JSONDecodeError)`` per non-empty line; ManifestError if the file
    is missing. The one reader of manifest files: :func:`read_manifest` stops at a bad line, validation lists it."""
    path = Path(path)
    if not path.exists():
        raise ManifestError(f"{path}: manifest not found")
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as e:
                row = e
            yield lineno, f"{path}:{lineno}", row


def read_manifest(path: str | os.PathLike) -> list[Utterance]:
    """Read a JSONL manifest; audio paths become absolute. Raises ManifestError naming file:line."""
    root = Path(path).resolve().parent
    utts, seen = [], {}
    for lineno, where, row in manifest_lines(path):
        if isinstance(row, json.JSONDecodeError):
            raise ManifestError(f"{where}: not valid JSON ({row.msg} at column {row.colno})")
        utt = row_to_utterance(row, where, root)
        if utt.id in seen:
            raise ManifestError(f"{where}: duplicate id '{utt.id}' (first on line {seen[utt.id]})")
        seen[utt.id] = lineno
        utts.append(utt)
    return utts


def write_manifest(path: str | os.PathLike, utts: Iterable[Utterance]) -> Path:
    """Write rows atomically (temp file + rename), audio paths relative to the manifest."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    root = path.resolve().parent
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        for u in utts:
            f.write(json.dumps(u.to_row(root), ensure_ascii=False) + "\n")
    os.replace(tmp, path)
    return path


def filter_manifest(
    utts: Iterable[Utterance],
    predicate: Callable[[Utterance], bool] | None = None,
    *,
    languages: Sequence[str] | None = None,
    speakers: Sequence[str] | None = None,
    min_duration: float | None = None,
    max_duration: float | None = None,
) -> list[Utterance]:
    """Keep utterances that pass every given condition."""
    langs = set(languages) if languages else None
    spks = set(speakers) if speakers else None
    out = []
    for u in utts:
        if langs is not None and u.language not in langs:
            continue
        if spks is not None and u.speaker not in spks:
            continue
        if min_duration is not None and u.duration < min_duration:
            continue
        if max_duration is not None and u.duration > max_duration:
            continue
        if predicate is not None and not predicate(u):
            continue
        out.append(u)
    return out


def split_manifest(
    utts: Sequence[Utterance],
    fractions: Mapping[str, float] = MappingProxyType({"train": 0.8, "dev": 0.1, "test": 0.1}),
    *,
    seed: int = 0,
    by_speaker: bool = False,
) -> dict[str, list[Utterance]]:
    """Split into named parts, per language so every language appears in every part.

    With ``by_speaker`` whole speakers go to one part (speaker-disjoint splits); the fractions
    are then met in number of speakers, each part getting at least one speaker when a language
    has enough of them.
    """
    names = list(fractions)
    total = sum(fractions.values())
    if total <= 0:
        raise ValueError(f"split fractions must sum to > 0, got {dict(fractions)}")
    rng = random.Random(seed)
    parts: dict[str, list[Utterance]] = {n: [] for n in names}
    by_lang: dict[str, list[Utterance]] = defaultdict(list)
    for u in utts:
        by_lang[u.language].append(u)
    for lang in sorted(by_lang):
        group = by_lang[lang]
        if by_speaker:
            units = sorted({u.speaker for u in group})
        else:
            units = sorted(u.id for u in group)
        rng.shuffle(units)
        counts = _allocate(len(units), [fractions[n] / total for n in names])
        assign, start = {}, 0
        for name, c in zip(names, counts):
            for unit in units[start : start + c]:
                assign[unit] = name
            start += c
        for u in group:
            parts[assign[u.speaker if by_speaker else u.id]].append(u)
    return parts


def _allocate(n: int, shares: list[float]) -> list[int]:
    """Integer counts summing to n, close to shares, each non-zero share getting >= 1 if n allows."""
    counts = [int(n * s) for s in shares]
    live = [i for i, s in enumerate(shares) if s > 0] or list(range(len(shares)))
    i = 0
    while sum(counts) < n:  # remainder goes to the non-empty parts in order (train first)
        counts[live[i % len(live)]] += 1
        i += 1
    for i, s in enumerate(shares):  # "at least one": take from the largest part that can spare one
        largest = counts.index(max(counts))
        if s > 0 and counts[i] == 0 and counts[largest] > 1:
            counts[largest] -= 1
            counts[i] = 1
    return counts


def manifest_stats(utts: Sequence[Utterance]) -> dict:
    """Counts and hours, overall and per language."""
    per_lang: dict[str, dict] = {}
    for u in utts:
        s = per_lang.setdefault(u.language, {"utterances": 0, "seconds": 0.0, "speakers": set()})
        s["utterances"] += 1
        s["seconds"] += u.duration
        s["speakers"].add(u.speaker)
    durations = [u.duration for u in utts]
    return {
        "utterances": len(utts),
        "hours": sum(durations) / 3600,
        "languages": len(per_lang),
        "speakers": len({(u.language, u.speaker) for u in utts}),
        "min_duration": min(durations, default=0.0),
        "max_duration": max(durations, default=0.0),
        "mean_duration": (sum(durations) / len(durations)) if durations else 0.0,
        "per_language": {
            lang: {"utterances": s["utterances"], "minutes": s["seconds"] / 60, "speakers": len(s["speakers"])}
            for lang, s in sorted(per_lang.items())
        },
    }


def format_stats(stats: dict, title: str = "") -> str:
    """A markdown table of :func:`manifest_stats` output."""
    lines = [f"### {title}" if title else ""]
    lines.append(
        f"{stats['utterances']} utterances, {stats['hours'] * 60:.1f} min, {stats['languages']} languages, "
        f"{stats['speakers']} speakers, duration {stats['min_duration']:.2f}-{stats['max_duration']:.2f} s "
        f"(mean {stats['mean_duration']:.2f} s)"
    )
    lines += ["", "| language | utterances | minutes | speakers |", "|---|---:|---:|---:|"]
    for lang, s in stats["per_language"].items():
        lines.append(f"| {lang} | {s['utterances']} | {s['minutes']:.1f} | {s['speakers']} |")
    return "\n".join(l for l in lines if l is not None).strip("\n")


def read_manifests(paths: Sequence[Path]) -> list[Utterance]:
    """Rows of several manifests, in order. Raises ManifestError naming the file on a bad row or
    an id that occurs in two of them."""
    from polyvox.data.manifest import ManifestError

    out, where = [], {}
    for p in paths:
        for u in read_manifest(p):
            if u.id in where:
                raise ManifestError(f"{p}: id '{u.id}' also occurs in {where[u.id]}")
            where[u.id] = p
            out.append(u)
    return out


def take_minutes(utts: Sequence[Utterance], minutes: float, seed: int = 0) -> list[Utterance]:
    """A seeded random subset with about ``minutes`` of audio per language (at least one utterance)."""
    by_lang: dict[str, list[Utterance]] = {}
    for u in utts:
        by_lang.setdefault(u.language, []).append(u)
    out = []
    for lang in sorted(by_lang):
        pool = list(by_lang[lang])
        random.Random(f"{seed}-{lang}").shuffle(pool)
        total = 0.0
        for u in pool:
            if total >= minutes * 60:
                break
            out.append(u)
            total += u.duration
    return out


def take_per_language(utts: Sequence[Utterance], n: int) -> list[Utterance]:
    """The first ``n`` utterances of each language (manifest order)."""
    seen: dict[str, int] = {}
    out = []
    for u in utts:
        if seen.get(u.language, 0) < n:
            out.append(u)
            seen[u.language] = seen.get(u.language, 0) + 1
    return out
