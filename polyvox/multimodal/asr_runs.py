"""The recognizers a cascade recipe needs: reused when their run directory holds a trained run, else trained on the
recipe's corpus by ``polyvox train asr_ctc...`` as a command (recipes do not import recipes), and their transcripts
cached beside the results so a re-run does not decode again.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Mapping, Sequence

from polyvox.train.runs import MODEL_FILE


def ensure_asr_runs(asr, units: set[str], manifests: Mapping[str, Sequence[str | Path]], root: Path,
                    threads: int = 0) -> dict[str, Path]:
    """{unit: run dir} for ``units`` (a subset of {"char", "phone"}), each reused or trained by :func:`ensure_asr_run`
    (default dirs ``root/asr-<unit>``). With ``asr.char_init: phone`` the phone recognizer comes first and its
    encoder starts the char run (a phone run knows the acoustics; a char CTC from scratch plateaus for thousands of
    steps on several scripts)."""
    dirs = {}
    char_trained = (Path(asr.char_run or root / "asr-char") / MODEL_FILE).exists()
    init_char = "char" in units and asr.char_init == "phone" and not char_trained  # a trained char run needs no init
    if init_char and "phone" not in units:
        phone_dir = Path(asr.phone_run or root / "asr-phone")
        if not (phone_dir / MODEL_FILE).exists() and not _has_phonemes(manifests.get("train", ())):
            raise SystemExit(f"asr.char_init=phone: no trained phone recognizer in {phone_dir}, and the training rows "
                             "have no phonemes to train one on; give asr.phone_run=RUN (e.g. make main's "
                             "work/runs/asr_ctc/base), asr.char_init=RUN, or asr.char_init='' (from scratch)")
    if "phone" in units or init_char:
        dirs["phone"] = ensure_asr_run(asr, "phone", manifests, root / "asr-phone", threads)
    if "char" in units:
        init = str(dirs["phone"]) if init_char else "" if asr.char_init == "phone" else asr.char_init
        dirs["char"] = ensure_asr_run(asr, "char", manifests, root / "asr-char", threads, init_from=init)
    return dirs


def _has_phonemes(manifests: Sequence[str | Path]) -> bool:
    from polyvox.data.manifest import read_manifest

    return any(u.phonemes for m in manifests for u in read_manifest(m)[:50])


def ensure_asr_run(asr, unit: str, manifests: Mapping[str, Sequence[str | Path]], default_dir: Path,
                   threads: int = 0, init_from: str = "") -> Path:
    """The ``unit`` ("char" | "phone") run of ``asr`` (an :class:`~polyvox.multimodal.config.AsrRunsConfig`):
    ``asr.char_run`` / ``asr.phone_run``, or ``default_dir``; trained on ``manifests`` ({"train"|"dev"|"test": [paths]})
    when it holds no model yet, from ``init_from`` (a trained CTC run of any unit) when given."""
    run_dir = Path((asr.char_run if unit == "char" else asr.phone_run) or default_dir)
    if (run_dir / MODEL_FILE).exists():
        print(f"{unit} recognizer: {run_dir} (trained)", flush=True)
        return run_dir

    if not all(manifests.get(s) for s in ("train", "dev", "test")):
        raise SystemExit(f"{run_dir}: no trained {unit} recognizer there, and this data has no transcribed speech to "
                         f"train one on; give asr.{unit}_run=RUN_DIR (a polyvox CTC run)")

    def paths(split):
        return "[" + ",".join(str(Path(p).resolve()) for p in manifests[split]) + "]"

    config = asr.char_config if unit == "char" else asr.phone_config
    steps = (asr.char_max_steps or asr.max_steps) if unit == "char" else asr.max_steps
    cmd = [sys.executable, "-m", "polyvox", "train", config, f"run_dir={run_dir}",
           f"data.train_manifests={paths('train')}", f"data.dev_manifests={paths('dev')}",
           f"data.test_manifests={paths('test')}", f"data.train_langs={json.dumps(asr.langs)}",
           "data.corpus.heldout_engines=[]", f"train.max_steps={steps}", f"train.eval_every={steps}",
           f"threads={threads}", "test_greedy=false", *asr.overrides]  # the cascades read its own decoding only
    if init_from:
        if not (Path(init_from) / MODEL_FILE).exists():
            raise SystemExit(f"asr.char_init: {init_from} holds no trained CTC run ({MODEL_FILE} missing)")
        cmd.append(f"init_from={init_from}")
    print(f"{unit} recognizer: training {run_dir}:\n  {' '.join(cmd[2:])}", flush=True)
    subprocess.run(cmd, check=True)
    return run_dir


def run_test_transcripts(run_dir: Path, test_manifests: Sequence[str | Path]) -> dict[str, str]:
    """{clip id: transcript} from a run's own test predictions (``predictions.jsonl``, decoded with the run's decode
    section after training) when its test set was exactly ``test_manifests``, else {}: a recipe that trained the
    recognizer on its corpus need not decode the same test clips a second time."""
    import yaml

    config, predictions = run_dir / "config.yaml", run_dir / "predictions.jsonl"
    if not (config.exists() and predictions.exists()):
        return {}
    tested = (yaml.safe_load(config.read_text(encoding="utf-8")) or {}).get("data", {}).get("test_manifests", [])
    if [str(Path(p).resolve()) for p in tested] != [str(Path(p).resolve()) for p in test_manifests]:
        return {}
    rows = (json.loads(line) for line in predictions.read_text(encoding="utf-8").splitlines() if line.strip())
    return {r["id"]: r["hyp"] for r in rows}


def transcribe_cached(run_dir: Path, items: Mapping[str, Sequence[tuple[str, str]]], cache: Path,
                      decode: str = "greedy", chunk: int = 256, long_form: bool = False,
                      test_manifests: Sequence[str | Path] = ()) -> dict[str, list[str]]:
    """{split: transcripts in row order} of ``items`` ({split: [(id, audio path)]}), cached in ``cache`` (keyed by
    id, invalidated when the recognizer's weights, the decode setting or ``long_form`` change). ``long_form``
    decodes each clip piece by piece between its pauses (:func:`polyvox.speech.asr.run.transcribe_long`). With
    ``decode: run``, clips of ``test_manifests`` that the run was tested on take its test transcripts
    (:func:`run_test_transcripts`) instead of being decoded again."""
    from polyvox.data.audio import load_audio
    from polyvox.speech.asr.decoding import DecodeConfig
    from polyvox.speech.asr.run import load_run, transcribe, transcribe_long

    stamp = {"asr_run": str(run_dir.resolve()), "decode": decode, "long_form": long_form,
             "weights_mtime": (run_dir / MODEL_FILE).stat().st_mtime}
    saved = json.loads(cache.read_text(encoding="utf-8")) if cache.exists() else {}
    if saved.get("stamp") != stamp:
        saved = {"stamp": stamp, "texts": {}}
    known = len(saved["texts"])
    if decode == "run" and not long_form and test_manifests:
        tested = run_test_transcripts(run_dir, test_manifests)
        for rows in items.values():
            saved["texts"].update({i: tested[i] for i, _ in rows if i in tested and i not in saved["texts"]})
        if len(saved["texts"]) > known:
            print(f"{run_dir.name}: {len(saved['texts']) - known} clips transcribed by its own test", flush=True)
    todo = list(dict.fromkeys((i, a) for rows in items.values() for i, a in rows if i not in saved["texts"]))
    if todo:
        run = load_run(run_dir, decode=DecodeConfig() if decode == "greedy" else None)
        t = time.time()
        for start in range(0, len(todo), chunk):  # a chunk of audio in memory at a time
            part = todo[start:start + chunk]
            decode_clips = transcribe_long if long_form else transcribe
            for (uid, _), text in zip(part, decode_clips(run, [load_audio(a)[0] for _, a in part])):
                saved["texts"][uid] = text
        print(f"{run_dir.name}: transcribed {len(todo)} clips in {time.time() - t:.0f} s", flush=True)
    if len(saved["texts"]) > known:
        cache.parent.mkdir(parents=True, exist_ok=True)
        cache.write_text(json.dumps(saved, ensure_ascii=False), encoding="utf-8")
    return {s: [saved["texts"][i] for i, _ in rows] for s, rows in items.items()}
