"""The install: pyproject's package list and pins agree with the tree and the committed lock, and a wheel installed
outside the checkout runs recipes by name (issue 10)."""

import os
import re
import subprocess
import sys
import sysconfig
import tomllib
import venv
from pathlib import Path

import pytest

from polyvox.compat import PINNED_TORCH, PINNED_TORCHAUDIO

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
LOCK = ROOT / "requirements.lock"


def lock_pins() -> dict[str, str]:
    pins = {}
    for line in LOCK.read_text().splitlines():
        m = re.match(r"^([A-Za-z0-9_.\-]+)==(\S+)", line)
        if m:
            pins[m[1].lower().replace("_", "-")] = m[2]
    return pins


def test_every_package_folder_is_listed():
    # Packages are listed by hand (the recipes map into the package), so a new folder must be added there.
    listed = set(PYPROJECT["tool"]["setuptools"]["packages"])
    found = {".".join(p.parent.relative_to(ROOT).parts) for p in (ROOT / "polyvox").rglob("__init__.py")}
    assert found | {"polyvox.recipes"} == listed


def test_torch_pair_is_pinned_in_pyproject_lock_and_compat():
    deps = PYPROJECT["project"]["dependencies"]
    assert f"torch=={PINNED_TORCH}" in deps and f"torchaudio=={PINNED_TORCHAUDIO}" in deps
    pins = lock_pins()
    assert pins["torch"] == PINNED_TORCH and pins["torchaudio"] == PINNED_TORCHAUDIO


def test_lock_covers_every_dependency_of_the_default_extras():
    pins = lock_pins()
    wanted = list(PYPROJECT["project"]["dependencies"])
    for extra in ("dev", "demo"):
        wanted += PYPROJECT["project"]["optional-dependencies"][extra]
    names = {re.match(r"[A-Za-z0-9_.\-]+", d)[0].lower().replace("_", "-") for d in wanted}
    assert names - set(pins) == set(), "regenerate the lock: make lock"


def test_installed_versions_are_the_locked_ones():
    from importlib.metadata import version

    pins = lock_pins()
    for name in ("torch", "torchaudio", "transformers", "numpy", "gradio", "speechbrain"):
        assert version(name) == pins[name], f"{name}: installed {version(name)}, lock {pins[name]} (make setup)"


@pytest.mark.slow
def test_wheel_outside_the_checkout(tmp_path):
    wheels = tmp_path / "wheels"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(wheels), str(ROOT)],
                   check=True, capture_output=True)
    (wheel,) = wheels.glob("polyvox-*.whl")
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    py = env_dir / "bin" / "python"
    # The test environment's packages sit behind the wheel's (a .pth path line; its own .pth files, such as the
    # checkout's editable finder, are not run), so no second torch is downloaded.
    site = subprocess.run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          capture_output=True, text=True, check=True).stdout.strip()
    Path(site, "test-env.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run([str(py), "-m", "pip", "install", "--no-deps", "-q", str(wheel)], check=True, capture_output=True)

    work = tmp_path / "elsewhere"
    work.mkdir()
    env = {**os.environ, "PATH": f"{env_dir / 'bin'}{os.pathsep}{os.environ['PATH']}", "PYTHONPATH": ""}

    def polyvox(*args):
        proc = subprocess.run([str(env_dir / "bin" / "polyvox"), *args], cwd=work, env=env, capture_output=True,
                              text=True, timeout=900)
        assert proc.returncode == 0, f"polyvox {' '.join(args)}:\n{proc.stdout}\n{proc.stderr}"
        return proc.stdout

    where = subprocess.run([str(py), "-c", "import polyvox.recipes as r; print(r.__file__)"], cwd=work, env=env,
                           capture_output=True, text=True, check=True).stdout
    assert where.startswith(str(env_dir)), where  # the wheel's copy, not the checkout's

    listing = polyvox("recipes")
    for name in ("asr_ctc", "phoneme_recognition", "emotion", "abuse_detection"):
        assert f"  {name}/base" in listing
    assert "asr_ctc/chars" in listing

    polyvox("recipes", "cp", "phoneme_recognition", "my_phones")
    copied = work / "my_phones"
    assert (copied / "train.py").is_file() and (copied / "README.md").is_file()
    # Its base lived in another recipe: copied beside it, so the copy loads on its own.
    assert "base: asr_ctc_base.yaml" in (copied / "configs" / "base.yaml").read_text()
    assert (copied / "configs" / "asr_ctc_base.yaml").is_file()

    polyvox("synth", "--langs", "en,es", "--utts-per-lang", "8", "--speakers", "4", "--out", "corpus")
    assert (work / "corpus" / "train.jsonl").is_file()

    tiny = ["model.d_model=32", "model.num_layers=1", "model.num_heads=2", "model.ffn_dim=64", "model.n_mels=40",
            "train.max_steps=2", "train.eval_every=2", "train.warmup_steps=1", "train.log_every=1",
            "data.corpus.langs=[en,es]", "data.corpus.utts_per_lang=8", "data.corpus.speakers=4",
            "data.dev_utts_per_lang=4", "decode.method=greedy", "data.speed_perturb=[1.0]"]
    out = polyvox("train", "asr_ctc", "run_dir=runs/by_name", *tiny)
    assert "| en |" in out and (work / "runs" / "by_name" / "model.safetensors").is_file()
    # A copied recipe runs its own train.py.
    polyvox("recipes", "cp", "asr_ctc", "my_asr")
    (work / "my_asr" / "train.py").write_text((work / "my_asr" / "train.py").read_text()
                                              + "\nprint('edited copy ran')\n")
    out = polyvox("train", "my_asr/configs/base.yaml", "run_dir=runs/copy", *tiny)
    assert "edited copy ran" in out
