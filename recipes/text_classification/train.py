"""Text classification with a small XLM-R (or one loaded by name): the gold-transcript ceiling of every speech
classification cascade, in the same shape as the speech recipes.

    polyvox train text_classification [key=value ...]        (= recipes/text_classification/configs/base.yaml)
    polyvox train text_classification data.text_form=romanized

Top to bottom: config -> splits (manifests or the built-in intent corpus) in the chosen text form -> for each seed:
tokenizer -> model -> fit() -> save_run -> test per language -> one table (accuracy and macro-F1, mean +- sd over
seeds; languages not trained on are marked zero-shot). Library parts: ``polyvox.text.classify`` (task: data, model,
batches, scoring; run: saved runs and prediction).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import torch

from polyvox.eval.tables import seeds_table
from polyvox.text.classify import task
from polyvox.text.classify.config import TextClassificationConfig
from polyvox.text.classify.run import classify_texts
from polyvox.train.config import config_to_dict, load_config, save_config
from polyvox.train.runs import sub_run_dir

SCORES_FILE = "scores.json"


def main(config_path: str, overrides: list[str]) -> int:
    t0 = time.time()
    cfg = load_config(TextClassificationConfig, config_path, overrides)
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    root = Path(cfg.run_dir)
    save_config(cfg, root / "config.yaml")

    # ---- data: every split in the configured text form; labels from the training rows only
    splits = task.load_splits(cfg.data)
    form, key = cfg.data.text_form, cfg.data.label_key
    labels = task.label_set(splits["train"], key)
    texts = {name: task.gold_texts(utts, form) for name, utts in splits.items()}
    train_langs = task.languages_of(splits["train"])
    print(f"{form} text; train {len(splits['train'])} rows in {train_langs}, dev {len(splits['dev'])}, "
          f"test {len(splits['test'])} in {task.languages_of(splits['test'])}; {len(labels)} classes", flush=True)

    scores = [train_and_test(cfg, splits, texts, labels, seed, root / f"seed-{seed}") for seed in cfg.seeds]

    # ---- one table: languages x metric, mean +- sd over seeds
    marks = task.mark_zero_shot(task.languages_of(splits["test"]), train_langs)
    tables = {m: seeds_table({f"gold {form}": {lang: [s[lang][m] for s in scores] for lang in scores[0]
                                              if lang != "all"}}, m, marks=marks)
              for m in ("accuracy", "macro_f1")}
    header = (f"Text classifier on gold {form} text; trained on {', '.join(train_langs)}; seeds {cfg.seeds}; "
              f"{(time.time() - t0) / 60:.1f} min in all")
    body = "\n\n".join(f"### {m}\n\n{t}" for m, t in tables.items())
    (root / "results.md").write_text(f"# Text classification\n\n{header}\n\n{body}\n", encoding="utf-8")
    (root / "results.json").write_text(json.dumps({"seeds": cfg.seeds, "scores": scores}, indent=1), encoding="utf-8")
    print(f"{header}\n\n{body}\nresults: {root / 'results.md'}", flush=True)
    return 0


def train_and_test(cfg: TextClassificationConfig, splits, texts, labels, seed: int, run_dir: Path) -> dict:
    """One seed: train, save the run, score the test split per language. A finished run with the same config is
    reused; an interrupted one resumes from its last checkpoint."""
    done = run_dir / SCORES_FILE
    if done.exists():
        saved = json.loads(done.read_text(encoding="utf-8"))
        if saved["config"] == config_to_dict(cfg):
            return saved["scores"]
    sub_run_dir(run_dir, config_to_dict(cfg))  # checkpoints of another config are not resumed
    key = cfg.data.label_key
    train_pairs = task.examples(splits["train"], texts["train"], key, labels)
    dev_pairs = task.examples(splits["dev"], texts["dev"], key, labels)
    run = task.train_text_classifier(cfg, cfg.data.text_form, train_pairs, dev_pairs, labels, run_dir, seed=seed,
                                     max_steps=cfg.train.max_steps, label_key=key)
    probs = classify_texts(run, texts["test"])
    gold = [lab for _, lab in task.examples(splits["test"], texts["test"], key, labels)]
    pred = probs.argmax(1).tolist()
    scores = task.per_language_scores(splits["test"], gold, pred, len(labels))
    with open(run_dir / "predictions.jsonl", "w", encoding="utf-8") as f:
        for u, t, g, p in zip(splits["test"], texts["test"], gold, pred):
            f.write(json.dumps({"id": u.id, "language": u.language, "text": t, "label": labels[g],
                                "predicted": labels[p]}, ensure_ascii=False) + "\n")
    done.write_text(json.dumps({"config": config_to_dict(cfg), "scores": scores}), encoding="utf-8")
    print(f"seed {seed}: test accuracy {100 * scores['all']['accuracy']:.1f} %", flush=True)
    return scores


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2:]))
