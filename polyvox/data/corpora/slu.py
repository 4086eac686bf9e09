"""Spoken language understanding corpora -> manifests for ``recipes/speech_classification`` (``data.*_manifest``).

SLURP (Bastianelli et al., EMNLP 2020), its released layout: the annotations of the SLURP repository under
``<root>/dataset/slurp/{train,devel,test}.jsonl`` (plus ``train_synthetic.jsonl``), one row per sentence with
``sentence``, ``scenario``, ``action``, ``recordings: [{"file": ...}]``; the audio under ``<root>/slurp_real/`` (and
``slurp_synth/``); speakers from ``dataset/slurp/metadata.json`` (``recordings[file].usrid``) where it is present.
Every recording becomes a row with ``text`` = the sentence and ``custom["intent"]`` = ``scenario_action``, the label
SLURP's intent accuracy uses. SLURP's own split is kept (devel -> dev); it is English only.

SpeechTaxi (Keller & Glavaš, 2024), its released layout: ``data.zip`` unpacked to ``<root>/data/<bible>/<bible>-<BOOK>/
<chapter>/Verse_<n>.mp3`` (one recorded Bible per language) and ``tables.zip`` unpacked anywhere under ``<root>``: tables
(``.tsv`` / ``.csv`` / ``.jsonl``) whose file name says the split (train / dev / valid / test) with the columns
``verse_ref, text_en, language, transcription, transcription_romanized, label`` plus the verse's audio path. Every row
becomes an utterance with ``text`` = the transcription and ``custom["label"]`` (one of 6 Taxi1500 classes, by name or
by index), in the release's own split; the speaker is the Bible recording.
"""

from __future__ import annotations

import csv
import json
import os
import re
from pathlib import Path
from typing import Sequence

from polyvox.data.corpora.common import CorpusError, fingerprint_files, reuse
from polyvox.data.corpora.emotion import file_utterance, finish_splits, prepare_params
from polyvox.data.manifest import Utterance

SLURP_SPLITS = {"train": "train", "devel": "dev", "test": "test"}


def _slurp_speakers(annotations: Path) -> dict[str, str]:
    """recording file -> speaker id, from metadata.json when the release has it ({} otherwise)."""
    path = annotations / "metadata.json"
    if not path.exists():
        return {}
    try:
        records = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise CorpusError(f"{path}: not JSON ({e.msg} at line {e.lineno})") from None
    return {f: str(r.get("usrid", "")) for rec in records.values() for f, r in rec.get("recordings", {}).items()}


def prepare_slurp(root: str | os.PathLike, out_dir: str | os.PathLike, *, synthetic: bool = False,
                  on_error: str = "skip", force: bool = False) -> dict[str, Path]:
    """SLURP -> ``out_dir/{train,dev,test}.jsonl``; ``synthetic`` adds ``train_synthetic.jsonl`` (slurp_synth audio)
    to train. A row without scenario / action stops with its file and line; a recording that is missing or
    unreadable is skipped and listed in the report (``on_error="skip"``) or stops the run (``"raise"``)."""
    root, out_dir = Path(root), Path(out_dir)
    params = prepare_params("slurp", root, synthetic=synthetic)
    if (hit := reuse(out_dir, params, force)) is not None:
        return hit
    annotations = root / "dataset" / "slurp"
    if not annotations.is_dir():
        raise CorpusError(f"{root}: dataset/slurp/ not found (SLURP's annotations: "
                          "https://github.com/pswietojanski/slurp, dataset/slurp/*.jsonl)")
    speakers = _slurp_speakers(annotations)
    files = [(name, split, "slurp_real") for name, split in SLURP_SPLITS.items()]
    if synthetic:
        files.append(("train_synthetic", "train", "slurp_synth"))
    parts: dict[str, list[Utterance]] = {"train": [], "dev": [], "test": []}
    skipped: list[dict] = []
    for name, split, audio_dir in files:
        path = annotations / f"{name}.jsonl"
        if not path.exists():
            raise CorpusError(f"{path}: missing; SLURP's annotations hold {', '.join(SLURP_SPLITS)}.jsonl")
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as e:
                raise CorpusError(f"{path}:{n}: not a JSON object ({e.msg})") from None
            missing = [k for k in ("sentence", "scenario", "action", "recordings") if k not in row]
            if missing:
                raise CorpusError(f"{path}:{n}: field(s) {', '.join(missing)} missing (has {sorted(row)})")
            intent = f"{row['scenario']}_{row['action']}"
            for rec in row["recordings"]:
                audio = root / audio_dir / rec["file"]
                if not audio.exists():
                    if on_error == "raise":
                        raise CorpusError(f"{path}:{n}: recording {audio} not found")
                    skipped.append({"audio": str(audio), "reason": f"listed in {path}:{n} but not found"})
                    continue
                before = len(skipped)
                u = file_utterance(audio, f"slurp-{Path(rec['file']).stem}", "en", speakers.get(rec["file"], ""),
                                   {"intent": intent, "scenario": row["scenario"], "action": row["action"],
                                    "slurp_id": row.get("slurp_id", "")}, skipped, text=row["sentence"])
                if u is None and on_error == "raise":
                    raise CorpusError(f"{path}:{n}: {skipped[before]['audio']}: {skipped[before]['reason']}")
                if u is not None:
                    parts[split].append(u)
    if not any(parts.values()):
        raise CorpusError(f"{root}: none of the recordings listed in dataset/slurp/*.jsonl could be used "
                          f"(e.g. {skipped[0]['audio']}: {skipped[0]['reason']})" if skipped else
                          f"{root}: the SLURP annotations list no recordings")
    return finish_splits(out_dir, params, parts, skipped)


# ----------------------------------------------------------------------------- SpeechTaxi

SPEECHTAXI_LABELS = ("Recommendation", "Faith", "Description", "Sin", "Grace", "Violence")  # the release's ClassLabel
SPEECHTAXI_COLUMNS = ("verse_ref", "language", "transcription", "label")  # needed; text_en, *_romanized kept if there
SPEECHTAXI_AUDIO_COLUMNS = ("audio", "audio_path", "path", "file", "filename")
SPEECHTAXI_SPLITS = {"train": "train", "dev": "dev", "valid": "dev", "validation": "dev", "test": "test"}
_TABLE_SUFFIXES = (".tsv", ".csv", ".jsonl")


def _table_split(path: Path) -> str | None:
    """The split a table file's name says (``train.tsv``, ``eng_dev.csv``, ``test-all.jsonl``), or None."""
    words = re.split(r"[^a-z]+", path.stem.lower())
    found = {SPEECHTAXI_SPLITS[w] for w in words if w in SPEECHTAXI_SPLITS}
    return found.pop() if len(found) == 1 else None


def _table_rows(path: Path):
    """(line number, row dict) of a .tsv / .csv / .jsonl table."""
    if path.suffix == ".jsonl":
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if line.strip():
                try:
                    yield n, json.loads(line)
                except json.JSONDecodeError as e:
                    raise CorpusError(f"{path}:{n}: not a JSON object ({e.msg})") from None
        return
    with open(path, encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f, delimiter="\t" if path.suffix == ".tsv" else ",")
        for n, row in enumerate(reader, 2):  # line 1 is the header
            yield n, row


def _speechtaxi_label(value, where: str) -> str:
    text = str(value).strip()
    if text in SPEECHTAXI_LABELS:
        return text
    if text.isdigit() and int(text) < len(SPEECHTAXI_LABELS):  # a datasets export stores the ClassLabel index
        return SPEECHTAXI_LABELS[int(text)]
    raise CorpusError(f"{where}: label {text!r} is neither one of {list(SPEECHTAXI_LABELS)} nor an index 0-5")


def _speechtaxi_audio(root: Path, table: Path, value: str) -> Path:
    """The verse's audio file: the path as the table gives it, tried against the release root, root/data and the
    table's folder (the first that exists; else the first candidate, reported missing)."""
    rel = Path(value)
    candidates = [rel] if rel.is_absolute() else [root / rel, root / "data" / rel, table.parent / rel]
    return next((c for c in candidates if c.exists()), candidates[0])


def prepare_speechtaxi(root: str | os.PathLike, out_dir: str | os.PathLike, *, langs: Sequence[str] = (),
                       on_error: str = "skip", force: bool = False) -> dict[str, Path]:
    """SpeechTaxi -> ``out_dir/{train,dev,test}.jsonl`` (``langs``: keep only these ``language`` codes, e.g.
    ``["asm", "eng"]``; default every language). A row lacking a needed column or with an unknown label stops with
    its file and line; a verse whose audio is missing or unreadable is skipped and listed in the report
    (``on_error="skip"``) or stops the run (``"raise"``)."""
    root, out_dir = Path(root), Path(out_dir)
    if not root.is_dir():
        raise CorpusError(f"{root}: SpeechTaxi folder not found")
    tables = sorted(p for p in root.rglob("*") if p.suffix in _TABLE_SUFFIXES and p.is_file()
                    and (root / "data") not in p.parents)
    by_split = {p: _table_split(p) for p in tables}
    tables = [p for p in tables if by_split[p]]
    if not tables:
        raise CorpusError(f"{root}: no SpeechTaxi tables found (unpack tables.zip there: .tsv/.csv/.jsonl files "
                          f"named with their split, e.g. train.tsv, dev.tsv, test.tsv)")
    params = prepare_params("speechtaxi", root, langs=sorted(langs), tables=fingerprint_files(tables))
    if (hit := reuse(out_dir, params, force)) is not None:
        return hit
    keep = set(langs)
    parts: dict[str, list[Utterance]] = {"train": [], "dev": [], "test": []}
    skipped: list[dict] = []
    for table in tables:
        for n, row in _table_rows(table):
            where = f"{table}:{n}"
            audio_col = next((c for c in SPEECHTAXI_AUDIO_COLUMNS if row.get(c)), None)
            missing = [c for c in SPEECHTAXI_COLUMNS if row.get(c) in (None, "")] + (
                [] if audio_col else [f"an audio path ({' / '.join(SPEECHTAXI_AUDIO_COLUMNS)})"])
            if missing:
                raise CorpusError(f"{where}: {', '.join(missing)} missing or empty (has {sorted(row)})")
            language = str(row["language"]).strip()
            if keep and language not in keep:
                continue
            label = _speechtaxi_label(row["label"], where)
            audio = _speechtaxi_audio(root, table, str(row[audio_col]))
            if not audio.exists():
                if on_error == "raise":
                    raise CorpusError(f"{where}: audio {audio} not found")
                skipped.append({"audio": str(audio), "reason": f"listed in {where} but not found"})
                continue
            try:  # the Bible recording: data/<bible>/...
                bible = audio.resolve().relative_to((root / "data").resolve()).parts[0]
            except ValueError:
                bible = language
            verse = re.sub(r"[^0-9A-Za-z]+", "_", str(row["verse_ref"])).strip("_")
            custom = {"label": label, "verse_ref": str(row["verse_ref"]), "bible": bible,
                      "text_en": str(row.get("text_en") or ""),
                      "text_romanized": str(row.get("transcription_romanized") or "")}
            before = len(skipped)
            u = file_utterance(audio, f"speechtaxi-{language}-{verse}", language, bible, custom, skipped,
                               text=str(row["transcription"]))
            if u is None and on_error == "raise":
                raise CorpusError(f"{where}: {skipped[before]['audio']}: {skipped[before]['reason']}")
            if u is not None:
                parts[by_split[table]].append(u)
    if not any(parts.values()):
        what = f" for languages {sorted(keep)}" if keep else ""
        raise CorpusError(f"{root}: no usable SpeechTaxi rows{what}"
                          + (f" (e.g. {skipped[0]['audio']}: {skipped[0]['reason']})" if skipped else ""))
    return finish_splits(out_dir, params, parts, skipped)
