"""Zero-shot phone recognition, the training side: the recipe's config (an ASR config plus a ``zeroshot`` section),
its checks, and the zero-shot evaluation of a trained run: rows of seen and unseen languages, their target
inventories, scores in the three decoding modes and the report (zeroshot.md / .json / _predictions.jsonl)."""

from __future__ import annotations

import dataclasses
import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch

from polyvox.data.manifest import read_manifests, take_per_language
from polyvox.data.synth.words import LANGUAGES
from polyvox.speech.asr.config import AsrConfig, CorpusConfig
from polyvox.speech.asr.run import load_run
from polyvox.speech.asr.task import manifest_paths, synthesize_builtin
from polyvox.speech.phones import zeroshot
from polyvox.train.config import ConfigError


@dataclass
class ZeroShotConfig:
    # unseen languages from the built-in corpus; every row of every split is scored (never trained on)
    corpus: CorpusConfig = field(default_factory=lambda: CorpusConfig(langs=[], utts_per_lang=40, speakers=4))
    manifests: list[str] = field(default_factory=list)  # more eval manifests (e.g. Common Voice test sets)
    test_split: bool = True  # also score every language of data's test split (training languages and any other)
    langs: list[str] = field(default_factory=list)  # score only these languages ([] = all of the above)
    # espeak (any espeak-ng language) | manifest (the eval rows' phones) | a folder of <lang>.txt files
    inventory: str = "espeak"
    inventory_files: dict[str, str] = field(default_factory=dict)  # per-language inventory file (wins over `inventory`)
    espeak_words: int = 300  # words phonemized per espeak inventory
    modes: list[str] = field(default_factory=lambda: list(zeroshot.MODES))
    weighted: bool = True  # salience-weighted feature distance for the mapping (else Hamming)
    max_utts_per_lang: int = 0  # 0 = all
    eval_only: bool = False  # score an existing run (run_dir) without training
    name: str = "zeroshot"  # result files: RUN/<name>.md, <name>.json, <name>_predictions.jsonl, <name>_config.yaml


@dataclass
class PhonemeConfig(AsrConfig):
    """An ASR config (phoneme targets) plus the zero-shot evaluation section."""

    zeroshot: ZeroShotConfig = field(default_factory=ZeroShotConfig)


def asr_config(cfg: PhonemeConfig) -> AsrConfig:
    """The ASR part of the config. Dev evaluation (checkpoint selection) sees training languages only."""
    out = AsrConfig(**{f.name: getattr(cfg, f.name) for f in dataclasses.fields(AsrConfig)})
    out = dataclasses.replace(out, data=dataclasses.replace(out.data, eval_langs=list(cfg.data.train_langs)))
    return out


def eval_utterances(cfg: PhonemeConfig) -> list:
    """Rows to score: the data test split (seen languages, and unseen ones if the corpus has
    any) and every row of the zero-shot corpus / manifests."""
    z, utts = cfg.zeroshot, []
    if z.test_split:
        utts += read_manifests(manifest_paths(cfg.data)["test"])
    if z.corpus.langs:
        paths = synthesize_builtin(z.corpus)
        utts += read_manifests([paths[s] for s in ("train", "dev", "test")])
    utts += read_manifests([Path(p) for p in z.manifests])
    if z.langs:
        utts = [u for u in utts if u.language in z.langs]
    if z.max_utts_per_lang:
        utts = take_per_language(utts, z.max_utts_per_lang)
    if not utts:
        raise ValueError("zero-shot evaluation: no utterances (set zeroshot.corpus.langs, zeroshot.manifests "
                         "or zeroshot.test_split)")
    return utts


def inventory_for(z: ZeroShotConfig, lang: str, utts: list) -> tuple[list[str], str]:
    """(phones, where they came from) for one evaluation language."""
    if lang in z.inventory_files:
        return zeroshot.target_inventory(path=z.inventory_files[lang]), z.inventory_files[lang]
    if z.inventory == "espeak":
        # built-in corpus languages: the voice the corpus was spoken with (en -> en-us, fr -> fr-fr)
        voice = LANGUAGES[lang].voice if lang in LANGUAGES else lang
        return zeroshot.target_inventory(lang=voice, n_words=z.espeak_words), f"espeak-ng ({z.espeak_words} words)"
    if z.inventory == "manifest":
        return zeroshot.target_inventory(lang=lang, manifest=utts), "eval rows"
    path = Path(z.inventory) / f"{lang}.txt"
    if not path.exists():
        raise FileNotFoundError(f"{path}: no inventory file for {lang} (zeroshot.inventory={z.inventory!r} is "
                                "'espeak', 'manifest' or a folder of <lang>.txt files)")
    return zeroshot.target_inventory(path=path), str(path)


def evaluate_zero_shot(cfg: PhonemeConfig, run_dir: Path) -> dict:
    """Score ``run_dir`` in every decoding mode on every evaluation language and write the report."""
    t0 = time.time()
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    run = load_run(run_dir)
    results_path = run_dir / "results.json"
    asr_results = json.loads(results_path.read_text()) if results_path.exists() else {}
    train_langs = asr_results.get("train_langs") or sorted(cfg.data.train_langs)
    utts = eval_utterances(cfg)
    langs = sorted({u.language for u in utts}, key=lambda l: (l not in train_langs, l))
    inventories, sources = {}, {}
    for lang in langs:
        inventories[lang], sources[lang] = inventory_for(cfg.zeroshot, lang, [u for u in utts if u.language == lang])
    summary, rows = zeroshot.evaluate_zero_shot(run, utts, inventories, cfg.zeroshot.modes,
                                                weighted=cfg.zeroshot.weighted)
    minutes = (time.time() - t0) / 60
    out = {"summary": summary, "train_langs": train_langs, "inventory_sources": sources,
           "inventories": inventories, "modes": cfg.zeroshot.modes, "eval_minutes": minutes,
           "train_minutes": asr_results.get("train_minutes"), "steps": asr_results.get("steps")}
    name = cfg.zeroshot.name
    (run_dir / f"{name}.json").write_text(json.dumps(out, indent=1, ensure_ascii=False), encoding="utf-8")
    zeroshot.write_rows(run_dir / f"{name}_predictions.jsonl", rows)
    table = zeroshot.zeroshot_table(summary, seen=train_langs, modes=cfg.zeroshot.modes)
    text = (f"# {run_dir.name}: zero-shot phone recognition (greedy CTC)\n\n"
            f"Trained on {', '.join(train_langs)}"
            + (f" ({asr_results['steps']} steps, {asr_results['train_minutes']:.1f} min)" if asr_results else "")
            + f". PER / PFER / OOV in %; OOV = share of reference phones outside the training phones. "
            f"Target inventories: {', '.join(sorted(set(sources.values())))}.\n\n{table}\n")
    if set(zeroshot.MODES) <= set(cfg.zeroshot.modes):
        text += f"\nPER change vs raw decoding (percentage points; negative = better):\n\n" \
                f"{zeroshot.gain_table(summary, seen=train_langs)}\n"
    (run_dir / f"{name}.md").write_text(text, encoding="utf-8")
    print(text, flush=True)
    print(f"zero-shot results: {run_dir / f'{name}.md'} ({minutes:.1f} min)", flush=True)
    return summary


def check_config(cfg: PhonemeConfig, config_path: str) -> None:
    """ConfigError naming the key unless the config trains a phone recognizer with the standard protocol."""
    if cfg.data.unit != "phoneme":
        raise ConfigError(f"{config_path}: data.unit must be 'phoneme' for phone recognition, got {cfg.data.unit!r}")
    if cfg.protocol != "standard":
        raise ConfigError(f"{config_path}: protocol must be 'standard', got {cfg.protocol!r}")
    bad = [m for m in cfg.zeroshot.modes if m not in zeroshot.MODES]
    if bad:
        raise ConfigError(f"{config_path}: zeroshot.modes: unknown mode {bad[0]!r}; choose from {zeroshot.MODES}")
