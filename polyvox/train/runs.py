"""The one trained-run file format every task shares: a run directory holds its resolved ``config.yaml``, its final
``model.safetensors``, ``checkpoints/`` (from ``fit``), and for a Hugging Face backbone its ``hf_config.json``, so
loading rebuilds the architecture without a download. Task files (vocab.json, labels.json, lm.arpa) sit beside them;
each task's ``run.py`` reads and writes them through these helpers.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

CONFIG_FILE = "config.yaml"
MODEL_FILE = "model.safetensors"
HF_CONFIG_FILE = "hf_config.json"


def inference_device(device: str | None = None) -> torch.device:
    """``device``, else the GPU when there is one, else the CPU."""
    return torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))


def write_hf_config(run_dir: Path, hf_config) -> None:
    """Save a transformers config beside the weights (what :func:`read_hf_config` reads back)."""
    (Path(run_dir) / HF_CONFIG_FILE).write_text(hf_config.to_json_string(), encoding="utf-8")


def read_hf_config(run_dir: Path, what: str) -> dict:
    """The saved transformers config of a run; FileNotFoundError naming the file and ``what`` needs it."""
    path = Path(run_dir) / HF_CONFIG_FILE
    if not path.exists():
        raise FileNotFoundError(f"{path}: missing; needed to rebuild the {what} without downloading")
    return json.loads(path.read_text(encoding="utf-8"))


def load_weights(model: torch.nn.Module, path: str | Path, device: str | None = None) -> tuple[torch.nn.Module,
                                                                                                torch.device]:
    """Load safetensors weights into ``model`` and put it on ``device`` (see :func:`inference_device`) in eval mode."""
    from safetensors.torch import load_model

    load_model(model, str(path))
    dev = inference_device(device)
    return model.to(dev).eval(), dev


SUB_RUN_STAMP = "recipe_config.json"


def sub_run_dir(path: str | Path, config: dict) -> Path:
    """``path`` made ready for a recipe's sub-run (one seed's model) under ``config`` (the recipe's config as a
    dict). A folder another config left is emptied first: ``fit()`` would otherwise resume its checkpoints into
    this run. A folder the same config left (an interrupted run) is kept, so ``fit()`` resumes it."""
    path = Path(path)
    stamp = path / SUB_RUN_STAMP
    if path.exists() and (not stamp.exists() or json.loads(stamp.read_text(encoding="utf-8")) != config):
        import shutil

        shutil.rmtree(path)
    path.mkdir(parents=True, exist_ok=True)
    stamp.write_text(json.dumps(config, sort_keys=True, default=str), encoding="utf-8")
    return path
