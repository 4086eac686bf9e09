"""Common Voice: a release folder (``clips/`` + ``train/dev/test.tsv``) -> manifests whose audio paths point at the
original clips (nothing is copied). Rows whose clip is missing or unreadable are skipped and reported, or stop the
call (``on_error``); see :mod:`polyvox.data.corpora.common` for the idempotency record."""

from __future__ import annotations

import csv
import os
from pathlib import Path
from typing import Sequence

from polyvox.data.manifest import Utterance
from polyvox.data.corpora.common import CorpusError, Problems, fingerprint_files, finish, probe_or_skip, reuse

CV_SPLITS = ("train", "dev", "test")
CV_REQUIRED = ("client_id", "path", "sentence")
CV_NOT_CUSTOM = {"client_id", "path", "sentence", "locale"}


def prepare_common_voice(
    cv_dir: str | os.PathLike,
    out_dir: str | os.PathLike,
    *,
    language: str | None = None,
    splits: Sequence[str] = CV_SPLITS,
    on_error: str = "skip",
    decode: bool = False,
    force: bool = False,
) -> dict[str, Path]:
    """Manifests for a Common Voice release folder (``cv-corpus-*/<lang>/``).

    Reads ``<split>.tsv`` (client_id, path, sentence, up_votes, ..., locale, segment[, sentence_id])
    for each split present, clips from ``clips/``. Speaker = client_id; language = ``language`` if
    given, else the row's ``locale``, else the folder name. Durations come from the clip headers
    (``decode=True`` also decodes every clip). Other non-empty columns go to ``custom``.
    """
    cv_dir, out_dir = Path(cv_dir).resolve(), Path(out_dir)
    clips = cv_dir / "clips"
    tsvs = {s: cv_dir / f"{s}.tsv" for s in splits if (cv_dir / f"{s}.tsv").exists()}
    if not tsvs:
        raise CorpusError(
            f"{cv_dir}: no Common Voice split files; expected {', '.join(s + '.tsv' for s in splits)} "
            "beside a clips/ folder"
        )
    if not clips.is_dir():
        raise CorpusError(f"{cv_dir}: no clips/ folder")
    inputs = {
        "corpus": "common_voice",
        "source": str(cv_dir),
        "language": language,
        "splits": list(tsvs),
        "on_error": on_error,
        "decode": decode,
        "files": fingerprint_files(tsvs.values()),
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    if (done := reuse(out_dir, inputs, force)) is not None:
        return done
    problems = Problems(on_error)
    folder_lang = cv_dir.name
    parts: dict[str, list[Utterance]] = {}
    seen: dict[str, str] = {}
    for split, tsv in tsvs.items():
        parts[split] = []
        with open(tsv, encoding="utf-8", newline="") as f:
            reader = csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE)
            header = next(reader, None)
            if header is None:
                raise CorpusError(f"{tsv}: empty file, expected a header row with {', '.join(CV_REQUIRED)}")
            missing = [c for c in CV_REQUIRED if c not in header]
            if missing:
                raise CorpusError(f"{tsv}:1: missing column(s) {missing}; header is {header}")
            for lineno, values in enumerate(reader, 2):
                where = f"{tsv}:{lineno}"
                if not any(values):
                    continue
                if len(values) != len(header):
                    problems.add(where, f"malformed row: {len(values)} tab-separated fields, header has {len(header)}")
                    continue
                row = dict(zip(header, values))
                clip = clips / row["path"]
                uid = Path(row["path"]).stem
                if uid in seen:
                    problems.add(where, f"duplicate clip '{row['path']}' (first at {seen[uid]})", id=uid)
                    continue
                if (probed := probe_or_skip(problems, where, clip, decode, uid)) is None:
                    continue
                sr, duration = probed
                seen[uid] = where
                custom = {k: v for k, v in row.items() if k not in CV_NOT_CUSTOM and v != ""}
                parts[split].append(
                    Utterance(
                        id=uid,
                        audio=str(clip),
                        duration=duration,
                        sample_rate=sr,
                        language=language or row.get("locale") or folder_lang,
                        speaker=row["client_id"],
                        text=row["sentence"],
                        custom=custom,
                    )
                )
    return finish(out_dir, inputs, parts, problems.rows)

