"""Few-shot adaptation of a trained utterance classifier to an unseen language: MAML / first-order MAML over the
training languages as tasks vs plain fine-tuning, from frozen utterance embeddings (see :func:`fewshot_experiment`).
"""

from __future__ import annotations

import copy
import json
import random
import time
from functools import partial
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F

from polyvox.data.manifest import Utterance, filter_manifest, read_manifest, split_manifest
from polyvox.eval import classification as cls_metrics
from polyvox.train.config import ConfigError, config_to_dict
from polyvox.speech.classify.config import FEWSHOT_METHODS, METHOD_NAMES, ClassificationConfig, FewShotConfig
from polyvox.speech.classify.run import load_run
from polyvox.speech.classify.task import embed_utterances, manifest_paths, matrix_langs, synth_dir, synthesize, uses_synth
from polyvox.train.protocols import MULTILINGUAL

def sample_shots(labels: torch.Tensor | Sequence[int], k: int, rng: random.Random, num_classes: int) -> list[int]:
    """Indices of ``k`` examples of every class (sorted), drawn without replacement; a class with
    fewer than ``k`` examples is an error naming it."""
    labels = [int(y) for y in labels]
    out = []
    for c in range(num_classes):
        idx = [i for i, y in enumerate(labels) if y == c]
        if len(idx) < k:
            raise ValueError(f"class {c} has {len(idx)} examples in the support pool, fewer than k={k} shots")
        out += rng.sample(idx, k)
    return sorted(out)


def episode(x: torch.Tensor, y: torch.Tensor, shots: int, query: int, rng: random.Random, num_classes: int):
    """A meta-training episode from one language: ((xs, ys) support with ``shots`` per class,
    (xq, yq) query with up to ``query`` other examples per class)."""
    s_idx, q_idx = [], []
    for c in range(num_classes):
        idx = [i for i, v in enumerate(y.tolist()) if v == c]
        rng.shuffle(idx)
        s_idx += idx[:shots]
        q_idx += idx[shots: shots + query]
    if not s_idx or not q_idx:
        raise ValueError(f"a meta-training language has too few examples for {shots} support shots + a query set")
    return (x[s_idx], y[s_idx]), (x[q_idx], y[q_idx])


def head_loss(model_fn, batch) -> torch.Tensor:
    """Cross-entropy of a head on pooled embeddings; ``batch`` = (x (N, D), y (N,))."""
    x, y = batch
    return F.cross_entropy(model_fn(x), y)


class Standardize(torch.nn.Module):
    """``(x - mean) / std`` with fixed buffers (never adapted): (N, D) -> (N, D)."""

    def __init__(self, mean: torch.Tensor, std: torch.Tensor):
        super().__init__()
        self.register_buffer("mean", mean.clone())
        self.register_buffer("std", std.clone())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) / self.std


def plain_head(head: torch.nn.Module, x: torch.Tensor) -> torch.nn.Sequential:
    """The same function as ``head`` (eval mode), reparameterized for gradient steps: without
    dropout (deterministic adaptation), and with the input of every linear layer standardized
    by its statistics on ``x`` (N, D) while the layer absorbs the inverse (``W' = W * std``,
    ``b' = b + W @ mean``). Outputs are unchanged, but plain SGD (the MAML inner loop) no longer
    has to cope with badly scaled embeddings and hidden units."""
    layers = [copy.deepcopy(m) for m in (head if isinstance(head, torch.nn.Sequential) else [head])]
    out, a = [], x
    with torch.no_grad():
        for m in layers:
            if isinstance(m, torch.nn.Dropout):
                continue
            if isinstance(m, torch.nn.Linear):
                mean, std = a.mean(0), a.std(0).clamp(min=1e-4)
                if m.bias is not None:
                    m.bias.add_(m.weight @ mean)
                m.weight.mul_(std)
                out.append(Standardize(mean, std))
                a = m(out[-1](a))
            else:
                a = m(a)
            out.append(m)
    return torch.nn.Sequential(*out).eval()


def meta_train(head: torch.nn.Module, source: dict[str, tuple[torch.Tensor, torch.Tensor]], fs: FewShotConfig,
               *, first_order: bool, seed: int, num_classes: int) -> torch.nn.Module:
    """MAML over languages as tasks: a copy of ``head`` meta-trained on episodes of ``source``
    ({lang: (embeddings, labels)}); every parameter of the head adapts in the inner loop."""
    from polyvox.train.maml import MAMLConfig, Task, meta_step

    head = copy.deepcopy(head)
    rng = random.Random(f"meta:{seed}")
    torch.manual_seed(seed)
    cfg = MAMLConfig(inner_lr=fs.inner_lr, inner_steps=fs.inner_steps, first_order=first_order)
    opt = torch.optim.Adam(head.parameters(), lr=fs.meta_lr)
    names = sorted(source)
    for _ in range(fs.meta_steps):
        tasks = [Task(lang, *episode(*source[lang], fs.meta_shots, fs.meta_query, rng, num_classes))
                 for lang in rng.sample(names, min(fs.meta_tasks, len(names)))]
        meta_step(head, opt, tasks, head_loss, cfg)
    return head


def maml_adapt(head: torch.nn.Module, support, fs: FewShotConfig) -> torch.nn.Module:
    """A copy of ``head`` after ``fs.test_inner_steps`` inner-loop SGD steps on ``support``."""
    from polyvox.train.maml import MAMLConfig, adapt

    fast = adapt(head, support, head_loss, MAMLConfig(inner_lr=fs.inner_lr, inner_steps=fs.test_inner_steps,
                                                      first_order=True))
    tuned = copy.deepcopy(head)
    with torch.no_grad():
        for name, p in tuned.named_parameters():
            if name in fast:
                p.copy_(fast[name])
    return tuned


@torch.no_grad()
def score_head(head: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, num_classes: int) -> dict[str, float]:
    pred = head.eval()(x).argmax(-1)
    return {"macro_f1": cls_metrics.macro_f1(y, pred, num_classes), "uar": cls_metrics.uar(y, pred, num_classes),
            "accuracy": cls_metrics.accuracy(y, pred)}


def fewshot_experiment(head: torch.nn.Module, source: dict[str, tuple[torch.Tensor, torch.Tensor]],
                       pool: tuple[torch.Tensor, torch.Tensor], test: tuple[torch.Tensor, torch.Tensor],
                       fs: FewShotConfig, num_classes: int) -> list[dict]:
    """MAML / FOMAML vs fine-tuning on a new language, from frozen utterance embeddings.

    The encoder + pooling of a model trained on the source languages are frozen; only the MLP
    head adapts (what keeps second-order MAML and many seeds CPU-cheap). Every method starts
    from the source model's head (see :func:`plain_head`): ``finetune`` adapts it with Adam on
    the k-shot support set; ``maml`` / ``fomaml`` first meta-train it on episodes of the source
    languages (one task = one language), then adapt with the inner-loop SGD, as meta-trained;
    ``maml+ft`` / ``fomaml+ft`` fine-tune the meta-trained head exactly like ``finetune``, so
    only the starting point differs. ``none`` (k = 0) is the head as is.
    Returns rows ``{"method", "k", "seed", "macro_f1", "uar", "accuracy"}``.
    """
    unknown = [m for m in fs.methods if m not in FEWSHOT_METHODS]
    if unknown:
        raise ConfigError(f"fewshot.methods: unknown {unknown}; choose from {list(FEWSHOT_METHODS)}")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny matrices: more threads only add overhead
    try:
        return _fewshot_rows(head, source, pool, test, fs, num_classes)
    finally:
        torch.set_num_threads(threads)


def _fewshot_rows(head, source, pool, test, fs: FewShotConfig, num_classes: int) -> list[dict]:
    """:func:`fewshot_experiment`'s loop: seeds -> meta-training -> shots -> methods."""
    from polyvox.train.maml import finetune

    head = plain_head(head, torch.cat([x for x, _ in source.values()]))
    rows = [{"method": "none", "k": 0, "seed": None, **score_head(head, *test, num_classes)}]
    for seed in fs.seeds:
        starts = {m: meta_train(head, source, fs, first_order=m == "fomaml", seed=seed, num_classes=num_classes)
                  for m in ("fomaml", "maml") if m in fs.methods or f"{m}+ft" in fs.methods}
        for k in fs.shots:
            idx = sample_shots(pool[1], k, random.Random(f"shots:{seed}:{k}"), num_classes)
            support = (pool[0][idx], pool[1][idx])
            for m in fs.methods:
                torch.manual_seed(seed)
                if m in ("fomaml", "maml"):
                    tuned = maml_adapt(starts[m], support, fs)
                else:
                    start = head if m == "finetune" else starts[m.removesuffix("+ft")]
                    tuned = finetune(start, [support], head_loss, lr=fs.finetune_lr, steps=fs.finetune_steps)
                rows.append({"method": m, "k": k, "seed": seed, **score_head(tuned, *test, num_classes)})
    return rows


def fewshot_summary(rows: Sequence[dict]) -> list[dict]:
    """Mean and standard deviation (over seeds, ddof=0) per (k, method)."""
    groups: dict[tuple[int, str], list[dict]] = {}
    for r in rows:
        groups.setdefault((r["k"], r["method"]), []).append(r)
    out = []
    for (k, method), rs in sorted(groups.items()):
        item = {"k": k, "method": method, "seeds": len(rs)}
        for m in ("macro_f1", "uar", "accuracy"):
            vals = np.array([r[m] for r in rs], dtype=float)
            item[f"{m}_mean"], item[f"{m}_std"] = float(vals.mean()), float(vals.std())
        out.append(item)
    return out


def fewshot_table(summary: Sequence[dict], metric: str = "macro_f1") -> str:
    """Markdown: rows = k shots per class, columns = methods, cells = mean ± std over seeds in %."""
    methods = [m for m in FEWSHOT_METHODS if any(s["method"] == m for s in summary)]
    by = {(s["k"], s["method"]): s for s in summary}
    lines = [f"| k / class ({cls_metrics.METRIC_NAMES[metric]} %) | " + " | ".join(METHOD_NAMES[m] for m in methods)
             + " |", "|---:|" + "---:|" * len(methods)]
    for k in sorted({s["k"] for s in summary if s["method"] != "none"}):
        cells = []
        for m in methods:
            s = by.get((k, m))
            cells.append("-" if s is None else f"{100 * s[metric + '_mean']:.1f} ± {100 * s[metric + '_std']:.1f}")
        lines.append(f"| {k} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def fewshot_data(cfg: ClassificationConfig) -> tuple[list[Utterance], list[Utterance]]:
    """(support pool, test) utterances of the target language.

    Synthetic (``fewshot.target_utts > 0``): a corpus of the target language alone with the same
    settings, re-split by speaker: 2/3 of the speakers give the pool, 1/3 the test set. Else the
    target language's rows of the data manifests: train + dev = pool, test = test."""
    fs, data = cfg.fewshot, cfg.data
    keep = partial(filter_manifest, min_duration=data.min_duration, max_duration=data.max_duration,
                   languages=[fs.target_lang])
    if fs.target_utts > 0:
        if not uses_synth(data):
            raise ValueError("fewshot.target_utts > 0 synthesizes the target language, but the data is a real corpus; "
                             "use target_utts: 0 to take the target language from its manifests")
        out = synth_dir(data.synth).parent / f"{synth_dir(data.synth).name}-target-{fs.target_lang}-{fs.target_utts}"
        paths = synthesize(data.synth, data.label_key, out, [fs.target_lang], fs.target_utts, fs.target_speakers)
        utts = [u for p in paths.values() for u in keep(read_manifest(p))]
        parts = split_manifest(utts, {"pool": 2, "test": 1}, seed=data.synth.seed, by_speaker=True)
        return parts["pool"], parts["test"]
    paths = manifest_paths(data)
    pool = keep(read_manifest(paths["train"])) + keep(read_manifest(paths["dev"]))
    return pool, keep(read_manifest(paths["test"]))


def fewshot(cfg: ClassificationConfig, train_and_test) -> dict:
    """The few-shot protocol: source model (trained by the recipe's ``train_and_test(cfg, run_dir)`` if needed) ->
    frozen embeddings -> MAML / FOMAML / fine-tuning on the target language -> fewshot.md / fewshot.json in
    ``cfg.run_dir``."""
    fs, run_dir = cfg.fewshot, Path(cfg.run_dir)
    if not fs.target_lang:
        raise ConfigError("fewshot.target_lang is empty: name the unseen language to adapt to")
    if not fs.shots or min(fs.shots) < 1:
        raise ConfigError(f"fewshot.shots must be >= 1 shots per class, got {fs.shots}")
    if fs.source_run:
        source_dir = Path(fs.source_run)
    else:  # the transfer matrix's multilingual run, or one without the target language
        langs = matrix_langs(cfg)
        src_langs = [lang for lang in langs if lang != fs.target_lang]
        name = MULTILINGUAL if src_langs == langs else f"{MULTILINGUAL}-except-{fs.target_lang}"
        source_dir = run_dir / f"from-{name}"
        sub = copy.deepcopy(cfg)
        sub.protocol, sub.data.train_langs = "standard", src_langs
        train_and_test(sub, source_dir)
    run = load_run(source_dir)
    src_langs = run.config.data.train_langs
    if fs.target_lang in src_langs:
        raise ConfigError(f"{source_dir} was trained on {src_langs}, which includes fewshot.target_lang "
                         f"{fs.target_lang!r}; the target language must be unseen")
    t0 = time.time()
    vocab, data = run.labels, cfg.data
    pool_utts, test_utts = fewshot_data(cfg)
    if not pool_utts or not test_utts:
        raise ValueError(f"fewshot: no support pool or test utterances for target language {fs.target_lang!r}")
    src = filter_manifest(read_manifest(manifest_paths(data)["train"]), min_duration=data.min_duration,
                          max_duration=data.max_duration, languages=src_langs)
    x_src, y_src, src_kept = embed_utterances(run.model, src, data, vocab)
    source = {}
    for lang in src_langs:
        idx = [i for i, u in enumerate(src_kept) if u.language == lang]
        source[lang] = (x_src[idx], y_src[idx])
    pool = embed_utterances(run.model, pool_utts, data, vocab)[:2]
    test = embed_utterances(run.model, test_utts, data, vocab)[:2]
    counts = np.bincount(pool[1].numpy(), minlength=len(vocab)).tolist()
    print(f"few-shot {fs.target_lang}: support pool {len(pool[0])} ({dict(zip(vocab, counts))}), "
          f"test {len(test[0])}; source tasks {src_langs}", flush=True)
    head = copy.deepcopy(run.model.head).cpu()  # the embeddings are on the CPU; the head is tiny
    rows = fewshot_experiment(head, source, pool, test, fs, len(vocab))
    summary = fewshot_summary(rows)
    minutes = (time.time() - t0) / 60
    result = {"target_lang": fs.target_lang, "source_run": str(source_dir), "source_langs": src_langs,
              "labels": vocab, "pool_counts": counts, "test_utterances": len(test[0]), "rows": rows,
              "summary": summary, "minutes": minutes, "config": config_to_dict(fs)}
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "fewshot.json").write_text(json.dumps(result, indent=1), encoding="utf-8")
    text = fewshot_markdown(result)
    (run_dir / "fewshot.md").write_text(text, encoding="utf-8")
    print(text, flush=True)
    return result


def fewshot_markdown(result: dict) -> str:
    fs = result["config"]
    tasks = min(fs["meta_tasks"], len(result["source_langs"]))
    zero = next(s for s in result["summary"] if s["method"] == "none")
    return (
        f"Unseen language **{result['target_lang']}** ({result['test_utterances']} test utterances); source model "
        f"trained on {', '.join(result['source_langs'])}, encoder frozen, only the head adapts. Mean ± std over "
        f"seeds {fs['seeds']} (support sample and meta-training change with the seed, the encoder does not). "
        f"No adaptation (k = 0): macro-F1 {100 * zero['macro_f1_mean']:.1f} %, UAR {100 * zero['uar_mean']:.1f} %.\n\n"
        f"{fewshot_table(result['summary'], 'macro_f1')}\n\n{fewshot_table(result['summary'], 'uar')}\n\n"
        f"fine-tune: the source head, Adam lr {fs['finetune_lr']}, {fs['finetune_steps']} full-batch steps on the "
        f"k-shot support set. FOMAML / MAML (first / second order): the head meta-trained for {fs['meta_steps']} "
        f"meta-steps of {tasks} source languages (episodes of {fs['meta_shots']} support + "
        f"{fs['meta_query']} query utterances per class, inner SGD lr {fs['inner_lr']} x {fs['inner_steps']} "
        f"steps), adapted with {fs['test_inner_steps']} inner-loop SGD steps. \"init + fine-tune\": the meta-trained "
        f"head adapted like fine-tune. {result['minutes']:.1f} min.\n")
