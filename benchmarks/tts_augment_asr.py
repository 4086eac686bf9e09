"""Does speech from polyvox's TTS help low-resource ASR? ("ASR data augmentation using cross-lingual multi-speaker
TTS".) For each k and seed: an Italian phoneme recognizer from k minutes of real speech alone, and from the same k
minutes plus TTS speech, and, as the control, from the k minutes plus the real Italian clips the TTS run was itself
trained on (is its speech worth more or less than its own training data?); all `polyvox train asr_ctc/tts_augment`
(test: Italian speakers never trained on, and the held-out festival voices); mean and spread of PER over seeds.

    .venv/bin/python benchmarks/tts_augment_asr.py --minutes 1,4 --seeds 0,1,2 --out work/bench/tts_augment_asr.md

Needs the ASR corpus (make main builds it) and a TTS run (polyvox train tts, default work/runs/tts/base). The TTS
speech: ``--tts-utts`` new Italian sentences (their own text seed), each in the voice of one training clip of the
ASR corpus, of any of its 6 languages, in turn (cross-lingual voices; no test speaker's clip is used).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--minutes", default="1,4")
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--tts-run", default="work/runs/tts/base")
    ap.add_argument("--tts-utts", type=int, default=400)
    ap.add_argument("--work", default="work/bench/tts_augment")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", default="")
    ap.add_argument("overrides", nargs="*", help="extra key=value for every ASR run (e.g. train.max_steps=300)")
    args = ap.parse_args(argv)
    from polyvox.data.manifest import read_manifest
    from polyvox.data.synth.spec import synthesize_builtin
    from polyvox.speech.asr.config import AsrConfig
    from polyvox.speech.tts.augment import synthesize_tts_corpus
    from polyvox.train.config import load_config

    config = ROOT / "recipes/asr_ctc/configs/tts_augment.yaml"
    cfg = load_config(AsrConfig, config, args.overrides)
    corpus = synthesize_builtin(cfg.data.corpus)
    work = Path(args.work)
    t0 = time.time()
    voices = [u for u in read_manifest(corpus["train"])]
    by_speaker = {}
    for u in voices:
        by_speaker.setdefault(u.speaker, u)  # one clip per training speaker, every language
    tts = synthesize_tts_corpus(args.tts_run, "it", args.tts_utts, sorted(by_speaker.values(), key=lambda u: u.id),
                                work / "tts_it")
    tts_rows = read_manifest(tts)
    tts_minutes = sum(u.duration for u in tts_rows) / 60
    print(f"TTS speech: {len(tts_rows)} utterances, {tts_minutes:.1f} min, {len(by_speaker)} voices "
          f"({time.time() - t0:.0f} s)", flush=True)
    # the control: the real Italian clips the TTS run itself was trained on (other voices), instead of its speech
    from polyvox.data.manifest import write_manifest
    from polyvox.speech.tts.config import TtsConfig

    tts_cfg = load_config(TtsConfig, Path(args.tts_run) / "config.yaml")
    source_rows = [u for u in read_manifest(synthesize_builtin(tts_cfg.data.corpus)["train"]) if u.language == "it"]
    source = write_manifest(work / "tts_source_it.jsonl", source_rows)
    source_minutes = sum(u.duration for u in source_rows) / 60
    print(f"the TTS run's own Italian training clips: {len(source_rows)}, {source_minutes:.1f} min", flush=True)
    conditions = (("real", "[]"), ("real+tts", f"[{tts}]"), ("real+tts-source", f"[{source}]"))
    results: dict[tuple[float, str], list[dict]] = {}
    for minutes in map(float, args.minutes.split(",")):
        for seed in map(int, args.seeds.split(",")):
            for condition, extra in conditions:
                run_dir = work / f"k{minutes:g}-seed{seed}-{condition}"
                cmd = [sys.executable, "-m", "polyvox.cli", "train", str(config), f"run_dir={run_dir}",
                       f"data.fewshot_minutes={minutes}", f"train.seed={seed}", f"data.extra_train_manifests={extra}",
                       f"threads={args.threads}", *args.overrides]
                if not (run_dir / "results.json").is_file():
                    out = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
                    if out.returncode:
                        print(out.stderr[-3000:], file=sys.stderr)
                        return 1
                r = json.loads((run_dir / "results.json").read_text(encoding="utf-8"))
                results.setdefault((minutes, condition), []).append(r)
                print(f"k={minutes:g} seed={seed} {condition}: test PER {100 * r['summary']['it']['per']:.1f} %",
                      flush=True)

    def cell(rows, key):
        vals = [100 * (r[key]["it"]["per"] if key == "summary" else r[key]["all"]["per"]) for r in rows
                if key in r and r[key]]
        if not vals:
            return "-"
        return f"{statistics.mean(vals):.1f} ± {statistics.stdev(vals) if len(vals) > 1 else 0:.1f}"

    lines = [f"Italian phoneme recognizer, {cfg.train.max_steps} steps per run, seeds {args.seeds}; TTS speech "
             f"(real+tts): {len(tts_rows)} utterances ({tts_minutes:.1f} min) from {args.tts_run} in "
             f"{len(by_speaker)} voices; real+tts-source: the {len(source_rows)} real Italian clips "
             f"({source_minutes:.1f} min, {len({u.speaker for u in source_rows})} other espeak-ng voices) that TTS run "
             "was trained on",
             "", "| real minutes | training data | test PER % (unseen espeak-ng speakers) | held-out festival voices PER % |",
             "|---:|---|---:|---:|"]
    for (minutes, condition), rows in results.items():
        heldout_key = "heldout_summary" if "heldout_summary" in rows[0] else "heldout"
        lines.append(f"| {minutes:g} | {condition} | {cell(rows, 'summary')} | {cell(rows, heldout_key)} |")
    text = "\n".join(lines) + f"\n\n({(time.time() - t0) / 60:.1f} min in all)\n"
    print(text)
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
