"""Benchmark scripts stay runnable and keep their own correctness checks (not their timings:
those belong in benchmarks/README.md)."""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_bench_transcribe_matches_the_pipeline(tmp_path):
    """The script exits non-zero unless polyvox transcribe and transformers.pipeline print the
    same text for every clip (both greedy, whatever the recipe config's decoding is)."""
    out = subprocess.run([sys.executable, str(ROOT / "benchmarks/bench_transcribe.py"), "--n", "8", "--threads", "1",
                          "--work", str(tmp_path)], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    assert "identical transcripts: 8/8 (per file)" in out.stdout


@pytest.mark.slow
def test_profile_step_takes_config_overrides():
    out = subprocess.run([sys.executable, str(ROOT / "benchmarks/profile_step.py"), "model.num_layers=1",
                          "model.subsampling_channels=8"], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "overrides: model.num_layers=1 model.subsampling_channels=8" in out.stdout and "median step:" in out.stdout


@pytest.mark.slow
def test_f5_benchmarks_run_and_the_parity_check_says_when_it_cannot(tmp_path):
    for script, args in (("f5_rtf.py", ["--shape", "tiny", "--steps", "4", "--methods", "euler", "--seconds", "1"]),
                         ("f5_train_step.py", ["--shape", "tiny", "--steps", "2", "--warmup", "1",
                                               "--clip-frames", "100", "--frames", "200"])):
        out = subprocess.run([sys.executable, str(ROOT / "benchmarks" / script), *args, "--out", str(tmp_path / "o.md")],
                             cwd=ROOT, capture_output=True, text=True, timeout=600)
        assert out.returncode == 0, out.stderr[-2000:]
        assert "| tiny | 1.2 M |" in (tmp_path / "o.md").read_text()
    out = subprocess.run([sys.executable, str(ROOT / "benchmarks/f5_parity.py")], cwd=ROOT, capture_output=True,
                         text=True, timeout=600)
    assert out.returncode == 0 and "NOT RUN" in out.stdout
