"""Turn real corpora into polyvox manifests (``polyvox prepare <corpus>``).

Each loader is ``prepare_<corpus>(source, out_dir, ...) -> {split: manifest path}`` and writes
``out_dir/<split>.jsonl``. Loaders are idempotent: ``out_dir/prepare.json`` records the inputs
(options and the source files' sizes/mtimes or the dataset fingerprints); a re-run with the same
inputs returns the existing manifests untouched, and any re-run writes byte-identical manifests.

Rows whose audio is missing or unreadable are handled per ``on_error``: ``"skip"`` leaves them out
and lists them in ``out_dir/prepare_report.jsonl`` (one JSON object per skipped row, with the source
file/row and the reason); ``"raise"`` stops at the first one with a :class:`CorpusError`.

Common Voice and folder+CSV audio is not copied: manifest paths point at the original files
(relative to the manifest). Hugging Face datasets are decoded through :mod:`polyvox.data.audio`
(never torchcodec) and written as 16-bit mono WAVs under ``out_dir/wavs/``.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import re
import sys
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence

from polyvox.data.audio import (
    DEFAULT_SAMPLE_RATE,
    AudioError,
    audio_info,
    load_audio,
    load_audio_bytes,
    resample,
    save_audio,
)
from polyvox.data.manifest import Utterance, split_manifest, write_manifest

REPORT_NAME = "prepare_report.jsonl"
INFO_NAME = "prepare.json"
ON_ERROR = ("skip", "raise")
CV_SPLITS = ("train", "dev", "test")
CV_REQUIRED = ("client_id", "path", "sentence")
CV_NOT_CUSTOM = {"client_id", "path", "sentence", "locale"}
HF_DEFAULT_SPLIT_MAP = {"train": "train", "validation": "dev", "valid": "dev", "dev": "dev", "test": "test"}
HF_TEXT_COLUMNS = ("sentence", "text", "transcription", "transcript", "normalized_text", "raw_text")
HF_SPEAKER_COLUMNS = ("speaker_id", "speaker", "client_id")
FOLDER_AUDIO_COLUMNS = ("path", "file", "audio", "filename", "wav")
DEFAULT_FRACTIONS = {"train": 0.8, "dev": 0.1, "test": 0.1}


class CorpusError(ValueError):
    """A corpus cannot be prepared; the message names the file (and row) and what was expected."""


# ---------------------------------------------------------------------------- shared helpers


class _Problems:
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


def _fingerprint_files(paths: Iterable[Path]) -> dict:
    out = {}
    for p in paths:
        st = p.stat()
        out[str(p)] = [st.st_size, st.st_mtime_ns]
    return out


def _reuse(out_dir: Path, inputs: dict, force: bool) -> dict[str, Path] | None:
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


def _finish(out_dir: Path, inputs: dict, parts: Mapping[str, list[Utterance]], problems: _Problems) -> dict[str, Path]:
    manifests = {}
    for split, utts in parts.items():
        manifests[split] = write_manifest(out_dir / f"{split}.jsonl", utts)
    with open(out_dir / REPORT_NAME, "w", encoding="utf-8") as f:
        for row in problems.rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
    record = {"inputs": inputs, "manifests": {k: p.name for k, p in manifests.items()}}
    (out_dir / INFO_NAME).write_text(json.dumps(record, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return manifests


def _probe(path: Path, decode: bool) -> tuple[int, float]:
    """(sample_rate, duration) of a file on disk; AudioError if it is unusable."""
    info = audio_info(path)
    if decode:  # full decode: catches NaN/inf, silence and bodies broken past the header
        load_audio(path, info.sample_rate)
    return info.sample_rate, info.duration


def _safe_name(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("._") or "utt"


# ---------------------------------------------------------------------------- Common Voice


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
        "files": _fingerprint_files(tsvs.values()),
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    if (done := _reuse(out_dir, inputs, force)) is not None:
        return done
    problems = _Problems(on_error)
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
                try:
                    sr, duration = _probe(clip, decode)
                except AudioError as e:
                    problems.add(where, str(e), id=uid, audio=str(clip))
                    continue
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
    return _finish(out_dir, inputs, parts, problems)


# ---------------------------------------------------------------------------- Hugging Face datasets


def _load_hf(source: str, config_name: str | None, cache_dir: str | None = None):
    """A DatasetDict (or Dataset) from a saved dataset dir, a local data folder, or a hub id."""
    import datasets

    path = Path(source)
    try:
        if path.exists():
            if (path / "dataset_dict.json").exists() or (path / "state.json").exists():
                return datasets.load_from_disk(str(path))
            return datasets.load_dataset(str(path), config_name, cache_dir=cache_dir)  # parquet/csv/audiofolder
        return datasets.load_dataset(source, config_name, cache_dir=cache_dir)  # hub id: network or HF cache
    except Exception as e:  # datasets raises many types; the user needs the source and the cause
        what = "a local dataset folder" if path.exists() else "a hub id (needs the network or the HF cache)"
        raise CorpusError(f"{source}: cannot load it as {what}: {type(e).__name__}: {e}") from e


def _hf_audio(value: Any, name: str, base: Path | None, sample_rate: int, decode_fn: Callable):
    """Decode one audio cell (``{"bytes","path"}``, a path, or ``{"array","sampling_rate"}``)."""
    import numpy as np

    if value is None:
        raise AudioError(name, "no audio in this row")
    if isinstance(value, str):
        value = {"bytes": None, "path": value}
    if isinstance(value, dict) and value.get("array") is not None:
        arr = np.asarray(value["array"], dtype=np.float32)
        if arr.ndim == 2:  # (channels, time) as datasets stores it
            arr = arr.mean(axis=0)
        if arr.size == 0 or not np.isfinite(arr).all():
            raise AudioError(name, "empty audio or NaN/inf samples")
        wav = resample(arr, int(value["sampling_rate"]), sample_rate)
        return wav, len(wav) / sample_rate
    if isinstance(value, dict) and value.get("bytes"):
        return load_audio_bytes(value["bytes"], sample_rate, name=value.get("path") or name)
    if isinstance(value, dict) and value.get("path"):
        p = Path(value["path"])
        if not p.is_absolute() and base is not None:
            p = base / p
        return decode_fn(p, sample_rate)
    raise AudioError(name, f"audio cell has neither bytes, a path nor an array: {type(value).__name__}")


def _column(explicit: str | None, candidates: Sequence[str], columns: Sequence[str], what: str, where: str):
    if explicit:
        if explicit not in columns:
            raise CorpusError(f"{where}: no {what} column '{explicit}'; columns are {list(columns)}")
        return explicit
    return next((c for c in candidates if c in columns), None)


def prepare_hf(
    source: str | os.PathLike,
    out_dir: str | os.PathLike,
    *,
    config_name: str | None = None,
    audio_column: str = "audio",
    text_column: str | None = None,
    speaker_column: str | None = None,
    language_column: str | None = None,
    language: str | None = None,
    id_column: str | None = None,
    split_map: Mapping[str, str] | None = None,
    sample_rate: int = DEFAULT_SAMPLE_RATE,
    cache_dir: str | os.PathLike | None = None,
    on_error: str = "skip",
    force: bool = False,
) -> dict[str, Path]:
    """Manifests for a Hugging Face ``datasets`` audio dataset.

    ``source``: a ``save_to_disk`` folder, a local data folder for ``load_dataset``, or a hub id.
    The audio column is read with ``Audio(decode=False)`` and decoded through polyvox.data.audio,
    written as mono WAV at ``sample_rate`` to ``out_dir/wavs/``. Text/speaker columns default to the
    first of :data:`HF_TEXT_COLUMNS` / :data:`HF_SPEAKER_COLUMNS` present ("" if none). Language is the
    ``language_column`` value, else ``language``. ``split_map`` maps source splits to ours (only mapped
    splits are kept); by default validation -> dev and every split is kept. A single Dataset is "train".
    Other scalar columns go to ``custom`` (ClassLabel values as their names). ``cache_dir`` is
    ``load_dataset``'s (not used for ``save_to_disk`` folders).
    """
    from datasets import Audio, ClassLabel, DatasetDict

    out_dir = Path(out_dir)
    src = str(source)
    local = Path(src).exists()
    if local:
        src = str(Path(src).resolve())
    if not language and not language_column:
        raise CorpusError(f"{src}: no language given; pass language='xx' or language_column=<column>")
    loaded = _load_hf(src, config_name, str(cache_dir) if cache_dir else None)
    if not isinstance(loaded, (DatasetDict, dict)):
        loaded = {"train": loaded}
    mapping = dict(split_map) if split_map else {s: HF_DEFAULT_SPLIT_MAP.get(s, s) for s in loaded}
    unknown = [s for s in mapping if s not in loaded]
    if unknown:
        raise CorpusError(f"{src}: split(s) {unknown} not in the dataset; it has {list(loaded)}")
    inputs = {
        "corpus": "hf",
        "source": src,
        "config_name": config_name,
        "columns": [audio_column, text_column, speaker_column, language_column, id_column],
        "language": language,
        "split_map": mapping,
        "sample_rate": sample_rate,
        "on_error": on_error,
        "fingerprints": {s: getattr(loaded[s], "_fingerprint", None) for s in mapping},
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    if (done := _reuse(out_dir, inputs, force)) is not None:
        return done
    problems = _Problems(on_error)
    base = Path(src) if local else None
    wav_dir = out_dir / "wavs"
    parts: dict[str, list[Utterance]] = {}
    used_ids: set[str] = set()
    used_files: set[str] = set()
    for src_split, split in mapping.items():
        ds = loaded[src_split]
        where0 = f"{src}[{src_split}]"
        columns = list(ds.column_names)
        if audio_column not in columns:
            raise CorpusError(f"{where0}: no audio column '{audio_column}'; columns are {columns}")
        text_c = _column(text_column, HF_TEXT_COLUMNS, columns, "text", where0)
        spk_c = _column(speaker_column, HF_SPEAKER_COLUMNS, columns, "speaker", where0)
        lang_c = _column(language_column, (), columns, "language", where0)
        id_c = _column(id_column, (), columns, "id", where0)
        if isinstance(ds.features.get(audio_column), Audio):
            ds = ds.cast_column(audio_column, Audio(decode=False))  # no torchcodec: we decode the bytes
        named = {c: ds.features[c] for c in columns if isinstance(ds.features.get(c), ClassLabel)}
        extra = [c for c in columns if c not in {audio_column, text_c, spk_c, lang_c, id_c}]
        parts.setdefault(split, [])
        for i, row in enumerate(ds):
            where = f"{where0} row {i}"
            uid = str(row[id_c]) if id_c else f"{split}_{i:06d}"
            if uid in used_ids:
                problems.add(where, f"duplicate id '{uid}'", id=uid)
                continue
            lang = (str(row[lang_c]) if lang_c and row[lang_c] is not None else "") or (language or "")
            if not lang:
                problems.add(where, f"empty language in column '{lang_c}' and no default language", id=uid)
                continue
            try:
                wav, duration = _hf_audio(row[audio_column], where, base, sample_rate, load_audio)
                if len(wav) == 0:
                    raise AudioError(where, "no audio samples")
            except AudioError as e:
                problems.add(where, str(e), id=uid)
                continue
            fname = _safe_name(uid)
            if fname in used_files:
                fname = f"{fname}_{split}_{i}"
            used_files.add(fname)
            used_ids.add(uid)
            wav_path = save_audio(wav_dir / f"{fname}.wav", wav, sample_rate)
            custom = {}
            for c in extra:
                v = row[c]
                if c in named and isinstance(v, int) and v >= 0:
                    v = named[c].int2str(v)
                if isinstance(v, (str, int, float, bool)) and v != "":
                    custom[c] = v
            parts[split].append(
                Utterance(
                    id=uid,
                    audio=str(wav_path.resolve()),
                    duration=duration,
                    sample_rate=sample_rate,
                    language=lang,
                    speaker=str(row[spk_c]) if spk_c and row[spk_c] is not None else "",
                    text=str(row[text_c]) if text_c and row[text_c] is not None else "",
                    custom=custom,
                )
            )
    return _finish(out_dir, inputs, parts, problems)


# ---------------------------------------------------------------------------- folder of audio + CSV


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
    audio_c = _column(audio_column, FOLDER_AUDIO_COLUMNS, header, "audio", str(csv_path))
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
        "files": _fingerprint_files([csv_path]),
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    if (done := _reuse(out_dir, inputs, force)) is not None:
        return done
    problems = _Problems(on_error)
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
        try:
            sr, duration = _probe(path, decode)
        except AudioError as e:
            problems.add(where, str(e), id=uid, audio=str(path))
            continue
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
    return _finish(out_dir, inputs, parts, problems)


# ---------------------------------------------------------------------------- CLI


def _parse_map(text: str) -> dict[str, str]:
    out = {}
    for item in filter(None, (t.strip() for t in text.split(","))):
        src, sep, dst = item.partition("=")
        if not sep or not src or not dst:
            raise argparse.ArgumentTypeError(f"expected SRC=DST[,SRC=DST...], got {item!r}")
        out[src] = dst
    return out


def _parse_fractions(text: str) -> dict[str, float]:
    out = {}
    for item in filter(None, (t.strip() for t in text.split(","))):
        name, sep, value = item.partition("=")
        try:
            if not sep or not name:
                raise ValueError
            out[name] = float(value)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"expected NAME=FRACTION[,...] e.g. train=0.8,dev=0.1,test=0.1, got {item!r}"
            ) from None
    return out


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", required=True, type=Path, help="output folder for <split>.jsonl manifests")
    p.add_argument("--on-error", choices=ON_ERROR, default="skip",
                   help=f"skip bad rows into OUT/{REPORT_NAME} (default) or stop at the first")
    p.add_argument("--force", action="store_true", help="redo even if OUT holds a run with the same inputs")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="corpus", metavar="CORPUS", required=True)

    p = sub.add_parser("common_voice", help="a Common Voice release folder (clips/ + train/dev/test.tsv)")
    p.add_argument("cv_dir", type=Path, metavar="CV_LANG_DIR", help="e.g. cv-corpus-17.0/en")
    p.add_argument("--language", help="language code for every row (default: locale column, else folder name)")
    p.add_argument("--splits", default=",".join(CV_SPLITS), help="comma-separated TSV names (default train,dev,test)")
    p.add_argument("--decode", action="store_true", help="decode every clip, not only its header")
    _common(p)

    p = sub.add_parser("hf", help="a Hugging Face datasets audio dataset (saved folder, data folder or hub id)")
    p.add_argument("source", metavar="DATASET_PATH_OR_ID")
    p.add_argument("--config", dest="config_name", help="dataset configuration name (load_dataset's name)")
    p.add_argument("--audio-column", default="audio")
    p.add_argument("--text-column", help=f"default: first present of {', '.join(HF_TEXT_COLUMNS)}")
    p.add_argument("--speaker-column", help=f"default: first present of {', '.join(HF_SPEAKER_COLUMNS)}")
    p.add_argument("--language-column")
    p.add_argument("--language", help="language code where no --language-column value")
    p.add_argument("--id-column", help="default: <split>_<row index>")
    p.add_argument("--split-map", type=_parse_map, help="e.g. train=train,validation=dev,test=test (others dropped)")
    p.add_argument("--sample-rate", type=int, default=DEFAULT_SAMPLE_RATE)
    p.add_argument("--cache-dir", help="datasets cache folder for load_dataset (default: the HF cache)")
    _common(p)

    p = sub.add_parser("folder", help="a folder of audio files described by a CSV/TSV")
    p.add_argument("audio_dir", type=Path, metavar="AUDIO_DIR")
    p.add_argument("--csv", required=True, type=Path, help="CSV (or .tsv) with one row per file")
    p.add_argument("--audio-column", help=f"default: first present of {', '.join(FOLDER_AUDIO_COLUMNS)}")
    p.add_argument("--text-column", default="text")
    p.add_argument("--speaker-column", default="speaker")
    p.add_argument("--language-column", default="language")
    p.add_argument("--language", help="language code where the CSV has no language value")
    p.add_argument("--id-column", default="id")
    p.add_argument("--split-column", default="split")
    p.add_argument("--fractions", type=_parse_fractions, default=dict(DEFAULT_FRACTIONS),
                   help="used when the CSV has no split column (default train=0.8,dev=0.1,test=0.1)")
    p.add_argument("--speaker-disjoint", action="store_true", help="whole speakers go to one split")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--delimiter", help="default: tab for .tsv, else comma")
    p.add_argument("--decode", action="store_true", help="decode every file, not only its header")
    _common(p)


def run(args: argparse.Namespace) -> int:
    common = dict(on_error=args.on_error, force=args.force)
    try:
        if args.corpus == "common_voice":
            splits = [s for s in args.splits.split(",") if s]
            manifests = prepare_common_voice(
                args.cv_dir, args.out, language=args.language, splits=splits, decode=args.decode, **common
            )
        elif args.corpus == "hf":
            manifests = prepare_hf(
                args.source, args.out, config_name=args.config_name, audio_column=args.audio_column,
                text_column=args.text_column, speaker_column=args.speaker_column,
                language_column=args.language_column, language=args.language, id_column=args.id_column,
                split_map=args.split_map, sample_rate=args.sample_rate, cache_dir=args.cache_dir, **common,
            )
        else:
            manifests = prepare_folder(
                args.audio_dir, args.csv, args.out, audio_column=args.audio_column, text_column=args.text_column,
                speaker_column=args.speaker_column, language_column=args.language_column, language=args.language,
                id_column=args.id_column, split_column=args.split_column, fractions=args.fractions,
                by_speaker=args.speaker_disjoint, seed=args.seed, delimiter=args.delimiter, decode=args.decode,
                **common,
            )
    except (CorpusError, AudioError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    for split, path in manifests.items():
        n = sum(1 for line in open(path, encoding="utf-8") if line.strip())
        print(f"{split}: {n} utterances -> {path}")
    report = Path(args.out) / REPORT_NAME
    skipped = sum(1 for line in open(report, encoding="utf-8") if line.strip()) if report.exists() else 0
    if skipped:
        print(f"skipped {skipped} row(s); reasons in {report}")
    return 0
