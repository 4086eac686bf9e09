"""Run every benchmark script in benchmarks/ with small sizes and print their results (``make bench``).

    .venv/bin/python benchmarks/run_all.py                  # all, small sizes (a few minutes on 2 cores)
    .venv/bin/python benchmarks/run_all.py --only bench_loop --full   # one script, its own defaults

Each script runs in its own process (one after another, from the repository root) with the
arguments in :data:`SMALL` (scripts not listed run with their own defaults); results go to
``work/bench/run_all/<script>.md`` where the script takes ``--out``. The numbers in
benchmarks/README.md come from the larger commands written there, not from this quick pass.
Exits non-zero if any script failed.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
OUT = "work/bench/run_all"

# Small sizes per script; the README sections give the full commands.
SMALL: dict[str, list[str]] = {
    "bench_transcribe.py": ["--n", "16"],
    "synth_throughput.py": ["--langs", "en,es", "--utts-per-lang", "10", "--out", f"{OUT}/synth_throughput.md"],
    "bench_loop.py": ["--tiny", "--threads", "1", "--utts-per-lang", "10", "--steps", "4", "--warmup", "1", "--repeats", "1",
                      "--fixed-steps", "20", "--work", f"{OUT}/loop", "--out", f"{OUT}/bench_loop.md"],
    "augment_cost.py": ["--config", "recipes/asr_ctc/configs/augment.yaml", "--steps", "3", "--warmup", "1",
                        "--repeats", "1", "--out", f"{OUT}/augment_cost.md"],
    "f5_train_step.py": ["--shape", "tiny", "--steps", "4", "--warmup", "1", "--out", f"{OUT}/f5_train_step.md"],
    "f5_rtf.py": ["--shape", "tiny", "--steps", "4,8", "--seconds", "2", "--out", f"{OUT}/f5_rtf.md"],
}  # fmt: skip


def scripts(only: list[str]) -> list[Path]:
    """Benchmark scripts: benchmarks/*.py except this one and private modules (``_*.py``)."""
    found = sorted(p for p in HERE.glob("*.py") if p.name != Path(__file__).name and not p.name.startswith("_"))
    if only:
        wanted = {n if n.endswith(".py") else f"{n}.py" for n in only}
        missing = wanted - {p.name for p in found}
        if missing:
            raise SystemExit(f"no such benchmark in {HERE}: {', '.join(sorted(missing))}")
        found = [p for p in found if p.name in wanted]
    return found


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", default="", help="comma list of scripts to run (e.g. bench_loop,padding)")
    ap.add_argument("--full", action="store_true", help="run each script with its own defaults, not SMALL")
    args = ap.parse_args(argv)
    failed = []
    for script in scripts([s for s in args.only.split(",") if s]):
        extra = [] if args.full else SMALL.get(script.name, [])
        cmd = [sys.executable, str(script.relative_to(ROOT)), *extra]
        print(f"\n## {script.name}\n\n$ {' '.join(cmd[1:])}", flush=True)
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        print(proc.stdout.rstrip(), flush=True)
        if proc.returncode != 0:
            failed.append(script.name)
            print(f"FAILED (exit {proc.returncode}); last lines of stderr:\n" + "\n".join(proc.stderr.splitlines()[-20:]))
        print(f"({time.perf_counter() - t0:.0f} s)", flush=True)
    print(f"\n{len(failed)} failed: {', '.join(failed)}" if failed else "\nall benchmarks ran")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
