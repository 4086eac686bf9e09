"""End-to-end listening comprehension: which spoken record of a context answers a spoken question, with no text in
between. The frames of a frozen speech encoder (a polyvox CTC run's, as in the end-to-end classifier) are projected
and compared frame by frame: a record scores high when its frames find close matches among the question's frames
(soft term matching, so the country named in both lines them up). The answer is that record's value.

    run = load_selector("work/runs/spoken_qa/base/comprehension/e2e/seed-0")
    out = answer_from_speech(run, question_wav, record_wavs)     # {"index", "probs"}
    out = answer_from_speech(run, question_wav, [context_wav])    # one wav: split at its pauses

A run directory holds ``spoken_qa.json`` ({"asr_run", "dim", "hidden"}) and ``model.safetensors``.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from torch import nn

from polyvox.data.audio import load_audio, save_audio, speech_segments
from polyvox.data.manifest import Utterance

SELECTOR_FILE = "spoken_qa.json"


class RecordSelector(nn.Module):
    """Soft term matching between a question and each of K records.

    ``forward(q (B, Tq, D), q_lens (B,), r (B, K, Tr, D), r_lens (B, K)) -> logits (B, K)``: frames are projected to
    ``hidden`` and L2-normalised; each record frame takes its best cosine over the question's frames; a record's score
    is the mean over its frames, times a learned temperature."""

    def __init__(self, dim: int, hidden: int = 128):
        super().__init__()
        self.dim, self.hidden = dim, hidden
        self.proj = nn.Sequential(nn.Linear(dim, hidden), nn.Tanh(), nn.Linear(hidden, hidden))
        self.log_scale = nn.Parameter(torch.tensor(2.3))  # e^2.3 ~ 10: cosines in [-1, 1] need a sharper softmax

    def forward(self, q, q_lens, r, r_lens):
        B, K, Tr, _ = r.shape
        qp = nn.functional.normalize(self.proj(q), dim=-1)  # (B, Tq, H)
        rp = nn.functional.normalize(self.proj(r), dim=-1)  # (B, K, Tr, H)
        sim = torch.einsum("bkrh,bqh->bkrq", rp, qp)
        q_pad = torch.arange(q.shape[1], device=q.device)[None] >= q_lens[:, None]  # (B, Tq)
        best = sim.masked_fill(q_pad[:, None, None, :], -1.0).amax(-1)  # (B, K, Tr)
        r_valid = (torch.arange(Tr, device=r.device)[None, None] < r_lens[..., None]).float()
        score = (best * r_valid).sum(-1) / r_valid.sum(-1).clamp(min=1)
        return score * self.log_scale.exp()


def selector_collate(items: Sequence[tuple[torch.Tensor, Sequence[torch.Tensor], int]]) -> dict:
    """(question frames (Tq, D), [record frames (Tr_k, D)] * K, answer index) -> ``q`` (B, Tq, D), ``q_lens`` (B,),
    ``r`` (B, K, Tr, D), ``r_lens`` (B, K), ``labels`` (B,); zero-padded, K the largest record count (missing records
    have length 0 and score -inf)."""
    D = items[0][0].shape[1]
    K = max(len(rs) for _, rs, _ in items)
    Tq = max(q.shape[0] for q, _, _ in items)
    Tr = max(r.shape[0] for _, rs, _ in items for r in rs)
    q, r = torch.zeros(len(items), Tq, D), torch.zeros(len(items), K, Tr, D)
    q_lens, r_lens = torch.zeros(len(items), dtype=torch.long), torch.zeros(len(items), K, dtype=torch.long)
    for b, (qf, rs, _) in enumerate(items):
        q[b, : len(qf)], q_lens[b] = qf, len(qf)
        for k, rf in enumerate(rs):
            r[b, k, : len(rf)], r_lens[b, k] = rf, len(rf)
    return {"q": q, "q_lens": q_lens, "r": r, "r_lens": r_lens,
            "labels": torch.tensor([y for _, _, y in items], dtype=torch.long)}


def selector_logits(model: RecordSelector, batch: dict) -> torch.Tensor:
    logits = model(batch["q"], batch["q_lens"], batch["r"], batch["r_lens"])
    return logits.masked_fill(batch["r_lens"] == 0, float("-inf"))


def selector_loss_step(model, batch: dict) -> tuple[torch.Tensor, dict]:
    """fit()'s loss_step: cross-entropy over the records, plus batch accuracy."""
    logits = selector_logits(model, batch)
    return nn.functional.cross_entropy(logits, batch["labels"]), {
        "accuracy": (logits.argmax(-1) == batch["labels"]).float().mean().detach()}


@torch.no_grad()
def predict_records(model: RecordSelector, items, batch_size: int = 64) -> torch.Tensor:
    """Record probabilities for (question frames, record frames, any) items, in input order: one (K,) tensor per
    item (K padded to the batch's largest record count; a missing record has probability 0)."""
    was = model.training
    model.eval()
    device = next(model.parameters()).device
    out = []
    for s in range(0, len(items), batch_size):
        b = {k: v.to(device) for k, v in selector_collate(items[s:s + batch_size]).items()}
        p = torch.softmax(selector_logits(model, b).float(), -1).cpu()
        out += list(p)
    model.train(was)
    return out


def train_selector(dim: int, hidden: int, train_cfg, train, dev, run_dir, asr_run, *, batch_size: int = 32):
    """A :class:`RecordSelector` trained by ``fit`` on (question frames, record frames, answer index) items, the
    best dev checkpoint kept, saved with :func:`save_selector`. Returns the model in eval mode."""
    from torch.utils.data import DataLoader

    from polyvox.train.loop import fit, load_best, seed_everything

    seed_everything(train_cfg.seed)
    model = RecordSelector(dim, hidden)
    loader = DataLoader(list(train), batch_size=batch_size, shuffle=True, collate_fn=selector_collate,
                        generator=torch.Generator().manual_seed(train_cfg.seed))

    def evaluate(model):
        pred = [int(p.argmax()) for p in predict_records(model, dev)]
        return {"dev/accuracy": float(np.mean([p == y for p, (_, _, y) in zip(pred, dev)]))}

    load_best(model, fit(model, loader, selector_loss_step, train_cfg, run_dir, evaluate=evaluate if dev else None))
    save_selector(run_dir, model, asr_run)
    return model.eval()


# ----------------------------------------------------------------------------- run: save / load / predict


@dataclass
class SelectorRun:
    encoder: nn.Module  # polyvox.speech.encoders.FrozenAsrEncoder
    model: RecordSelector
    run_dir: Path


def is_selector(run_dir: str | os.PathLike) -> bool:
    return (Path(run_dir) / SELECTOR_FILE).exists()


def save_selector(run_dir: str | os.PathLike, model: RecordSelector, asr_run: str | os.PathLike) -> Path:
    from safetensors.torch import save_model

    from polyvox.train.runs import MODEL_FILE

    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    save_model(model, str(run_dir / MODEL_FILE))
    (run_dir / SELECTOR_FILE).write_text(json.dumps({"asr_run": str(Path(asr_run).resolve()), "dim": model.dim,
                                                     "hidden": model.hidden}, indent=1), encoding="utf-8")
    return run_dir


def load_selector(run_dir: str | os.PathLike, device: str | None = None) -> SelectorRun:
    """The selector and its frozen encoder (never downloads); FileNotFoundError naming a missing part."""
    from safetensors.torch import load_model

    from polyvox.speech.asr.run import load_run
    from polyvox.speech.encoders import FrozenAsrEncoder
    from polyvox.train.runs import MODEL_FILE, inference_device

    run_dir = Path(run_dir)
    if not is_selector(run_dir):
        raise FileNotFoundError(f"{run_dir}: not an end-to-end spoken QA run ({SELECTOR_FILE} missing)")
    spec = json.loads((run_dir / SELECTOR_FILE).read_text(encoding="utf-8"))
    if not Path(spec["asr_run"]).exists():
        raise FileNotFoundError(f"{run_dir / SELECTOR_FILE}: asr_run {spec['asr_run']} does not exist")
    dev = inference_device(device)
    model = RecordSelector(spec["dim"], spec["hidden"])
    load_model(model, str(run_dir / MODEL_FILE))
    encoder = FrozenAsrEncoder(load_run(spec["asr_run"], device=str(dev)).model)
    return SelectorRun(encoder.to(dev), model.to(dev).eval(), run_dir)


@torch.no_grad()
def _frames(encoder, wav: np.ndarray) -> torch.Tensor:
    device = next(encoder.parameters()).device
    x = torch.as_tensor(wav, dtype=torch.float32)[None].to(device)
    feats, lens = encoder(x, torch.tensor([x.shape[1]], device=device))
    return feats[0, : int(lens[0])].float().cpu()


def answer_from_speech(run: SelectorRun, question: np.ndarray, records: Sequence[np.ndarray],
                       sample_rate: int = 16000) -> dict:
    """16 kHz question and record waveforms -> {"index": the answering record, "probs": per record, "segments":
    (start, end) seconds of each record}. A single record wav is taken as a whole context and split at its pauses
    (:func:`polyvox.data.audio.speech_segments`)."""
    segments = None
    if len(records) == 1:
        segments = speech_segments(records[0], sample_rate)
        records = [records[0][int(a * sample_rate):int(b * sample_rate)] for a, b in segments]
    if not records:
        raise ValueError("the context holds no speech")
    item = (_frames(run.encoder, question), [_frames(run.encoder, r) for r in records], 0)
    probs = predict_records(run.model, [item])[0]
    return {"index": int(probs.argmax()), "probs": [float(p) for p in probs], "segments": segments}


# ----------------------------------------------------------------------------- spoken contexts without records


def segment_contexts(items, char_run, out_dir: str | os.PathLike, *, min_gap_s: float = 0.4, pad_s: float = 0.2,
                     sample_rate: int = 16000):
    """Spoken-SQuAD-style items (a context wav, its transcript, the answer at a character offset) -> (the items
    given ``records``, [(item id, why it was left out)]).

    Each context wav is cut at its pauses (:func:`polyvox.data.audio.speech_segments`) into pieces saved under
    ``out_dir`` (a clip per piece, ``pad_s`` of the pause kept on both sides); the transcript's words are placed in
    time by CTC forced alignment with the char run ``char_run`` (:func:`polyvox.speech.asr.align.word_times`) and
    each word joins the piece its middle falls in, so a piece's text is its words and ``answer_index`` is the piece
    holding the answer's first word. Pieces no word falls in are dropped. The listener then chooses among the
    pieces, as among the built-in corpus's records; the text systems keep the written context (``context_text``)."""
    out_dir = Path(out_dir)
    by_audio: dict[str, tuple | str] = {}  # context wav -> (pieces, word spans, owner piece per word) or why not
    out, left_out = [], []
    for item in items:
        if not item.context_audio or not item.context_text:
            left_out.append((item.id, "no spoken context"))
            continue
        if item.context_audio not in by_audio:
            by_audio[item.context_audio] = _cut_context(item, char_run, out_dir, min_gap_s, pad_s, sample_rate)
        cut = by_audio[item.context_audio]
        if isinstance(cut, str):
            left_out.append((item.id, cut))
            continue
        pieces, spans, owner = cut
        at = next((k for k, (a, b) in enumerate(spans) if b > item.answer_start), None)
        if at is None or owner[at] < 0:
            left_out.append((item.id, "the answer's first word was not placed in any piece"))
            continue
        out.append(replace(item, records=pieces, answer_index=owner[at]))
    return out, left_out


def _cut_context(item, char_run, out_dir: Path, min_gap_s: float, pad_s: float, sr: int):
    """One context wav -> (pieces, (start, end) character span per transcript word, piece per word (-1: none)),
    or a string saying why it could not be cut."""
    from polyvox.speech.asr.align import word_times

    wav, _ = load_audio(item.context_audio, sr)
    segments = speech_segments(wav, sr, min_gap_s=min_gap_s) or [(0.0, len(wav) / sr)]
    matches = list(re.finditer(r"\S+", item.context_text))
    try:
        times = word_times(char_run, wav, [m.group() for m in matches], sr)
    except ValueError as e:
        return f"{item.context_audio}: not aligned ({e})"
    owner, last = [], -1
    for t in times:  # a word with no time (no character the recognizer knows) stays with the word before it
        if t is not None:
            mid = (t[0] + t[1]) / 2
            last = min(range(len(segments)), key=lambda k: 0 if segments[k][0] <= mid <= segments[k][1]
                       else min(abs(mid - segments[k][0]), abs(mid - segments[k][1])))
        owner.append(last)
    kept = sorted({k for k in owner if k >= 0})
    if not kept:
        return f"{item.context_audio}: no transcript word was placed in time"
    renumber = {k: n for n, k in enumerate(kept)}
    owner = [renumber.get(k, -1) for k in owner]
    stem = f"{Path(item.context_audio).parent.name}-{Path(item.context_audio).stem}"  # wav/<split>/<a>_<p>.wav
    pieces = []
    for n, k in enumerate(kept):
        a, b = segments[k]
        clip = wav[max(0, int((a - pad_s) * sr)):int((b + pad_s) * sr)]
        path = save_audio(out_dir / f"{stem}-p{n}.wav", clip, sr)
        text = " ".join(m.group() for m, o in zip(matches, owner) if o == n)
        pieces.append(Utterance(id=f"context-{stem}-p{n}", audio=str(path.resolve()),
                                duration=round(len(clip) / sr, 6), sample_rate=sr, language=item.language,
                                text=text, custom={"piece": n, "start": a, "end": b}))
    return tuple(pieces), [(m.start(), m.end()) for m in matches], owner
