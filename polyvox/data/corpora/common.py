"""What every corpus loader shares: :class:`CorpusError`, skip-or-raise bookkeeping of bad rows, and the idempotency
record that lets ``prepare_<corpus>()`` return the manifests of an earlier call with the same inputs untouched.

``out_dir/prepare.json`` records the inputs (options and the source files' sizes/mtimes or fingerprints) and the
manifest names; it is written last, so an interrupted call is redone, never half-reused.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Iterable, Mapping, Sequence

from polyvox.data.audio import AudioError, audio_info, load_audio
from polyvox.data.manifest import Utterance, write_manifest

REPORT_NAME = "prepare_report.jsonl"
INFO_NAME = "prepare.json"
ON_ERROR = ("skip", "raise")
SPLITS = ("train", "dev", "test")


class CorpusError(ValueError):
    """A corpus cannot be prepared; the message names the file (and row) and what was expected."""


class Problems:
    """Collects skipped rows (on_error="skip") or raises on the first (on_error="raise")."""

    def __init__(self, on_error: str):
        if on_error not in ON_ERROR:
            raise ValueError(f"on_error must be one of {ON_ERROR}, got {on_error!r}")
        self.on_error = on_error
        self.rows: list[dict] = []

    def add(self, where: str, reason: str, **fields) -> None:
        if self.on_error == "raise":
            raise CorpusError(f"{where}: {reason}")
        self.rows.append({"where": where, **fields, "reason": reason})


def fingerprint_files(paths: Iterable[Path]) -> dict:
    out = {}
    for p in paths:
        st = p.stat()
        out[str(p)] = [st.st_size, st.st_mtime_ns]
    return out


def reuse(out_dir: Path, inputs: dict, force: bool = False) -> dict[str, Path] | None:
    """The manifests of an earlier run with the same inputs, or None (and the stale record removed)."""
    info = out_dir / INFO_NAME
    if not info.exists():
        return None
    if not force:
        try:
            saved = json.loads(info.read_text(encoding="utf-8"))
            same = saved.get("inputs") == json.loads(json.dumps(inputs))
            manifests = {k: out_dir / v for k, v in saved.get("manifests", {}).items()}
        except (json.JSONDecodeError, AttributeError, TypeError):
            same, manifests = False, {}
        if same and manifests and all(p.exists() for p in manifests.values()):
            return manifests
    info.unlink()  # written again only once the new manifests are complete
    return None


def finish(out_dir: Path, inputs: dict, parts: Mapping[str, list[Utterance]], skipped: list[dict],
           report_name: str = REPORT_NAME) -> dict[str, Path]:
    """Write ``<split>.jsonl`` for each part, the report of skipped rows (one JSON object per line, possibly
    empty) and, last, the record :func:`reuse` reads."""
    manifests = {}
    for split, utts in parts.items():
        manifests[split] = write_manifest(out_dir / f"{split}.jsonl", utts)
    with open(out_dir / report_name, "w", encoding="utf-8") as f:
        for row in skipped:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
    record = {"inputs": inputs, "manifests": {k: p.name for k, p in manifests.items()}}
    (out_dir / INFO_NAME).write_text(json.dumps(record, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return manifests


def probe(path: Path, decode: bool) -> tuple[int, float]:
    """(sample_rate, duration) of a file on disk; AudioError if it is unusable."""
    info = audio_info(path)
    if decode:  # full decode: catches NaN/inf, silence and bodies broken past the header
        load_audio(path, info.sample_rate)
    return info.sample_rate, info.duration


def probe_or_skip(problems: Problems, where: str, path: Path, decode: bool, uid: str) -> tuple[int, float] | None:
    """:func:`probe`; an unusable file is added to ``problems`` (skipped, or raised) and gives None."""
    try:
        return probe(path, decode)
    except AudioError as e:
        problems.add(where, str(e), id=uid, audio=str(path))
        return None


def safe_name(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("._") or "utt"


def pick_column(explicit: str | None, candidates: Sequence[str], columns: Sequence[str], what: str, where: str):
    if explicit:
        if explicit not in columns:
            raise CorpusError(f"{where}: no {what} column '{explicit}'; columns are {list(columns)}")
        return explicit
    return next((c for c in candidates if c in columns), None)
