"""Text classification, the training side: splits (manifests or the built-in intent corpus) in one of the three text
forms, a tokenizer (trained on the training text or loaded by name), a small XLM-R sequence classifier (or one loaded
by ``name_or_path``), the collate / loss_step / evaluate ``fit()`` needs, and per-language scoring. The inference side
is :mod:`polyvox.text.classify.run`.

The same :func:`polyvox.train.loop.fit` trains this and the speech models; only the batches and the loss step differ.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Mapping, Sequence

import torch

from polyvox.data.manifest import Utterance, filter_manifest, read_manifest
from polyvox.eval import classification as cls_metrics
from polyvox.text.classify.run import predict
from polyvox.text.forms import gold_text


# ----------------------------------------------------------------------------- data


def manifest_paths(data) -> dict[str, Path | str]:
    """{"train"|"dev"|"test": manifest}: ``data.*_manifest``, else the built-in intent corpus (built if missing)."""
    from polyvox.data.synth.intents import build_intent_corpus

    if data.train_manifest:
        return {"train": data.train_manifest, "dev": data.dev_manifest, "test": data.test_manifest}
    return build_intent_corpus(data.intents)


def load_splits(data, paths: Mapping[str, Path | str] | None = None) -> dict[str, list[Utterance]]:
    """{"train"|"dev"|"test": utterances} from :func:`manifest_paths`, train filtered to ``data.train_langs``, dev
    to the training languages, test to ``data.eval_langs``."""
    paths = paths or manifest_paths(data)
    splits = {name: read_manifest(p) if p else [] for name, p in paths.items()}
    train = filter_manifest(splits["train"], languages=data.train_langs or None)
    if not train:
        raise ValueError(f"no training rows in {paths['train']} for languages {data.train_langs}")
    langs = sorted({u.language for u in train})
    return {"train": train, "dev": filter_manifest(splits["dev"], languages=langs),
            "test": filter_manifest(splits["test"], languages=data.eval_langs or None)}


def label_set(utts: Sequence[Utterance], key: str) -> list[str]:
    """Sorted distinct ``custom[key]``; a row without it is an error naming the utterance."""
    for u in utts:
        if key not in u.custom:
            raise ValueError(f"utterance {u.id!r}: custom field {key!r} missing (has {sorted(u.custom)})")
    return sorted({str(u.custom[key]) for u in utts})


def examples(utts: Sequence[Utterance], texts: Sequence[str], key: str, labels: Sequence[str]) -> list[tuple[str, int]]:
    """(text, label id) pairs; a label outside the training label set is an error naming the utterance."""
    index = {lab: i for i, lab in enumerate(labels)}
    out = []
    for u, t in zip(utts, texts, strict=True):
        lab = str(u.custom.get(key))
        if lab not in index:
            raise ValueError(f"utterance {u.id!r}: label {lab!r} of {key!r} is not among the training labels {list(labels)}")
        out.append((t, index[lab]))
    return out


def gold_texts(utts: Sequence[Utterance], form: str) -> list[str]:
    return [gold_text(u, form) for u in utts]


# ----------------------------------------------------------------------------- tokenizer and model


def build_tokenizer(cfg, texts: Sequence[str], out_dir: str | Path):
    """``cfg.name_or_path`` loaded (AutoTokenizer), or a Unigram/BPE tokenizer trained on ``texts`` into ``out_dir``."""
    from polyvox.text.tokenizer import load_tokenizer, train_tokenizer

    if cfg.name_or_path:
        return load_tokenizer(cfg.name_or_path)
    return train_tokenizer(texts, cfg.vocab_size, out_dir, model=cfg.model)


def build_model(cfg, tokenizer, labels: Sequence[str]):
    """``XLMRobertaForSequenceClassification`` from the small config (random init), or ``cfg.name_or_path`` loaded
    with a fresh head for ``labels`` (``AutoModelForSequenceClassification``; a local directory or a hub name)."""
    id2label = dict(enumerate(labels))
    if cfg.name_or_path:
        from transformers import AutoModelForSequenceClassification

        return AutoModelForSequenceClassification.from_pretrained(
            cfg.name_or_path, num_labels=len(labels), id2label=id2label, label2id={v: k for k, v in id2label.items()},
            ignore_mismatched_sizes=True)
    return tiny_xlmr_classifier(len(tokenizer), len(labels), hidden_size=cfg.hidden_size,
                                num_hidden_layers=cfg.num_hidden_layers, num_attention_heads=cfg.num_attention_heads,
                                intermediate_size=cfg.intermediate_size, max_position_embeddings=cfg.max_length + 2,
                                pad_token_id=tokenizer.pad_token_id, dropout=cfg.dropout, id2label=id2label)


def tiny_xlmr_classifier(vocab_size: int, num_labels: int, *, hidden_size: int = 64, num_hidden_layers: int = 2,
                         num_attention_heads: int = 2, intermediate_size: int = 128,
                         max_position_embeddings: int = 130, pad_token_id: int = 1, dropout: float = 0.1,
                         id2label: dict[int, str] | None = None, **config_kwargs):
    """``XLMRobertaForSequenceClassification`` built from a small ``XLMRobertaConfig`` (random init).

    ``max_position_embeddings`` includes XLM-R's ``pad_token_id + 1`` offset, so sequences up to
    ``max_position_embeddings - 2`` tokens fit. Saves/loads with save_pretrained/from_pretrained."""
    from transformers import XLMRobertaConfig, XLMRobertaForSequenceClassification

    if id2label is not None and len(id2label) != num_labels:
        raise ValueError(f"id2label has {len(id2label)} entries but num_labels={num_labels}")
    config = XLMRobertaConfig(
        vocab_size=vocab_size, hidden_size=hidden_size, num_hidden_layers=num_hidden_layers,
        num_attention_heads=num_attention_heads, intermediate_size=intermediate_size,
        max_position_embeddings=max_position_embeddings, pad_token_id=pad_token_id,
        bos_token_id=0, eos_token_id=2, hidden_dropout_prob=dropout, attention_probs_dropout_prob=dropout,
        num_labels=num_labels,
        **({"id2label": id2label, "label2id": {v: k for k, v in id2label.items()}} if id2label else {}),
        **config_kwargs,
    )
    return XLMRobertaForSequenceClassification(config)


# ----------------------------------------------------------------------------- batches, loss, evaluation


def text_collate(tokenizer, max_length: int = 128) -> Callable[[Sequence[tuple[str, int]]], dict]:
    """Collate ``(text, label)`` pairs into ``input_ids``/``attention_mask`` (B, T) and ``labels`` (B,)."""

    def collate(items):
        texts, labels = zip(*items)
        enc = tokenizer([t if t.strip() else " " for t in texts], padding=True, truncation=True,
                        max_length=max_length, return_tensors="pt")
        return {"input_ids": enc["input_ids"], "attention_mask": enc["attention_mask"],
                "labels": torch.tensor(labels, dtype=torch.long)}

    return collate


def text_loaders(tokenizer, train: Sequence[tuple[str, int]], dev: Sequence[tuple[str, int]], *, batch_size: int,
                 max_length: int, seed: int):
    """(shuffled train DataLoader, dev DataLoader) of (text, label id) pairs; the shuffle is seeded."""
    from torch.utils.data import DataLoader

    from polyvox.text.batches import encode_once, pad_rows

    collate = text_collate(tokenizer, max_length)
    return (DataLoader(encode_once(collate, list(train)), batch_size=batch_size, shuffle=True,
                       collate_fn=pad_rows(tokenizer.pad_token_id), generator=torch.Generator().manual_seed(seed)),
            DataLoader(list(dev), batch_size=128, collate_fn=collate))


def classifier_loss_step(model, batch: dict) -> tuple[torch.Tensor, dict[str, float]]:
    """fit()'s loss_step: the model's own cross-entropy, plus batch accuracy for the logs."""
    out = model(**batch)
    acc = (out.logits.argmax(-1) == batch["labels"]).float().mean().item()
    return out.loss, {"accuracy": acc}


def classifier_evaluate(loader, prefix: str = "dev") -> Callable[[torch.nn.Module], dict[str, float]]:
    """fit()'s evaluate: ``{"<prefix>/accuracy", "<prefix>/macro_f1"}`` over ``loader``."""

    def evaluate(model) -> dict[str, float]:
        gold = [y for batch in loader for y in batch["labels"].tolist()]
        preds = predict(model, loader)
        return {f"{prefix}/accuracy": cls_metrics.accuracy(gold, preds) if gold else 0.0,
                f"{prefix}/macro_f1": cls_metrics.macro_f1(gold, preds) if gold else 0.0}

    return evaluate


def per_language_scores(utts: Sequence[Utterance], gold: Sequence[int], pred: Sequence[int],
                        num_classes: int) -> dict[str, dict[str, float]]:
    """{language: {"accuracy", "macro_f1", "n"}} and "all"."""
    by_lang: dict[str, list[int]] = {}
    for i, u in enumerate(utts):
        by_lang.setdefault(u.language, []).append(i)
    out = {}
    for lang, idx in sorted(by_lang.items()) + [("all", list(range(len(utts))))]:
        t, p = [gold[i] for i in idx], [pred[i] for i in idx]
        out[lang] = {"accuracy": cls_metrics.accuracy(t, p), "macro_f1": cls_metrics.macro_f1(t, p, num_classes),
                     "n": len(idx)}
    return out


def languages_of(utts: Sequence[Utterance]) -> list[str]:
    return sorted({u.language for u in utts})


def mark_zero_shot(langs: Sequence[str], train_langs: Sequence[str]) -> Mapping[str, str]:
    return {lang: "zero-shot" for lang in langs if lang not in set(train_langs)}


def train_text_classifier(part, form: str, train: Sequence[tuple[str, int]], dev: Sequence[tuple[str, int]],
                          labels: Sequence[str], run_dir: str | Path, *, seed: int, max_steps: int,
                          label_key: str = "label"):
    """One text classifier on (text, label id) pairs, trained by ``fit`` with ``part``'s tokenizer / model / train
    sections (a :class:`~polyvox.multimodal.config.TextPartConfig`), the best dev checkpoint kept, saved as a run
    and loaded back (a :class:`~polyvox.text.classify.run.TextRun`)."""
    from dataclasses import replace

    from polyvox.text.classify.run import load_run, save_run
    from polyvox.train.loop import fit, load_best, seed_everything

    run_dir = Path(run_dir)
    seed_everything(seed)
    tokenizer = build_tokenizer(part.tokenizer, [x for x, _ in train], run_dir / "tokenizer")
    model = build_model(part.model, tokenizer, labels)
    loader, dev_loader = text_loaders(tokenizer, train, dev, batch_size=part.batch_size,
                                      max_length=part.model.max_length, seed=seed)
    result = fit(model, loader, classifier_loss_step, replace(part.train, seed=seed, max_steps=max(1, max_steps)),
                 run_dir, evaluate=classifier_evaluate(dev_loader) if dev else None)
    load_best(model, result)
    save_run(run_dir, model, tokenizer, text_form=form, label_key=label_key, max_length=part.model.max_length)
    return load_run(run_dir)
