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


def ensure_asr_run(asr, unit: str, manifests: Mapping[str, Sequence[str | Path]], default_dir: Path,
                   threads: int = 0) -> Path:
    """The ``unit`` ("char" | "phone") run of ``asr`` (an :class:`~polyvox.multimodal.config.AsrRunsConfig`):
    ``asr.char_run`` / ``asr.phone_run``, or ``default_dir``; trained on ``manifests`` ({"train"|"dev"|"test": [paths]})
    when it holds no model yet."""
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
    cmd = [sys.executable, "-m", "polyvox", "train", config, f"run_dir={run_dir}",
           f"data.train_manifests={paths('train')}", f"data.dev_manifests={paths('dev')}",
           f"data.test_manifests={paths('test')}", f"data.train_langs={json.dumps(asr.langs)}",
           "data.corpus.heldout_engines=[]", f"train.max_steps={asr.max_steps}",
           f"train.eval_every={asr.max_steps}", f"threads={threads}", *asr.overrides]
    print(f"{unit} recognizer: training {run_dir}:\n  {' '.join(cmd[2:])}", flush=True)
    subprocess.run(cmd, check=True)
    return run_dir


def transcribe_cached(run_dir: Path, items: Mapping[str, Sequence[tuple[str, str]]], cache: Path,
                      decode: str = "greedy", chunk: int = 256, long_form: bool = False) -> dict[str, list[str]]:
    """{split: transcripts in row order} of ``items`` ({split: [(id, audio path)]}), cached in ``cache`` (keyed by
    id, invalidated when the recognizer's weights, the decode setting or ``long_form`` change). ``long_form``
    decodes each clip piece by piece between its pauses (:func:`polyvox.speech.asr.run.transcribe_long`)."""
    from polyvox.data.audio import load_audio
    from polyvox.speech.asr.decoding import DecodeConfig
    from polyvox.speech.asr.run import load_run, transcribe, transcribe_long

    stamp = {"asr_run": str(run_dir.resolve()), "decode": decode, "long_form": long_form,
             "weights_mtime": (run_dir / MODEL_FILE).stat().st_mtime}
    saved = json.loads(cache.read_text(encoding="utf-8")) if cache.exists() else {}
    if saved.get("stamp") != stamp:
        saved = {"stamp": stamp, "texts": {}}
    todo = list(dict.fromkeys((i, a) for rows in items.values() for i, a in rows if i not in saved["texts"]))
    if todo:
        run = load_run(run_dir, decode=DecodeConfig() if decode == "greedy" else None)
        t = time.time()
        for start in range(0, len(todo), chunk):  # a chunk of audio in memory at a time
            part = todo[start:start + chunk]
            decode_clips = transcribe_long if long_form else transcribe
            for (uid, _), text in zip(part, decode_clips(run, [load_audio(a)[0] for _, a in part])):
                saved["texts"][uid] = text
        cache.parent.mkdir(parents=True, exist_ok=True)
        cache.write_text(json.dumps(saved, ensure_ascii=False), encoding="utf-8")
        print(f"{run_dir.name}: transcribed {len(todo)} clips in {time.time() - t:.0f} s", flush=True)
    return {s: [saved["texts"][i] for i, _ in rows] for s, rows in items.items()}
