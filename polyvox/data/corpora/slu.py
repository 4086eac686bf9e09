"""Spoken language understanding corpora -> manifests for ``recipes/speech_classification`` (``data.*_manifest``).

SLURP (Bastianelli et al., EMNLP 2020), its released layout: the annotations of the SLURP repository under
``<root>/dataset/slurp/{train,devel,test}.jsonl`` (plus ``train_synthetic.jsonl``), one row per sentence with
``sentence``, ``scenario``, ``action``, ``recordings: [{"file": ...}]``; the audio under ``<root>/slurp_real/`` (and
``slurp_synth/``); speakers from ``dataset/slurp/metadata.json`` (``recordings[file].usrid``) where it is present.
Every recording becomes a row with ``text`` = the sentence and ``custom["intent"]`` = ``scenario_action``, the label
SLURP's intent accuracy uses. SLURP's own split is kept (devel -> dev); it is English only.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from polyvox.data.corpora.common import CorpusError, reuse
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
