"""The one training loop (speech and text), its YAML config system, checkpoints and logs.

    from polyvox.train import TrainConfig, fit, load_config

Names are imported lazily so ``polyvox train --help`` does not import torch.
"""

from importlib import import_module

_EXPORTS = {
    "fit": "loop", "FitResult": "loop", "seed_everything": "loop",
    "TrainConfig": "config", "ConfigError": "config", "load_config": "config", "save_config": "config",
    "config_to_dict": "config",
    "average_checkpoints": "checkpoint", "average_run": "checkpoint", "latest_checkpoint": "checkpoint",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name):
    if name in _EXPORTS:
        return getattr(import_module(f"polyvox.train.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module 'polyvox.train' has no attribute {name!r}")
