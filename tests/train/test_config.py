"""YAML <-> dataclass configs: overlays, overrides, type checks and the error messages."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Optional

import pytest

from polyvox.train.config import (
    ConfigError,
    TrainConfig,
    check_all_keys_used,
    config_to_dict,
    load_config,
    save_config,
)


@dataclass
class DataCfg:
    langs: list[str] = field(default_factory=lambda: ["en"])
    max_seconds: float = 60.0
    manifest: Optional[str] = None
    split: tuple[float, float, float] = (0.8, 0.1, 0.1)


@dataclass
class ModelCfg:
    kind: Literal["conformer", "wav2vec2"] = "conformer"
    dims: tuple[int, ...] = (64, 64)


@dataclass
class RecipeCfg:
    name: str
    data: DataCfg = field(default_factory=DataCfg)
    model: ModelCfg = field(default_factory=ModelCfg)
    train: TrainConfig = field(default_factory=TrainConfig)
    tags: dict[str, int] = field(default_factory=dict)


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_base_overlay_and_overrides(tmp_path):
    _write(tmp_path / "base.yaml", "name: asr\ndata:\n  langs: [en, es]\n  max_seconds: 30\ntrain:\n  lr: 1\n  betas: [0.9, 0.99]\n")
    over = _write(tmp_path / "lang/hi.yaml", "base: ../base.yaml\nrecipe: asr_ctc\ndata:\n  langs: [hi]\n")
    cfg = load_config(RecipeCfg, over, ["train.lr=3e-4", "model.dims=[8,16,32]", "data.manifest=null", "tags.a=1"])
    assert cfg.name == "asr" and cfg.data.langs == ["hi"] and cfg.data.max_seconds == 30.0  # merged, not replaced
    assert cfg.train.lr == 3e-4 and cfg.train.betas == (0.9, 0.99) and isinstance(cfg.train.betas, tuple)
    assert cfg.model.dims == (8, 16, 32) and cfg.data.manifest is None and cfg.tags == {"a": 1}
    assert isinstance(load_config(RecipeCfg, over).train.lr, float)  # int -> float promotion


def test_save_roundtrip(tmp_path):
    cfg = load_config(RecipeCfg, None, ["name=x", "data.langs=[de,fr]", "train.schedule=cosine"])
    path = save_config(cfg, tmp_path / "out/config.yaml")
    assert load_config(RecipeCfg, path) == cfg
    assert config_to_dict(cfg)["data"]["split"] == [0.8, 0.1, 0.1]
    assert "base" not in path.read_text()


@pytest.mark.parametrize(
    "overrides,message",
    [
        (["train.lrr=1"], r"train\.lrr: unknown key; valid keys in train: max_steps, max_epochs, lr"),
        (["optim.lr=1"], r"optim: unknown key; valid keys in <top level>: name, data, model, train, tags"),
        (["train.lr=fast"], r"train\.lr: expected float, got 'fast' \(str\)"),
        (["train.max_steps=1.5"], r"train\.max_steps: expected int"),
        (["train.cpu=1"], r"train\.cpu: expected bool"),
        (["model.kind=lstm"], r"model\.kind: 'lstm' is not allowed; choose one of 'conformer', 'wav2vec2'"),
        (["data.langs=en"], r"data\.langs: expected list\[str\]"),
        (["data.langs=[en, 3]"], r"data\.langs\[1\]: expected str"),
        (["data.split=[0.5, 0.5]"], r"data\.split: expected tuple\[float, float, float\] \(3 items\)"),
        (["data=5"], r"data: expected a mapping for DataCfg"),
        (["train.max_epochs=many"], r"train\.max_epochs: expected int"),
        (["train.lr"], r"expected key=value"),
        (["train.grad_accum=0"], r"train\.grad_accum: invalid value 0"),
    ],
)
def test_errors_name_the_key(overrides, message):
    with pytest.raises(ConfigError, match=message):
        load_config(RecipeCfg, None, ["name=x", *overrides])


def test_file_errors(tmp_path):
    with pytest.raises(ConfigError, match="missing required key"):
        load_config(RecipeCfg, _write(tmp_path / "a.yaml", "data: {langs: [en]}\n"))
    bad = _write(tmp_path / "b.yaml", "name: x\ntrain:\n  schedul: cosine\n")
    with pytest.raises(ConfigError, match=rf"{bad}: train\.schedul: unknown key"):
        load_config(RecipeCfg, bad)
    with pytest.raises(ConfigError, match="config file not found.*base of"):
        load_config(RecipeCfg, _write(tmp_path / "c.yaml", "base: nope.yaml\n"))
    _write(tmp_path / "d.yaml", "base: e.yaml\n")
    with pytest.raises(ConfigError, match="circular 'base' chain"):
        load_config(RecipeCfg, _write(tmp_path / "e.yaml", "base: d.yaml\n"))
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(RecipeCfg, _write(tmp_path / "f.yaml", "name: [unclosed\n"))
    with pytest.raises(ConfigError, match="expected a mapping at the top level"):
        load_config(RecipeCfg, _write(tmp_path / "g.yaml", "- a\n- b\n"))


def test_yaml_never_builds_objects(tmp_path):
    evil = _write(tmp_path / "evil.yaml", "name: !!python/object/apply:os.system ['echo pwned']\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(RecipeCfg, evil)


def test_train_config_rules():
    with pytest.raises(ConfigError, match="early_stop_patience needs train.best_metric"):
        TrainConfig(early_stop_patience=3)
    with pytest.raises(ConfigError, match="max_steps > 0 or max_epochs"):
        TrainConfig(max_steps=0)
    assert TrainConfig(max_steps=0, max_epochs=2).max_epochs == 2


def test_check_all_keys_used(tmp_path):
    good = _write(tmp_path / "good.yaml", "name: x\nrecipe: asr_ctc\ntrain: {lr: 5e-4, betas: [0.8, 1]}\n")
    check_all_keys_used(RecipeCfg, good)
    with pytest.raises(ConfigError, match="unknown key"):
        check_all_keys_used(RecipeCfg, _write(tmp_path / "bad.yaml", "name: x\ntrain: {warmup: 5}\n"))


RECIPE = """
from dataclasses import dataclass, field
from polyvox.train.config import TrainConfig, load_config, save_config

@dataclass
class Cfg:
    out: str
    train: TrainConfig = field(default_factory=TrainConfig)

def main(config_path, overrides):
    cfg = load_config(Cfg, config_path, overrides)
    save_config(cfg, cfg.out)
    return 7
"""


def test_train_command_finds_recipe(tmp_path, capsys):
    from polyvox.cli import main

    _write(tmp_path / "recipes/toy/train.py", RECIPE)
    out = tmp_path / "resolved.yaml"
    # 1. by location: recipes/<task>/configs/*.yaml
    by_place = _write(tmp_path / "recipes/toy/configs/base.yaml", f"out: {out}\ntrain: {{lr: 0.1}}\n")
    assert main(["train", str(by_place), "train.lr=0.5"]) == 7
    import yaml

    assert yaml.safe_load(out.read_text())["train"]["lr"] == 0.5
    # 2. by a `recipe:` key, from anywhere below the directory holding recipes/
    by_key = _write(tmp_path / "elsewhere/my.yaml", f"recipe: toy\nout: {out}\n")
    assert main(["train", str(by_key)]) == 7
    # 3. by a `recipe:` path relative to the config
    by_path = _write(tmp_path / "x/y.yaml", f"recipe: ../recipes/toy/train.py\nout: {out}\n")
    assert main(["train", str(by_path)]) == 7
    # errors say what to do
    assert main(["train", str(_write(tmp_path / "lost.yaml", "out: a\n"))]) == 2
    assert "add a top-level key such as 'recipe: asr_ctc'" in capsys.readouterr().err.lower()
    assert main(["train", str(_write(tmp_path / "w.yaml", "recipe: nosuch\nout: a\n"))]) == 2
    assert "recipe 'nosuch' not found" in capsys.readouterr().err
    assert main(["train", str(by_place), "train.lrr=1"]) == 2
    assert "train.lrr: unknown key" in capsys.readouterr().err
    assert main(["train", str(tmp_path / "missing.yaml")]) == 2


def test_cli_runs_as_module():
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[2]
    out = subprocess.run([sys.executable, "-m", "polyvox.cli", "average", "--help"], cwd=root,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and "--last" in out.stdout
