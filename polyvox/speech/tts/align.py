"""Phone durations for TTS training from a polyvox CTC phoneme run: CTC forced alignment
(``torchaudio.functional.forced_align``) of each utterance's manifest phonemes, word boundaries ``|`` included.

The aligner's frames (40 ms for the default Conformer) are mapped onto the TTS decoder's frames (20 ms), so the
durations of one utterance sum exactly to its decoder length. Results are cached in the TTS run
(``alignments.jsonl``): a re-run or a resumed run aligns nothing twice.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Sequence

import torch
import torchaudio

from polyvox.data.collate import FbankOptions, fbank_lengths
from polyvox.data.manifest import Utterance
from polyvox.speech.asr.vocab import phonemes_to_tokens

ALIGNMENTS_FILE = "alignments.jsonl"


def spans_to_durations(token_starts: Sequence[int], n_frames: int, n_out: int) -> list[int]:
    """Per-token durations in ``n_out`` output frames from the first aligner frame of each token (of ``n_frames``):
    token i owns [start_i, start_{i+1}), the first from 0 and the last to the end (blank frames go to the token
    before them). Boundaries are scaled to output frames and rounded, so the durations sum to ``n_out``."""
    if not token_starts:
        return []
    bounds = [0, *token_starts[1:], n_frames]
    scaled = [round(b * n_out / max(n_frames, 1)) for b in bounds]
    scaled[-1] = n_out
    return [max(0, scaled[i + 1] - scaled[i]) for i in range(len(token_starts))]


def decoder_frames(n_samples: int, opts: FbankOptions, reduction: int) -> int:
    """Decoder frames of a clip: its mel frames (:func:`polyvox.data.collate.fbank_lengths`) / reduction, rounded up."""
    return math.ceil(int(fbank_lengths(torch.tensor([n_samples]), opts)[0]) / reduction)


def align_utterances(aligner_dir: str | os.PathLike, utts: Sequence[Utterance], *, mel: FbankOptions,
                     reduction: int, cache: Path | None = None, device: str | None = None) -> dict[str, list[int]]:
    """{utterance id: durations in decoder frames, one per token of ``phonemes_to_tokens(u.phonemes)``}.

    Rows already in ``cache`` are reused; the new ones are appended to it. A row whose phonemes cannot be aligned
    (more tokens than aligner frames, or tokens the aligner does not know) is left out and listed in the cache with
    its reason."""
    from polyvox.speech.asr.run import load_run, posteriors

    done: dict[str, list[int]] = {}
    failed: set[str] = set()
    if cache is not None and cache.exists():
        for line in cache.read_text(encoding="utf-8").splitlines():
            if line.strip():
                rec = json.loads(line)
                if rec.get("durations") is not None:
                    done[rec["id"]] = rec["durations"]
                else:
                    failed.add(rec["id"])
    todo = [u for u in utts if u.id not in done and u.id not in failed]
    if not todo:
        return done
    if not Path(aligner_dir).is_dir():
        raise FileNotFoundError(f"data.aligner: {aligner_dir} is not a trained run; train one first "
                                f"(make main trains work/runs/asr_ctc/base) or point data.aligner at a phoneme run")
    run = load_run(aligner_dir, device=device)
    if run.unit != "phoneme":
        raise ValueError(f"data.aligner: {aligner_dir} predicts {run.unit}s; the TTS aligner must be a phoneme run")
    records = []
    with torch.no_grad():
        for batch_utts, log_probs, lens in posteriors(run, todo):
            for row, u in enumerate(batch_utts):
                tokens = phonemes_to_tokens(u.phonemes)
                ids = run.vocab.encode(tokens)
                n = int(lens[row])
                reason = None
                if run.vocab.unk_id in ids:
                    reason = f"tokens unknown to the aligner: {sorted({t for t in tokens if t not in run.vocab})}"
                elif len(ids) > n:
                    reason = f"{len(ids)} tokens but only {n} aligner frames"
                if reason:
                    records.append({"id": u.id, "durations": None, "reason": reason})
                    continue
                path, _ = torchaudio.functional.forced_align(log_probs[row: row + 1, :n].float().cpu(),
                                                             torch.tensor([ids], dtype=torch.int32),
                                                             blank=run.vocab.blank_id)
                spans = torchaudio.functional.merge_tokens(path[0], torch.zeros(n))
                if len(spans) != len(ids):
                    records.append({"id": u.id, "durations": None, "reason": "alignment lost a token"})
                    continue
                n_out = decoder_frames(round(u.duration * mel.sample_rate), mel, reduction)
                records.append({"id": u.id, "durations": spans_to_durations([sp.start for sp in spans], n, n_out)})
    if cache is not None:
        cache.parent.mkdir(parents=True, exist_ok=True)
        with open(cache, "a", encoding="utf-8") as f:
            for rec in records:
                f.write(json.dumps(rec) + "\n")
    done.update({r["id"]: r["durations"] for r in records if r["durations"] is not None})
    return done
