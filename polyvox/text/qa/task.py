"""Extractive text QA, the training side: a small XLM-R with a span head (``XLMRobertaForQuestionAnswering``) or one
loaded by ``name_or_path``, batches of (question, context, answer character span), the loss step (the model's own
start/end cross-entropy) and a dev evaluation (EM / F1). The inference side is :mod:`polyvox.text.qa.run`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Sequence

import torch

from polyvox.eval.qa import qa_scores
from polyvox.text.qa.run import answer_spans, encode

QAExample = tuple[str, str, tuple[int, int]]  # (question, context, (char start, char end) of the answer)


def span_of(context: str, answer: str, within: tuple[int, int] = (0, -1)) -> tuple[int, int]:
    """Character span of ``answer`` in ``context``, searched right to left in ``context[within]`` (a record's answer
    is its last words); ValueError naming both when absent."""
    lo, hi = within[0], len(context) if within[1] < 0 else within[1]
    at = context.rfind(answer, lo, hi)
    if at < 0 or not answer:
        raise ValueError(f"answer {answer!r} not found in context {context[lo:hi]!r}")
    return at, at + len(answer)


def build_qa_model(cfg, tokenizer):
    """``XLMRobertaForQuestionAnswering`` from the small config (random init), or ``cfg.name_or_path``
    (``AutoModelForQuestionAnswering``: a local directory or hub name; a fresh span head if it had none)."""
    from transformers import AutoModelForQuestionAnswering, XLMRobertaConfig, XLMRobertaForQuestionAnswering

    if cfg.name_or_path:
        return AutoModelForQuestionAnswering.from_pretrained(cfg.name_or_path)
    return XLMRobertaForQuestionAnswering(XLMRobertaConfig(
        vocab_size=len(tokenizer), hidden_size=cfg.hidden_size, num_hidden_layers=cfg.num_hidden_layers,
        num_attention_heads=cfg.num_attention_heads, intermediate_size=cfg.intermediate_size,
        max_position_embeddings=cfg.max_length + 2, pad_token_id=tokenizer.pad_token_id, bos_token_id=0,
        eos_token_id=2, hidden_dropout_prob=cfg.dropout, attention_probs_dropout_prob=cfg.dropout))


def qa_collate(tokenizer, max_length: int) -> Callable[[Sequence[QAExample]], dict]:
    """Examples -> ``input_ids``/``attention_mask`` (B, T) and ``start_positions``/``end_positions`` (B,): the first
    and last context token overlapping the answer span (0, the ``<s>`` token, when truncation cut it off)."""
    from polyvox.text.qa.run import context_mask

    def collate(items):
        questions, contexts, spans = zip(*items)
        enc = encode(tokenizer, questions, contexts, max_length)
        # (B, T): context tokens overlapping the answer's characters [a, b), as tensor ops (a Python loop over
        # tokens was a fifth of a CPU training step)
        a, b = (torch.tensor(x)[:, None] for x in zip(*spans))
        offs = enc["offset_mapping"]
        hit = context_mask(enc) & (offs[..., 1] > a) & (offs[..., 0] < b)
        T = hit.shape[1]
        found = hit.any(1)
        starts = torch.where(found, hit.int().argmax(1), 0)  # argmax: the first maximum, the first hit
        ends = torch.where(found, T - 1 - hit.flip(1).int().argmax(1), 0)
        return {"input_ids": enc["input_ids"], "attention_mask": enc["attention_mask"],
                "start_positions": starts, "end_positions": ends}

    return collate


def qa_loss_step(model, batch: dict) -> tuple[torch.Tensor, dict]:
    """fit()'s loss_step: the model's own mean of start and end cross-entropy."""
    out = model(**batch)
    hit = (out.start_logits.argmax(-1) == batch["start_positions"]) & (out.end_logits.argmax(-1) == batch["end_positions"])
    return out.loss, {"span_acc": hit.float().mean().detach()}


def qa_evaluate(tokenizer, dev: Sequence[QAExample], *, max_length: int, max_answer_tokens: int,
                prefix: str = "dev") -> Callable[[torch.nn.Module], dict[str, float]]:
    """fit()'s evaluate: ``{"<prefix>/em", "<prefix>/f1"}`` of the predicted spans against the gold span text."""
    questions, contexts = [q for q, _, _ in dev], [c for _, c, _ in dev]
    golds = [c[a:b] for _, c, (a, b) in dev]

    def evaluate(model) -> dict[str, float]:
        preds = answer_spans(model, tokenizer, questions, contexts, max_length=max_length,
                             max_answer_tokens=max_answer_tokens)
        s = qa_scores(preds, golds)
        return {f"{prefix}/em": s["em"], f"{prefix}/f1": s["f1"]}

    return evaluate


def train_qa_model(part, form: str, train: Sequence[QAExample], dev: Sequence[QAExample], run_dir: str | Path, *,
                   seed: int, max_steps: int, max_answer_tokens: int = 12):
    """A span QA model trained by ``fit`` with ``part``'s tokenizer / model / train sections (the tokenizer learns
    the training questions and contexts), the best dev checkpoint kept, saved as a run and loaded back."""
    from dataclasses import replace

    from torch.utils.data import DataLoader

    from polyvox.text.batches import encode_once, pad_rows
    from polyvox.text.classify.task import build_tokenizer
    from polyvox.text.qa.run import load_run, save_run
    from polyvox.train.loop import fit, load_best, seed_everything

    run_dir = Path(run_dir)
    seed_everything(seed)
    tokenizer = build_tokenizer(part.tokenizer, [t for q, c, _ in train for t in (q, c)], run_dir / "tokenizer")
    model = build_qa_model(part.model, tokenizer)
    n = part.model.max_length
    loader = DataLoader(encode_once(qa_collate(tokenizer, n), list(train)), batch_size=part.batch_size, shuffle=True,
                        collate_fn=pad_rows(tokenizer.pad_token_id), generator=torch.Generator().manual_seed(seed))
    train_cfg = replace(part.train, seed=seed, max_steps=max(1, max_steps))
    if dev and not train_cfg.best_metric:  # keep the checkpoint with the best dev F1, not the last step
        train_cfg = replace(train_cfg, best_metric="dev/f1", best_mode="max")
    result = fit(model, loader, qa_loss_step, train_cfg, run_dir,
                 evaluate=qa_evaluate(tokenizer, dev, max_length=n, max_answer_tokens=max_answer_tokens) if dev else None)
    load_best(model, result)
    save_run(run_dir, model, tokenizer, text_form=form, max_length=n, max_answer_tokens=max_answer_tokens)
    return load_run(run_dir)


def item_example(item, form: str, *, question: str | None = None, context: str | None = None) -> tuple[QAExample, str]:
    """A :class:`~polyvox.data.corpora.qa.QAItem` in text ``form`` -> (example, gold answer text in that form).

    The gold context is the records' reference texts joined (the answer: the last words of the answering record,
    as many as the answer has in ``form``) or the item's written context (the answer at its offset, found again
    after normalisation). ``question`` / ``context`` replace the gold ones (ASR output already in ``form``); the
    span then stays the gold one's, which the loss does not use at test time."""
    from polyvox.text.forms import gold_text, written_in_form

    lang = item.language
    ans_form = written_in_form([item.answer_text], form, [lang])[0]
    if item.records and not item.context_text:  # the built-in corpus: the context is its records
        parts = [gold_text(r, form) for r in item.records]
        gold_ctx = " ".join(parts)
        start = sum(len(p) + 1 for p in parts[: item.answer_index])
        target = parts[item.answer_index]
        n = max(1, len(ans_form.split()))
        answer = " ".join(target.split()[-n:])
        span = (start + len(target) - len(answer), start + len(target))
    else:
        gold_ctx = written_in_form([item.context_text], form, [lang])[0]
        prefix = written_in_form([item.context_text[: item.answer_start]], form, [lang])[0]
        at = len(prefix) + (1 if prefix else 0)
        if gold_ctx[at:at + len(ans_form)] != ans_form:
            at = gold_ctx.find(ans_form)
        span = (max(0, at), max(0, at) + len(ans_form))
        answer = ans_form
    q = question if question is not None else (gold_text(item.question, form) if item.question.text else "")
    return (q, context if context is not None else gold_ctx, span), answer

