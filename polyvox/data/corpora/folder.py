"""A folder of audio files described by a CSV/TSV (one row per file) -> manifests; splits from a split column, or
drawn by fractions (optionally speaker-disjoint). Audio paths point at the original files."""

from __future__ import annotations

import csv
import os
from pathlib import Path
from typing import Mapping

from polyvox.data.manifest import Utterance, split_manifest
from polyvox.data.corpora.common import CorpusError, Problems, fingerprint_files, finish, pick_column, probe_or_skip, reuse

FOLDER_AUDIO_COLUMNS = ("path", "file", "audio", "filename", "wav")
DEFAULT_FRACTIONS = {"train": 0.8, "dev": 0.1, "test": 0.1}


def prepare_folder(
    audio_dir: str | os.PathLike,
    csv_path: str | os.PathLike,
    out_dir: str | os.PathLike,
    *,
    audio_column: str | None = None,
    text_column: str = "text",
    speaker_column: str = "speaker",
    language_column: str = "language",
    language: str | None = None,
    id_column: str = "id",
    split_column: str = "split",
    fractions: Mapping[str, float] = DEFAULT_FRACTIONS,
    by_speaker: bool = False,
    seed: int = 0,
    delimiter: str | None = None,
    on_error: str = "skip",
    decode: bool = False,
    force: bool = False,
) -> dict[str, Path]:
    """Manifests for a folder of audio files described by a CSV (or TSV) file.

    Columns: audio path relative to ``audio_dir`` (``audio_column``, default the first of
    ``path``/``file``/``audio``/``filename``/``wav``), ``text``, optional ``speaker``, ``language``
    (else ``language``), ``id`` (else the path without extension), ``split`` (else the rows are split
    by :func:`split_manifest` with ``fractions``/``by_speaker``/``seed``). Every other non-empty
    column goes to ``custom``. Audio is not copied.
    """
    audio_dir, csv_path, out_dir = Path(audio_dir).resolve(), Path(csv_path).resolve(), Path(out_dir)
    if not audio_dir.is_dir():
        raise CorpusError(f"{audio_dir}: audio folder not found")
    if not csv_path.exists():
        raise CorpusError(f"{csv_path}: CSV file not found")
    if delimiter is None:
        delimiter = "\t" if csv_path.suffix.lower() in (".tsv", ".tab") else ","
    with open(csv_path, encoding="utf-8-sig", newline="") as f:
        reader = csv.reader(f, delimiter=delimiter)
        header = next(reader, None)
        rows = list(enumerate(reader, 2))
    if not header:
        raise CorpusError(f"{csv_path}: empty file, expected a header row")
    audio_c = pick_column(audio_column, FOLDER_AUDIO_COLUMNS, header, "audio", str(csv_path))
    if audio_c is None:
        raise CorpusError(
            f"{csv_path}:1: no audio path column; expected one of {list(FOLDER_AUDIO_COLUMNS)} "
            f"(or pass audio_column), header is {header}"
        )
    text_c = text_column if text_column in header else None
    spk_c = speaker_column if speaker_column in header else None
    lang_c = language_column if language_column in header else None
    id_c = id_column if id_column in header else None
    split_c = split_column if split_column in header else None
    if lang_c is None and not language:
        raise CorpusError(f"{csv_path}:1: no '{language_column}' column; pass language='xx'")
    inputs = {
        "corpus": "folder",
        "source": str(audio_dir),
        "csv": str(csv_path),
        "columns": [audio_c, text_c, spk_c, lang_c, id_c, split_c],
        "language": language,
        "fractions": None if split_c else dict(fractions),
        "by_speaker": by_speaker,
        "seed": seed,
        "delimiter": delimiter,
        "on_error": on_error,
        "decode": decode,
        "files": fingerprint_files([csv_path]),
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    if (done := reuse(out_dir, inputs, force)) is not None:
        return done
    problems = Problems(on_error)
    named = {audio_c, text_c, spk_c, lang_c, id_c, split_c}
    utts: list[Utterance] = []
    split_of: dict[str, str] = {}
    seen: dict[str, str] = {}
    for lineno, values in rows:
        where = f"{csv_path}:{lineno}"
        if not any(v.strip() for v in values):
            continue
        if len(values) != len(header):
            problems.add(where, f"malformed row: {len(values)} fields, header has {len(header)}")
            continue
        row = dict(zip(header, values))
        rel = row[audio_c].strip()
        if not rel:
            problems.add(where, f"empty '{audio_c}'")
            continue
        path = Path(rel) if os.path.isabs(rel) else audio_dir / rel
        uid = (row[id_c].strip() if id_c else "") or Path(rel).with_suffix("").as_posix()
        if uid in seen:
            problems.add(where, f"duplicate id '{uid}' (first at {seen[uid]})", id=uid)
            continue
        lang = (row[lang_c].strip() if lang_c else "") or (language or "")
        if not lang:
            problems.add(where, f"empty '{lang_c}' and no default language", id=uid)
            continue
        if split_c and not row[split_c].strip():
            problems.add(where, f"empty '{split_c}'", id=uid)
            continue
        if (probed := probe_or_skip(problems, where, path, decode, uid)) is None:
            continue
        sr, duration = probed
        seen[uid] = where
        if split_c:
            split_of[uid] = row[split_c].strip()
        utts.append(
            Utterance(
                id=uid,
                audio=str(path),
                duration=duration,
                sample_rate=sr,
                language=lang,
                speaker=row[spk_c].strip() if spk_c else "",
                text=row[text_c] if text_c else "",
                custom={k: v for k, v in row.items() if k not in named and v != ""},
            )
        )
    if split_c:
        parts: dict[str, list[Utterance]] = {}
        for u in utts:
            parts.setdefault(split_of[u.id], []).append(u)
    else:
        parts = split_manifest(utts, fractions, seed=seed, by_speaker=by_speaker)
    return finish(out_dir, inputs, parts, problems.rows)

