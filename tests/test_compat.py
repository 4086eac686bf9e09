"""The torch / torchaudio pair check: which pairs it rejects, and that `import polyvox` fails with one clear message
(both versions and the fix) when the installed pair cannot load."""

import os
import subprocess
import sys

import pytest

from polyvox.compat import FIX, PINNED_TORCH, PINNED_TORCHAUDIO, check_torch_pair, torch_pair_problem


@pytest.mark.parametrize("torch_v,audio_v", [("2.11.0", "2.11.0"), ("2.11.0+cu130", "2.11.0"),
                                             ("2.11.0+cpu", "2.11.0+cpu"), ("2.9.1", "2.9.1")])
def test_matching_releases_pass(torch_v, audio_v):
    assert torch_pair_problem(torch_v, audio_v) is None


@pytest.mark.parametrize("torch_v,audio_v", [("2.11.0", "2.11.1"), ("2.13.0+cpu", "2.11.0"), ("2.11.0", "2.10.0")])
def test_mismatched_releases_name_both_versions_and_the_fix(torch_v, audio_v):
    problem = torch_pair_problem(torch_v, audio_v)
    assert f"torchaudio {audio_v}" in problem and f"torch {torch_v}" in problem and FIX in problem


def test_installed_pair_is_the_pinned_one():
    # The lock installs the pair pyproject pins; compat.FIX tells users that pair.
    check_torch_pair()
    assert torch_pair_problem() is None
    assert torch_pair_problem(PINNED_TORCH, PINNED_TORCHAUDIO) is None


def _fake_dist(root, name, version):
    info = root / f"{name}-{version}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")


def test_import_polyvox_with_a_broken_pair_fails_with_one_message(tmp_path):
    # A torchaudio 2.11.1 found first on sys.path, beside torch 2.11.0: the failure reported in issue 10.
    _fake_dist(tmp_path, "torchaudio", "2.11.1")
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    env.pop("POLYVOX_SKIP_TORCH_CHECK", None)
    proc = subprocess.run([sys.executable, "-c", "import polyvox"], capture_output=True, text=True, env=env)
    assert proc.returncode == 1
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("polyvox.compat.TorchPairError: polyvox: torchaudio 2.11.1 cannot load with torch")
    assert "undefined symbol" not in proc.stderr and FIX in last
    # The escape hatch for a matching pair built from source under other version numbers.
    env["POLYVOX_SKIP_TORCH_CHECK"] = "1"
    assert subprocess.run([sys.executable, "-c", "import polyvox"], env=env).returncode == 0
