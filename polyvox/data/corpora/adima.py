"""ADIMA (ShareChat, ICASSP 2022): audio abuse detection in 10 Indic languages, ``custom["label"]`` abusive / clean."""

from __future__ import annotations

import csv
import logging
import os
import random
from collections import defaultdict
from pathlib import Path
from typing import Sequence

from polyvox.data.manifest import Utterance

from polyvox.data.corpora.common import CorpusError, reuse
from polyvox.data.corpora.emotion import AUDIO_EXTS, file_utterance, finish_splits, prepare_params

log = logging.getLogger(__name__)

# ----------------------------------------------------------------------------- ADIMA

# Language names used in ADIMA's CSV file names -> ISO 639 codes.
ADIMA_LANGUAGES = {"bengali": "bn", "bhojpuri": "bho", "gujarati": "gu", "haryanvi": "bgc", "hindi": "hi",
                   "kannada": "kn", "malayalam": "ml", "odia": "or", "punjabi": "pa", "tamil": "ta"}  # fmt: skip
ADIMA_YES = {"yes", "1", "true", "abusive"}
ADIMA_NO = {"no", "0", "false", "clean"}


def _audio_index(root: Path) -> dict[str, list[Path]]:
    """File name (and stem) -> audio files anywhere under ``root``."""
    index: dict[str, list[Path]] = defaultdict(list)
    for p in root.rglob("*"):
        if p.suffix.lower() in AUDIO_EXTS and p.is_file():
            index[p.name].append(p)
            index[p.stem].append(p)
    return index


def _pick(candidates: list[Path], language: str) -> Path | None:
    if not candidates:
        return None
    in_lang = [p for p in candidates if language.lower() in str(p).lower()]
    return sorted(in_lang or candidates)[0]


def _read_adima_csv(path: Path) -> list[tuple[int, str, str]]:
    """(row number, file name, "abusive"|"clean"); bad labels are errors naming file and row."""
    with open(path, newline="", encoding="utf-8-sig") as f:
        reader = csv.DictReader(f)
        cols = {c.strip().lower(): c for c in (reader.fieldnames or [])}
        if "filename" not in cols or "label" not in cols:
            raise CorpusError(f"{path}: expected columns 'filename' and 'label', found {reader.fieldnames}")
        rows = []
        for i, row in enumerate(reader, start=2):
            name, lab = (row[cols["filename"]] or "").strip(), (row[cols["label"]] or "").strip().lower()
            if not name:
                raise CorpusError(f"{path}:{i}: empty filename")
            if lab in ADIMA_YES:
                rows.append((i, name, "abusive"))
            elif lab in ADIMA_NO:
                rows.append((i, name, "clean"))
            else:
                raise CorpusError(f"{path}:{i}: label {row[cols['label']]!r}; expected Yes or No")
    return rows


def prepare_adima(root: str | os.PathLike, out_dir: str | os.PathLike, *, languages: Sequence[str] = (),
                  dev_fraction: float = 0.1, seed: int = 0) -> dict[str, Path]:
    """ADIMA (ShareChat, ICASSP 2022): profanity in audio, 10 Indic languages.

    Layout (from the dataset's README): ``<Language>_train.csv`` / ``<Language>_test.csv``
    anywhere under ``root`` (distributed in ``annotations/``), each row ``filename,label``
    with label Yes (profanity) / No; audio files anywhere under ``root`` (e.g.
    ``SC_audio_<Language>/``), matched by file name, preferring a path that contains the
    language name. Labels become ``custom["label"]`` = "abusive" / "clean".

    The official train/test split is kept; dev is a seeded ``dev_fraction`` of each
    language's train CSV, stratified by label. ADIMA publishes no speaker ids, so
    ``speaker`` is "" and dev is not speaker-disjoint from train. ``languages`` (names as
    in the CSVs, or ISO codes) restricts the languages.
    """
    root, out_dir = Path(root), Path(out_dir)
    params = prepare_params("adima", root, languages=sorted(languages), dev_fraction=dev_fraction, seed=seed)
    if (hit := reuse(out_dir, params)) is not None:
        return hit
    if not root.is_dir():
        raise CorpusError(f"{root}: corpus folder not found")
    csvs = sorted(root.rglob("*_train.csv")) + sorted(root.rglob("*_test.csv"))
    if not csvs:
        raise CorpusError(f"{root}: no <Language>_train.csv / <Language>_test.csv files (ADIMA annotations)")
    wanted = {l.lower() for l in languages}
    index = _audio_index(root)
    parts: dict[str, list[Utterance]] = defaultdict(list)
    skipped: list[dict] = []
    for path in csvs:
        name, split = path.stem.rsplit("_", 1)
        code = ADIMA_LANGUAGES.get(name.lower())
        if code is None:
            log.warning("%s: language %r is not one of ADIMA's %s; using %r as its code",
                        path, name, sorted(ADIMA_LANGUAGES), name.lower())
            code = name.lower()
        if wanted and name.lower() not in wanted and code not in wanted:
            continue
        utts = []
        for row, fname, label in _read_adima_csv(path):
            base = fname.replace("\\", "/").split("/")[-1]
            audio = _pick(index.get(base, []), name)
            if audio is None:
                skipped.append({"audio": fname, "reason": f"listed in {path}:{row} but not found under {root}"})
                continue
            u = file_utterance(audio, f"adima-{code}-{Path(base).stem}", code, "",
                           {"label": label, "label_raw": "Yes" if label == "abusive" else "No"}, skipped)
            if u:
                utts.append(u)
        if split == "test":
            parts["test"] += utts
        else:
            rng = random.Random(f"{seed}:{code}")
            for lab in ("abusive", "clean"):
                group = [u for u in utts if u.custom["label"] == lab]
                dev_idx = set(rng.sample(range(len(group)), round(dev_fraction * len(group))))
                parts["dev"] += [u for i, u in enumerate(group) if i in dev_idx]
                parts["train"] += [u for i, u in enumerate(group) if i not in dev_idx]
    if not any(parts.values()):
        missing = "; ".join(f"{s['audio']} ({s['reason']})" for s in skipped[:3])
        raise CorpusError(f"{root}: none of the {len(skipped)} files listed in the ADIMA CSVs could be used, e.g. {missing}")
    return finish_splits(out_dir, params, parts, skipped)

