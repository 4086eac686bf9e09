"""Semantic speech classification, SpeechTaxi's question: is an end-to-end speech classifier better than an ASR ->
text cascade, and does a cascade through romanized (or IPA) text transfer better to languages never trained on?

    polyvox train speech_classification [key=value ...]     (= recipes/speech_classification/configs/base.yaml)
    polyvox train speech_classification asr.char_run=work/runs/my_char_asr   (reuse an ASR run)

Top to bottom: config -> splits (the built-in SYNTHETIC intent corpus, or manifests) -> the two recognizers (a char
and a phone CTC run, trained here by ``polyvox train asr_ctc...`` on the corpus when missing) -> their transcripts of
every split -> per protocol, group and seed: one text classifier per text form (scored on gold text: the ceiling, and
on ASR output: the cascade) and one end-to-end classifier -> one table per protocol and metric (mean +- sd over seeds).

Systems: ``e2e`` (the char ASR's encoder, frozen, -> attentive pooling -> MLP head), ``native`` / ``romanized`` /
``ipa`` cascades and their ``gold`` ceilings. Protocols: ``multilingual`` (train on data.train_langs, test on every
data.eval_langs: those not trained on are zero-shot) and ``inlanguage`` (one model per training language).
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import replace
from pathlib import Path

import torch

from polyvox.eval.tables import mean_sd, seeds_table
from polyvox.multimodal.cascade import cascade_texts, save_cascade
from polyvox.multimodal.config import SpeechClassificationConfig
from polyvox.multimodal.asr_runs import ensure_asr_runs, transcribe_cached
from polyvox.speech.classify.frozen import encode_utterances, predict_frames, train_frame_classifier
from polyvox.speech.classify.model import build_classifier
from polyvox.text.classify import task as text_task
from polyvox.text.classify.run import classify_texts
from polyvox.train.config import config_to_dict, load_config, save_config
from polyvox.train.runs import sub_run_dir

FORMS = ("native", "romanized", "ipa")
METRICS = ("accuracy", "macro_f1")


def main(config_path: str, overrides: list[str]) -> int:
    t0 = time.time()
    cfg = load_config(SpeechClassificationConfig, config_path, overrides)
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    root = Path(cfg.run_dir)
    save_config(cfg, root / "config.yaml")

    # ---- data: the same splits for every system; labels from the training rows only
    paths = text_task.manifest_paths(cfg.data)
    splits = text_task.load_splits(cfg.data, paths)
    key = cfg.data.label_key
    labels = text_task.label_set(splits["train"], key)
    gold = {s: [y for _, y in text_task.examples(u, [""] * len(u), key, labels)] for s, u in splits.items()}
    train_langs, test_langs = text_task.languages_of(splits["train"]), text_task.languages_of(splits["test"])
    print(f"train {len(splits['train'])} rows in {train_langs}; test {len(splits['test'])} in {test_langs}; "
          f"{len(labels)} classes", flush=True)

    # ---- recognizers, trained on the corpus when missing, and their transcripts of every split
    forms = [s for s in cfg.systems if s in FORMS]
    manifests = {s: [p] for s, p in paths.items()}
    units = {"phone"} if "ipa" in forms else set()
    if "native" in forms or "romanized" in forms or ("e2e" in cfg.systems and cfg.e2e.model.encoder == "asr"):
        units.add("char")
    asr_dirs = ensure_asr_runs(cfg.asr, units, manifests, root, cfg.threads)
    needed = {"phone" if f == "ipa" else "char" for f in forms}
    clips = {s: [(u.id, u.audio) for u in utts] for s, utts in splits.items()}
    transcripts = {unit: transcribe_cached(asr_dirs[unit], clips, root / f"transcripts-{unit}.json", cfg.asr.decode,
                                           test_manifests=manifests["test"])
                   for unit in needed}

    # ---- every text form, gold and recognized
    texts = {}
    for form in forms:
        unit = "phone" if form == "ipa" else "char"
        texts[form] = {"gold": {s: text_task.gold_texts(u, form) for s, u in splits.items()},
                       "asr": {s: cascade_texts(transcripts[unit][s], form, [x.language for x in u])
                               for s, u in splits.items()}}

    # ---- end-to-end: the frozen encoder's frames, computed once for every split
    frames = None
    if "e2e" in cfg.systems:
        e2e_model = cfg.e2e.model
        if e2e_model.encoder == "asr" and not e2e_model.name_or_path:
            e2e_model = replace(e2e_model, name_or_path=str(asr_dirs["char"]))
        cfg = replace(cfg, e2e=replace(cfg.e2e, model=replace(e2e_model, num_classes=len(labels))))
        encoder = build_classifier(cfg.e2e.model).encoder
        t = time.time()
        frames = {s: encode_utterances(encoder, u) for s, u in splits.items()}
        print(f"end-to-end: encoder frames of {sum(map(len, splits.values()))} utterances in {time.time() - t:.0f} s",
              flush=True)

    # ---- protocols x groups x seeds: train each system, score it on the group's test rows
    scores = {}  # protocol -> metric -> column -> language -> [per seed]
    for protocol in cfg.protocols:
        groups = [("multilingual", train_langs)] if protocol == "multilingual" else [(l, [l]) for l in train_langs]
        table = {m: {} for m in METRICS}
        for group, langs in groups:
            idx = {s: [i for i, u in enumerate(splits[s]) if u.language in langs or (s == "test" and
                                                                                    protocol == "multilingual")]
                   for s in splits}
            for seed in cfg.seeds:
                out_dir = root / protocol / group
                results = train_group(cfg, protocol, out_dir, seed, splits, idx, gold, labels, texts, frames,
                                      asr_dirs)
                for column, per_lang in results.items():
                    for m in METRICS:
                        for lang, rep in per_lang.items():
                            if lang != "all":
                                table[m].setdefault(column, {}).setdefault(lang, []).append(rep[m])
        scores[protocol] = table
    write_report(cfg, root, scores, train_langs, test_langs, asr_dirs, (time.time() - t0) / 60)
    return 0


# ----------------------------------------------------------------------------- one group, one seed


def train_group(cfg, protocol, out_dir: Path, seed: int, splits, idx, gold, labels, texts, frames, asr_dirs) -> dict:
    """Every system trained on the rows ``idx["train"]`` with one seed -> {column: per-language scores}. Finished
    runs (same config) are reused."""
    done = out_dir / f"scores-seed{seed}.json"
    if done.exists():
        saved = json.loads(done.read_text(encoding="utf-8"))
        if saved["config"] == config_to_dict(cfg):
            return saved["scores"]
    share = 1.0 if protocol == "multilingual" else cfg.inlanguage_steps
    test_utts = [splits["test"][i] for i in idx["test"]]
    test_gold = [gold["test"][i] for i in idx["test"]]
    results = {}
    for form in texts:
        train_texts = []
        if cfg.text.train_on in ("gold", "both"):
            train_texts += [(texts[form]["gold"]["train"][i], gold["train"][i]) for i in idx["train"]]
        if cfg.text.train_on in ("asr", "both"):
            train_texts += [(texts[form]["asr"]["train"][i], gold["train"][i]) for i in idx["train"]]
        dev_texts = [(texts[form]["gold"]["dev"][i], gold["dev"][i]) for i in idx["dev"]]
        run_dir = sub_run_dir(out_dir / f"text-{form}" / f"seed-{seed}", config_to_dict(cfg))
        run = text_task.train_text_classifier(cfg.text, form, train_texts, dev_texts, labels, run_dir, seed=seed,
                                              max_steps=round(cfg.text.train.max_steps * share),
                                              label_key=cfg.data.label_key)
        for source, column in (("gold", f"gold {form}"), ("asr", f"cascade {form}")):
            pred = classify_texts(run, [texts[form][source]["test"][i] for i in idx["test"]]).argmax(1).tolist()
            results[column] = text_task.per_language_scores(test_utts, test_gold, pred, len(labels))
        unit = "phone" if form == "ipa" else "char"
        save_cascade(out_dir / f"cascade-{form}" / f"seed-{seed}", asr_dirs[unit], run_dir, form)
    if frames is not None:
        steps = max(1, round(cfg.e2e.train.max_steps * share))
        model = train_frame_classifier(
            cfg.e2e.model, replace(cfg.e2e.train, seed=seed, max_steps=steps),
            [(frames["train"][i], gold["train"][i]) for i in idx["train"]],
            [(frames["dev"][i], gold["dev"][i]) for i in idx["dev"]], labels,
            sub_run_dir(out_dir / "e2e" / f"seed-{seed}", config_to_dict(cfg)),
            batch_size=cfg.e2e.batch_size, label_key=cfg.data.label_key)
        pred = predict_frames(model, [frames["test"][i] for i in idx["test"]]).argmax(1).tolist()
        results["end-to-end"] = text_task.per_language_scores(test_utts, test_gold, pred, len(labels))
    done.write_text(json.dumps({"config": config_to_dict(cfg), "scores": results}), encoding="utf-8")
    summary = ", ".join(f"{c} {100 * r['all']['accuracy']:.1f}" for c, r in results.items())
    print(f"{protocol}/{out_dir.name} seed {seed}: test accuracy % {summary}", flush=True)
    return results


# ----------------------------------------------------------------------------- report


def write_report(cfg, root: Path, scores, train_langs, test_langs, asr_dirs, minutes: float) -> None:
    marks = text_task.mark_zero_shot(test_langs, train_langs)
    asr_results = {}
    for unit, d in asr_dirs.items():
        res = d / "results.json"
        asr_results[unit] = json.loads(res.read_text(encoding="utf-8")) if res.exists() else None
    parts = [f"Trained on {', '.join(train_langs)}; tested on {', '.join(test_langs)}; seeds {cfg.seeds}; text "
             f"classifiers trained on {cfg.text.train_on} text; recognizers: "
             + ", ".join(f"{u} {d}" for u, d in asr_dirs.items()) + f"; {minutes:.1f} min in all."]
    for protocol, table in scores.items():
        for m in METRICS:
            order = ["end-to-end"] + [f"{k} {f}" for f in FORMS for k in ("cascade", "gold")]
            cols = {c: table[m][c] for c in order if c in table[m]}
            parts.append(f"## {protocol}: {m}\n\n" + seeds_table(cols, m, marks=marks if protocol == "multilingual"
                                                                  else None))
    parts.append(findings(scores, marks))
    (root / "results.md").write_text("# Speech classification: end-to-end vs cascades\n\n" + "\n\n".join(parts) + "\n",
                                     encoding="utf-8")
    (root / "results.json").write_text(json.dumps({"scores": scores, "train_langs": train_langs,
                                                   "test_langs": test_langs, "minutes": minutes}, indent=1),
                                       encoding="utf-8")
    print("\n\n".join(parts), f"\nresults: {root / 'results.md'}", flush=True)


def findings(scores, marks) -> str:
    """The two questions, answered from the multilingual accuracy table (mean over languages and seeds)."""
    acc = scores.get("multilingual", {}).get("accuracy", {})

    def mean_of(column, zero_shot):
        vals = [v for lang, vs in acc.get(column, {}).items() if (lang in marks) == zero_shot for v in vs]
        return mean_sd(vals)[0] if vals else None

    lines = ["## What this run says (multilingual protocol, accuracy averaged over languages and seeds)"]
    e2e, native = mean_of("end-to-end", False), mean_of("cascade native", False)
    if e2e is not None and native is not None:
        verdict = "beats" if e2e > native else "does not beat"
        lines.append(f"- In-language: end-to-end {100 * e2e:.1f} % {verdict} the native cascade {100 * native:.1f} %.")
    if marks:
        zs = {c: mean_of(c, True) for c in ("cascade native", "cascade romanized", "cascade ipa", "end-to-end")}
        shown = ", ".join(f"{c} {100 * v:.1f} %" for c, v in zs.items() if v is not None)
        lines.append(f"- Zero-shot ({', '.join(sorted(marks))}): {shown}.")
        if zs.get("cascade native") is not None:
            for c in ("cascade romanized", "cascade ipa"):
                if zs.get(c) is not None:
                    verdict = "helps" if zs[c] > zs["cascade native"] else "does not help"
                    lines.append(f"- {c.split()[1]} text {verdict} zero-shot transfer over native script here.")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2:]))
