"""``polyvox doctor``: check the install, one line per piece, each problem with its fix.

Exit status 1 when something the main job (``make main``: the built-in corpus + the default ASR recipe) needs is
missing or broken; optional pieces (GPU, the demo's gradio and browser, sox) are reported but never fail it.
"""

from __future__ import annotations

import argparse
import importlib
import os
import platform
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

from polyvox.compat import FIX, installed_version, torch_pair_problem

OK, WARN, FAIL = "ok", "warn", "FAIL"
CHROMIUM_NAMES = ("chromium-headless-shell", "chromium", "chromium-browser", "google-chrome")


@dataclass(frozen=True)
class Check:
    name: str
    status: str  # OK | WARN (optional piece missing) | FAIL (the main job cannot run)
    detail: str
    fix: str = ""


def check_python() -> Check:
    v = sys.version_info
    detail = f"{platform.python_version()} ({sys.executable})"
    if v < (3, 10):
        return Check("python", FAIL, detail, "polyvox needs Python >= 3.10; the lock is made for 3.11")
    if v[:2] != (3, 11):
        return Check("python", WARN, detail, "requirements.lock is resolved for Python 3.11; other versions use "
                                             "pyproject.toml's ranges")
    return Check("python", OK, detail)


def check_torch() -> list[Check]:
    problem = torch_pair_problem()
    versions = f"torch {installed_version('torch')}, torchaudio {installed_version('torchaudio')}"
    if problem:
        return [Check("torch/torchaudio", FAIL, problem, FIX)]
    from polyvox.compat import TorchPairError, import_torchaudio

    try:
        torchaudio = import_torchaudio()
        import torch

        # forced_align lives in the compiled extension: running it proves libtorchaudio loads.
        emission = torch.zeros(1, 3, 2).log_softmax(-1)
        torchaudio.functional.forced_align(emission, torch.tensor([[1]], dtype=torch.int32), blank=0)
    except (TorchPairError, ImportError, RuntimeError, OSError) as e:
        return [Check("torch/torchaudio", FAIL, f"{versions}: torchaudio's extension does not load: {e}", FIX)]
    checks = [Check("torch/torchaudio", OK, f"{versions}; torchaudio extension loads")]
    if torch.cuda.is_available():
        name = torch.cuda.get_device_name(0)
        bf16 = "bf16 supported" if torch.cuda.is_bf16_supported() else "no bf16 (use train.precision=fp16)"
        checks.append(Check("cuda", OK, f"{torch.cuda.device_count()} GPU(s), {name}, CUDA {torch.version.cuda}, {bf16}"))
    else:
        cuda = f"torch built with CUDA {torch.version.cuda}" if torch.version.cuda else "CPU-only torch build"
        checks.append(Check("cuda", WARN, f"no GPU visible ({cuda}); training runs on {os.cpu_count()} CPU cores",
                            "optional: recipes use a GPU when one is visible"))
    return checks


def check_espeak() -> Check:
    from polyvox.data.espeak import EspeakError, espeak_version, espeak_voices

    fix = "sudo apt-get install espeak-ng (or `make system-deps`)"
    exe = shutil.which("espeak-ng")
    if exe is None:
        return Check("espeak-ng", FAIL, "not on PATH: the built-in corpus cannot be spoken", fix)
    try:
        version, voices = espeak_version(), espeak_voices()
    except (OSError, EspeakError) as e:
        return Check("espeak-ng", FAIL, f"{exe} does not run: {e}", fix)
    if not voices:
        return Check("espeak-ng", FAIL, f"{exe}: no voices found", "sudo apt-get install --reinstall espeak-ng-data")
    return Check("espeak-ng", OK, f"{version}, {len(voices)} voices ({exe})")


def check_sox() -> Check:
    exe = shutil.which("sox")
    if exe is None:
        return Check("sox", WARN, "not on PATH (some tests write MP3 clips with it)",
                     "sudo apt-get install sox libsox-fmt-mp3")
    return Check("sox", OK, exe)


def check_module(name: str, dist: str, required: bool, fix: str, why: str) -> Check:
    try:
        importlib.import_module(name)
    except Exception as e:  # a broken build (kenlm) raises more than ImportError
        return Check(dist, FAIL if required else WARN, f"cannot import {name} ({why}): {e}", fix)
    return Check(dist, OK, f"{installed_version(dist) or 'installed'}")


def find_chromium() -> str | None:
    """A Chromium binary for the browser tests: $POLYVOX_CHROMIUM, then the usual names on PATH."""
    env = os.environ.get("POLYVOX_CHROMIUM")
    if env:
        return env if Path(env).is_file() else None
    return next((p for p in map(shutil.which, CHROMIUM_NAMES) if p), None)


def check_browser() -> list[Check]:
    checks = [check_module("playwright", "playwright", False, 'pip install -c requirements.lock -e ".[demo]"',
                           "browser tests of the demo")]
    exe = find_chromium()
    if exe is None:
        checks.append(Check("chromium", WARN, "no chromium binary (browser tests of the demo)",
                            "sudo apt-get install chromium-headless-shell (or chromium); or set POLYVOX_CHROMIUM"))
    else:
        checks.append(Check("chromium", OK, exe))
    return checks


def check_cache() -> Check:
    from polyvox.data.paths import CORPUS_ROOT, default_cache_dir

    return Check("corpus cache", OK, f"built-in corpora under {CORPUS_ROOT.resolve()} (relative to the current "
                                     f"directory); espeak inventories under {default_cache_dir()}")


def run_checks() -> list[Check]:
    checks = [check_python(), *check_torch(), check_espeak(), check_sox()]
    lock_fix = 'pip install -c requirements.lock -e ".[dev,demo]"'
    checks.append(check_module("pyctcdecode", "pyctcdecode", True, lock_fix, "CTC beam search of the default recipe"))
    checks.append(check_module("kenlm", "kenlm", True, lock_fix + " (kenlm compiles: needs g++ and cmake)",
                               "n-gram LM of the default recipe"))
    checks.append(check_module("gradio", "gradio", False, lock_fix, "the demo"))
    checks.extend(check_browser())
    checks.append(check_cache())
    return checks


def format_report(checks: list[Check]) -> str:
    width = max(len(c.name) for c in checks)
    lines = []
    for c in checks:
        line = f"[{c.status:>4}] {c.name:<{width}}  {c.detail}"
        if c.fix and c.status != OK:
            line += f"\n       {'':<{width}}  fix: {c.fix}"
        lines.append(line)
    failed = [c.name for c in checks if c.status == FAIL]
    lines.append(f"doctor: {len(failed)} problem(s) the main job cannot run with: {', '.join(failed)}" if failed
                 else "doctor: everything the main job needs is here")
    return "\n".join(lines)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    del parser  # no options: it checks everything


def run(args: argparse.Namespace) -> int:
    checks = run_checks()
    print(format_report(checks))
    return 1 if any(c.status == FAIL for c in checks) else 0
