"""Throughput of `polyvox synth` against calling espeak-ng directly on the same texts and voices.

    .venv/bin/python benchmarks/synth_throughput.py --langs en,es,de,hi,ru,ar --utts-per-lang 40

Prints a markdown table (utterances/s, and per-core ratio to a bare `espeak-ng -w` loop) and
writes it to --out. Target: ratio per core >= 0.8.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from polyvox.data.espeak import espeak_binary
from polyvox.data.synth import corpus as synth
from polyvox.data.synth.words import make_text


def bare_espeak(jobs, tmp: Path) -> float:
    """Seconds for one `espeak-ng -w` process per utterance, one after another (one core)."""
    start = time.perf_counter()
    for job in jobs:
        s = job.speaker
        cmd = [espeak_binary(), "-v", s.voice, "-p", str(s.pitch), "-s", str(s.rate), "-w", str(tmp / "x.wav"),
               make_text(job.language, job.seed, job.index)]  # fmt: skip
        subprocess.run(cmd, check=True, capture_output=True)
    return time.perf_counter() - start


def polyvox_synth(langs, n, seed, speakers, workers, tmp: Path) -> float:
    out = tmp / f"corpus-w{workers}"
    start = time.perf_counter()
    synth.synthesize_corpus(out, langs, n, seed=seed, speakers=speakers, workers=workers)
    elapsed = time.perf_counter() - start
    shutil.rmtree(out)
    return elapsed


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--langs", default="en,es,de,hi,ru,ar")
    ap.add_argument("--utts-per-lang", type=int, default=40)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--speakers", type=int, default=4)
    ap.add_argument("--workers", default="1,2", help="worker counts to measure")
    ap.add_argument("--out", default="work/bench/synth_throughput.md")
    args = ap.parse_args()
    langs = synth.parse_langs(args.langs)
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        jobs = synth.plan_jobs(tmp, langs, args.utts_per_lang, args.seed, args.speakers)
        n = len(jobs)
        bare_espeak(jobs[:20], tmp)  # warm the page cache for espeak-ng's voice data
        base = n / bare_espeak(jobs, tmp)
        rows = [f"| bare `espeak-ng -w` loop | 1 | {base:.1f} | {base:.1f} | 1.00 |"]
        for w in (int(x) for x in args.workers.split(",")):
            ups = n / polyvox_synth(langs, args.utts_per_lang, args.seed, args.speakers, w, tmp)
            rows.append(f"| polyvox synth | {w} | {ups:.1f} | {ups / w:.1f} | {ups / w / base:.2f} |")
    table = "\n".join([
        f"{n} utterances ({','.join(langs)} x {args.utts_per_lang}), {os.cpu_count()} CPU cores, "
        f"{subprocess.run([espeak_binary(), '--version'], capture_output=True, text=True).stdout.split('Data')[0].strip()}",
        "",
        "| method | workers | utts/s | utts/s per worker | ratio per core vs bare |",
        "|---|---:|---:|---:|---:|",
        *rows,
    ])  # fmt: skip
    print(table)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(table + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
