"""Extractive text QA, the inference side. A run is a plain transformers directory (``AutoModelForQuestionAnswering``
and ``AutoTokenizer`` load it) plus ``polyvox_qa.json`` (the text form it reads, its token limits).

    run = load_run("work/runs/spoken_qa/base/comprehension/text-native/seed-0")
    answer(run, ["what is the currency of japan"], ["france euro japan yen"])   # ["yen"]
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import torch

from polyvox.train.runs import inference_device

QA_RUN_FILE = "polyvox_qa.json"


@dataclass
class QARun:
    model: torch.nn.Module
    tokenizer: object
    text_form: str
    max_length: int
    max_answer_tokens: int
    run_dir: Path


def save_run(run_dir: str | os.PathLike, model, tokenizer, *, text_form: str = "native", max_length: int = 128,
             max_answer_tokens: int = 12) -> Path:
    run_dir = Path(run_dir)
    model.save_pretrained(run_dir)
    tokenizer.save_pretrained(run_dir)
    (run_dir / QA_RUN_FILE).write_text(json.dumps({"text_form": text_form, "max_length": max_length,
                                                   "max_answer_tokens": max_answer_tokens}), encoding="utf-8")
    return run_dir


def is_qa_run(run_dir: str | os.PathLike) -> bool:
    return (Path(run_dir) / QA_RUN_FILE).exists()


def load_run(run_dir: str | os.PathLike, device: str | None = None) -> QARun:
    """Load a run saved by :func:`save_run` (never downloads); FileNotFoundError naming what is missing."""
    from transformers import AutoModelForQuestionAnswering, AutoTokenizer

    run_dir = Path(run_dir)
    if not is_qa_run(run_dir):
        raise FileNotFoundError(f"{run_dir}: not a text QA run ({QA_RUN_FILE} missing)")
    spec = json.loads((run_dir / QA_RUN_FILE).read_text(encoding="utf-8"))
    model = AutoModelForQuestionAnswering.from_pretrained(run_dir, local_files_only=True)
    model.to(inference_device(device)).eval()
    tokenizer = AutoTokenizer.from_pretrained(run_dir, local_files_only=True)
    return QARun(model, tokenizer, spec["text_form"], spec["max_length"], spec["max_answer_tokens"], run_dir)


def encode(tokenizer, questions: Sequence[str], contexts: Sequence[str], max_length: int):
    """Tokenize (question, context) pairs, only the context truncated; keeps offsets and sequence ids."""
    return tokenizer([q or " " for q in questions], [c or " " for c in contexts], truncation="only_second",
                     max_length=max_length, padding=True, return_offsets_mapping=True, return_tensors="pt")


def context_mask(enc) -> torch.Tensor:
    """(B, T) bool: the tokens of the context (sequence id 1)."""
    return torch.tensor([[s == 1 for s in enc.sequence_ids(i)] for i in range(len(enc["input_ids"]))])


def best_spans(start_logits: torch.Tensor, end_logits: torch.Tensor, mask: torch.Tensor,
               max_answer_tokens: int) -> list[tuple[int, int]]:
    """(B, T) start / end logits and (B, T) context mask -> the best (start, end) token pair per row with
    start <= end < start + max_answer_tokens, both in the context."""
    T = start_logits.shape[1]
    i, j = torch.arange(T)[:, None], torch.arange(T)[None, :]
    allowed = (j >= i) & (j < i + max_answer_tokens)
    scores = start_logits[:, :, None] + end_logits[:, None, :]
    scores = scores.masked_fill(~(allowed[None] & mask[:, :, None] & mask[:, None, :]), float("-inf"))
    flat = scores.flatten(1).argmax(1)
    return [(int(f) // T, int(f) % T) for f in flat]


@torch.no_grad()
def answer_spans(model, tokenizer, questions: Sequence[str], contexts: Sequence[str], *, max_length: int = 128,
                 max_answer_tokens: int = 12, batch_size: int = 64) -> list[str]:
    """The answer text (a substring of the context) for each pair."""
    was = model.training
    model.eval()
    device = next(model.parameters()).device
    out = []
    for s in range(0, len(questions), batch_size):
        enc = encode(tokenizer, questions[s:s + batch_size], contexts[s:s + batch_size], max_length)
        logits = model(input_ids=enc["input_ids"].to(device), attention_mask=enc["attention_mask"].to(device))
        spans = best_spans(logits.start_logits.float().cpu(), logits.end_logits.float().cpu(), context_mask(enc),
                           max_answer_tokens)
        for row, (a, b) in enumerate(spans):
            offsets, ctx = enc["offset_mapping"][row], contexts[s + row]
            out.append(ctx[int(offsets[a][0]):int(offsets[b][1])].strip())
    model.train(was)
    return out


def answer(run: QARun, questions: Sequence[str], contexts: Sequence[str]) -> list[str]:
    """Answers of ``run`` to questions about contexts, both already in ``run.text_form``."""
    return answer_spans(run.model, run.tokenizer, questions, contexts, max_length=run.max_length,
                        max_answer_tokens=run.max_answer_tokens)
