"""``polyvox train CONFIG.yaml|NAME[/CONFIG] [key=value ...]`` and ``polyvox average RUN --last K|--best K --out FILE``.

``train`` finds the recipe a config belongs to (:func:`polyvox.train.recipes.find_recipe`: the ``train.py`` beside
the config's folder, else its ``recipe:`` key), loads that script by file path and calls its
``main(config_path, overrides) -> int``. A name instead of a file runs a shipped config, so a wheel install needs no
checkout: ``polyvox train asr_ctc`` is ``recipes/asr_ctc/configs/base.yaml``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from polyvox.train.recipes import RecipeNotFound, find_recipe, load_recipe, shipped_config


def add_train_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("config", help="a recipe YAML config (recipes/asr_ctc/configs/base.yaml), or a shipped recipe "
                                       "by name: asr_ctc (its base config) or asr_ctc/chars (polyvox recipes lists them)")
    parser.add_argument("overrides", nargs="*", metavar="key=value",
                        help="config overrides, dotted keys: train.lr=3e-4 data.langs=[en,es]")


def run_train(args: argparse.Namespace) -> int:
    from polyvox.train.config import ConfigError

    config = Path(args.config)
    try:
        if not config.is_file():
            if config.suffix in (".yaml", ".yml") or len(config.parts) > 2:
                print(f"polyvox train: config file not found: {config}", file=sys.stderr)
                return 2
            config = shipped_config(args.config)  # a recipe by name
        recipe = load_recipe(find_recipe(config))
    except (RecipeNotFound, ConfigError) as e:
        print(f"polyvox train: {e}", file=sys.stderr)
        return 2
    from polyvox.data.audio import AudioError
    from polyvox.data.manifest import ManifestError

    try:
        return int(recipe.main(str(config), list(args.overrides)) or 0)
    except (ConfigError, ManifestError, AudioError) as e:
        # A bad key or value, manifest row or clip (data.on_error=raise): the message names the
        # file and the reason, so no traceback. Checkpoints written so far stay; rerun to resume.
        print(f"polyvox train: error: {e}", file=sys.stderr)
        return 2


def add_average_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run", help="run directory (holds checkpoints/)")
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--last", type=int, metavar="K", help="average the K most recent checkpoints")
    which.add_argument("--best", type=int, metavar="K", help="average the K best by the run's best_metric")
    parser.add_argument("--out", required=True, help="output .safetensors file")


def run_average(args: argparse.Namespace) -> int:
    from polyvox.train.checkpoint import average_checkpoints, select_checkpoints
    from safetensors.torch import save_file

    k = args.last if args.last is not None else args.best
    if k < 1:
        print("polyvox average: K must be >= 1", file=sys.stderr)
        return 2
    try:
        paths = select_checkpoints(args.run, last=args.last, best=args.best)
        state = average_checkpoints(paths)
    except (FileNotFoundError, ValueError) as e:
        print(f"polyvox average: {e}", file=sys.stderr)
        return 2
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    save_file({k: v.contiguous() for k, v in state.items()}, str(out), metadata={"format": "pt"})
    print(f"averaged {len(paths)} checkpoints ({', '.join(p.name for p in paths)}) -> {out}")
    return 0


# `polyvox train` is this module's default command.
add_arguments, run = add_train_arguments, run_train
