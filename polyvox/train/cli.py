"""``polyvox train CONFIG.yaml [key=value ...]`` and ``polyvox average RUN --last K|--best K --out FILE``.

``train`` finds the recipe a config belongs to and runs its ``train.py``:

1. a top-level ``recipe:`` key in the YAML (after ``base:`` overlays): a recipe name such as
   ``asr_ctc`` (looked up as ``recipes/asr_ctc/train.py`` next to the config's ancestors, the
   current directory, or the polyvox checkout), or a path to a ``train.py`` / recipe directory
   relative to the config file;
2. otherwise the config's location: ``recipes/<task>/configs/*.yaml`` -> ``recipes/<task>/train.py``.

The recipe module is loaded by file path and its ``main(config_path, overrides) -> int`` called.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
from pathlib import Path


class RecipeNotFound(FileNotFoundError):
    pass


def add_train_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("config", help="recipe YAML config, e.g. recipes/asr_ctc/configs/base.yaml")
    parser.add_argument("overrides", nargs="*", metavar="key=value",
                        help="config overrides, dotted keys: train.lr=3e-4 data.langs=[en,es]")


def _search_roots(config: Path) -> list[Path]:
    roots = list(config.resolve().parents) + [Path.cwd()]
    roots.append(Path(__file__).resolve().parents[2])  # the polyvox checkout (editable installs)
    return list(dict.fromkeys(roots))


def find_recipe(config_path: str | Path) -> Path:
    """The ``train.py`` of the recipe ``config_path`` belongs to; :class:`RecipeNotFound` if none."""
    from polyvox.train.config import read_yaml

    config = Path(config_path)
    recipe = read_yaml(config).get("recipe")
    if recipe is not None:
        if not isinstance(recipe, str) or not recipe:
            raise RecipeNotFound(f"{config}: 'recipe' must be a recipe name such as asr_ctc, got {recipe!r}")
        if "/" in recipe or recipe.endswith(".py"):  # a path, relative to the config file
            path = (config.resolve().parent / recipe).resolve()
            path = path / "train.py" if path.is_dir() else path
            if path.is_file():
                return path
            raise RecipeNotFound(f"{config}: recipe path {recipe!r} -> {path} does not exist")
        tried = [root / "recipes" / recipe / "train.py" for root in _search_roots(config)]
        for path in tried:
            if path.is_file():
                return path
        raise RecipeNotFound(
            f"{config}: recipe {recipe!r} not found; looked for "
            + ", ".join(str(p) for p in tried[:3]) + (f" and {len(tried) - 3} more" if len(tried) > 3 else "")
            + ". Run from the polyvox checkout or give 'recipe:' a path to the train.py"
        )
    parts = config.resolve().parts
    if len(parts) >= 4 and parts[-2] == "configs" and parts[-4] == "recipes":
        path = Path(*parts[:-2]) / "train.py"
        if path.is_file():
            return path
        raise RecipeNotFound(f"{config}: the config lives in recipe {parts[-3]!r} but {path} does not exist")
    raise RecipeNotFound(
        f"{config}: cannot tell which recipe this config is for. Add a top-level key such as "
        "'recipe: asr_ctc', or keep the config at recipes/<task>/configs/NAME.yaml"
    )


def load_recipe(train_py: str | Path):
    """Import a recipe's train.py by file path (recipes are not a package)."""
    train_py = Path(train_py).resolve()
    name = f"polyvox_recipe_{train_py.parent.name}"
    spec = importlib.util.spec_from_file_location(name, train_py)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses and pickling look the module up by name
    spec.loader.exec_module(module)
    if not callable(getattr(module, "main", None)):
        raise RecipeNotFound(f"{train_py}: a recipe must define main(config_path: str, overrides: list[str]) -> int")
    return module


def run_train(args: argparse.Namespace) -> int:
    from polyvox.train.config import ConfigError

    config = Path(args.config)
    if not config.is_file():
        print(f"polyvox train: config file not found: {config}", file=sys.stderr)
        return 2
    try:
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
