"""Hugging Face audio datasets (a saved folder, a data folder or a hub id the user's cache already holds) ->
manifests, the audio decoded through :mod:`polyvox.data.audio` (never torchcodec) and written as 16-bit mono WAVs
under ``out_dir/wavs/``."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Callable, Mapping

from polyvox.data.audio import (
    DEFAULT_SAMPLE_RATE,
    AudioError,
    load_audio,
    load_audio_bytes,
    resample,
    save_audio,
)
from polyvox.data.manifest import Utterance, split_manifest
from polyvox.data.corpora.common import CorpusError, Problems, finish, pick_column, reuse, safe_name

HF_DEFAULT_SPLIT_MAP = {"train": "train", "validation": "dev", "valid": "dev", "dev": "dev", "test": "test"}
HF_TEXT_COLUMNS = ("sentence", "text", "transcription", "transcript", "normalized_text", "raw_text")
HF_SPEAKER_COLUMNS = ("speaker_id", "speaker", "client_id")


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
    fractions: Mapping[str, float] | None = None,
    by_speaker: bool = False,
    seed: int = 0,
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
    ``load_dataset``'s (not used for ``save_to_disk`` folders). ``fractions`` (e.g. train 0.8, dev 0.1, test 0.1)
    re-split a release that has a single split (MINDS-14 has only "train") with ``split_manifest``: seeded, per
    language, whole speakers to one part when ``by_speaker``.
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
        **({"fractions": dict(fractions), "by_speaker": by_speaker, "seed": seed} if fractions else {}),
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    if (done := reuse(out_dir, inputs, force)) is not None:
        return done
    problems = Problems(on_error)
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
        text_c = pick_column(text_column, HF_TEXT_COLUMNS, columns, "text", where0)
        spk_c = pick_column(speaker_column, HF_SPEAKER_COLUMNS, columns, "speaker", where0)
        lang_c = pick_column(language_column, (), columns, "language", where0)
        id_c = pick_column(id_column, (), columns, "id", where0)
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
            fname = safe_name(uid)
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
    if fractions:
        if len(parts) != 1:
            raise CorpusError(f"{src}: fractions re-split a single-split release; this one has {sorted(parts)} "
                              "(use --split-map instead)")
        rows = next(iter(parts.values()))
        if by_speaker and not all(u.speaker for u in rows):
            raise CorpusError(f"{src}: a speaker-disjoint split needs a speaker on every row; give --speaker-column")
        parts = split_manifest(rows, fractions, seed=seed, by_speaker=by_speaker)
    return finish(out_dir, inputs, parts, problems.rows)

