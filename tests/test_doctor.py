"""`polyvox doctor`: the real report of this machine (shown at the end of the test run), and a failing check that
names the missing piece with its fix and sets the exit status."""

import os
import subprocess
import sys
from pathlib import Path

from polyvox.doctor import FAIL, OK, WARN, Check, format_report

POLYVOX = Path(sys.executable).with_name("polyvox")


def test_doctor_reports_this_machine(request):
    proc = subprocess.run([str(POLYVOX), "doctor"], capture_output=True, text=True, timeout=300)
    request.config.polyvox_doctor_report = proc.stdout  # printed by conftest at the end of the run
    lines = proc.stdout.splitlines()
    assert proc.returncode == 0, proc.stdout + proc.stderr
    for name in ("python", "torch/torchaudio", "cuda", "espeak-ng", "sox", "pyctcdecode", "kenlm", "gradio",
                 "playwright", "chromium", "corpus cache"):
        assert any(line[7:].startswith(name) for line in lines), f"no {name} line in\n{proc.stdout}"
    assert "torchaudio extension loads" in proc.stdout
    assert lines[-1] == "doctor: everything the main job needs is here"


def test_doctor_fails_without_espeak(tmp_path):
    # An empty PATH: espeak-ng and sox are gone, so the main job cannot run.
    env = {**os.environ, "PATH": str(tmp_path)}
    proc = subprocess.run([sys.executable, "-m", "polyvox.cli", "doctor"], capture_output=True, text=True,
                          env=env, timeout=300)
    assert proc.returncode == 1
    out = proc.stdout
    assert "[FAIL] espeak-ng" in out and "fix: sudo apt-get install espeak-ng" in out
    assert "[warn] sox" in out  # optional: reported, never fatal
    assert out.splitlines()[-1].startswith("doctor: 1 problem(s) the main job cannot run with: espeak-ng")


def test_report_format():
    report = format_report([Check("a", OK, "fine"), Check("bb", WARN, "absent", "install bb"),
                            Check("c", FAIL, "broken", "fix c")])
    assert report.splitlines() == ["[  ok] a   fine", "[warn] bb  absent", "           fix: install bb",
                                   "[FAIL] c   broken", "           fix: fix c",
                                   "doctor: 1 problem(s) the main job cannot run with: c"]
