"""Recipes by name, as torchtune does it (``tune ls`` / ``tune cp``): ``polyvox recipes [ls]`` lists every shipped
recipe and its configs, ``polyvox recipes cp NAME DIR`` copies one (train.py + configs + README) to edit, and
``polyvox train NAME[/CONFIG]`` runs a shipped config without a checkout.

The recipes ship inside the package as ``polyvox.recipes`` (pyproject maps it to the checkout's ``recipes/``), so an
editable install and a wheel find them the same way. Recipes are still scripts, not modules: ``polyvox train`` loads
``train.py`` by path.
"""

from __future__ import annotations

import argparse
import importlib.util
import re
import shutil
import sys
from importlib.resources import files
from pathlib import Path

DEFAULT_CONFIG = "base"
_BASE_LINE = re.compile(r"^base:\s*(?P<path>\S+)\s*$", re.MULTILINE)


class RecipeNotFound(FileNotFoundError):
    pass


def recipes_root() -> Path:
    """The folder of shipped recipes (the checkout's ``recipes/`` in an editable install)."""
    return Path(str(files("polyvox.recipes")))


def list_recipes() -> dict[str, list[str]]:
    """Recipe name -> its config names (file stems, ``base`` first), for every shipped recipe folder with configs
    (a folder may hold only configs whose ``recipe:`` names a script shared with another task)."""
    out = {}
    for configs in sorted(recipes_root().glob("*/configs")):
        names = sorted(p.stem for p in configs.glob("*.yaml"))
        if names:
            out[configs.parent.name] = sorted(names, key=lambda n: (n != DEFAULT_CONFIG, n))
    return out


def describe_config(path: Path) -> str:
    """The config's first comment line: what it trains, in the author's words."""
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("#"):
            return line.lstrip("# ").strip()
        if line.strip():
            break
    return ""


def shipped_config(spec: str) -> Path:
    """``NAME`` -> that recipe's base.yaml; ``NAME/CONFIG`` -> ``configs/CONFIG.yaml`` of recipe NAME."""
    name, _, config = spec.partition("/")
    config = config.removesuffix(".yaml") or DEFAULT_CONFIG
    available = list_recipes()
    if name not in available:
        raise RecipeNotFound(f"no recipe named {name!r}; shipped recipes: {', '.join(available)} (polyvox recipes)")
    if config not in available[name]:
        raise RecipeNotFound(f"recipe {name!r} has no config {config!r}; its configs: {', '.join(available[name])}")
    return recipes_root() / name / "configs" / f"{config}.yaml"


def copy_recipe(name: str, dest: str | Path) -> Path:
    """Copy recipe ``name``'s train.py (or the shared script its configs run), configs/ and README to ``dest``
    (which must not exist yet).

    A config whose ``base:`` points outside the recipe (phoneme_recognition builds on asr_ctc's base) gets that file
    copied beside it as ``<recipe>_<file>`` and its ``base:`` line rewritten, so the copy trains on its own.
    """
    if name not in list_recipes():
        raise RecipeNotFound(f"no recipe named {name!r}; shipped recipes: {', '.join(list_recipes())}")
    src, dest = recipes_root() / name, Path(dest)
    if dest.exists():
        raise FileExistsError(f"{dest} already exists; choose a new folder so nothing is overwritten")
    shutil.copytree(src, dest, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    if not (dest / "train.py").exists():  # configs of a shared script: the copy gets its own
        shutil.copyfile(find_recipe(src / "configs" / f"{DEFAULT_CONFIG}.yaml"), dest / "train.py")
    pending = sorted((dest / "configs").glob("*.yaml"))
    while pending:
        config = pending.pop()
        text = config.read_text(encoding="utf-8")
        m = _BASE_LINE.search(text)
        if m is None or (config.parent / m["path"]).is_file():
            continue
        origin = (src / "configs" / m["path"]).resolve()
        if not origin.is_file():
            raise RecipeNotFound(f"{config}: base {m['path']!r} not found in the shipped recipes")
        local = config.parent / f"{origin.parent.parent.name}_{origin.name}"
        if not local.exists():
            shutil.copyfile(origin, local)
            pending.append(local)
        config.write_text(text[:m.start("path")] + local.name + text[m.end("path"):], encoding="utf-8")
    return dest


def find_recipe(config_path: str | Path) -> Path:
    """The ``train.py`` that runs ``config_path``; :class:`RecipeNotFound` if none.

    1. a top-level ``recipe:`` that is a path (``../vocoder.py``, relative to the config): that script, so one
       recipe folder can hold configs of several scripts (tts: train.py, f5.py, vocoder.py);
    2. ``<dir>/configs/X.yaml`` beside ``<dir>/train.py``: that script (a shipped recipe, or one copied to edit);
    3. else ``recipe:`` as a recipe name, looked up as ``recipes/NAME/train.py`` above the config, in the current
       directory, then among the shipped recipes.
    """
    from polyvox.train.config import read_yaml

    config = Path(config_path).resolve()
    recipe = read_yaml(config).get("recipe")
    sibling = config.parent.parent / "train.py"
    is_path = isinstance(recipe, str) and ("/" in recipe or recipe.endswith(".py"))
    if config.parent.name == "configs" and sibling.is_file() and not is_path:
        return sibling
    if recipe is None:
        raise RecipeNotFound(
            f"{config_path}: cannot tell which recipe this config is for. Add a top-level key such as "
            "'recipe: asr_ctc', or keep the config at <recipe>/configs/NAME.yaml beside its train.py"
        )
    if not isinstance(recipe, str) or not recipe:
        raise RecipeNotFound(f"{config_path}: 'recipe' must be a recipe name such as asr_ctc, got {recipe!r}")
    if "/" in recipe or recipe.endswith(".py"):  # a path, relative to the config file
        path = (config.parent / recipe).resolve()
        path = path / "train.py" if path.is_dir() else path
        if path.is_file():
            return path
        raise RecipeNotFound(f"{config_path}: recipe path {recipe!r} -> {path} does not exist")
    roots = [*(p / "recipes" for p in config.parents), Path.cwd() / "recipes", recipes_root()]
    tried = list(dict.fromkeys(root / recipe / "train.py" for root in roots))
    for path in tried:
        if path.is_file():
            return path
    raise RecipeNotFound(
        f"{config_path}: recipe {recipe!r} not found among the shipped recipes ({', '.join(list_recipes())}) "
        f"or under {tried[0].parent.parent}; give 'recipe:' a path to the train.py"
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



def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", metavar="ACTION")
    sub.add_parser("ls", help="list the recipes and their configs (the default)")
    cp = sub.add_parser("cp", help="copy a recipe (train.py, configs, README) to a new folder to edit")
    cp.add_argument("name", help="recipe name, e.g. asr_ctc")
    cp.add_argument("dest", help="new folder")


def run(args: argparse.Namespace) -> int:
    if args.action == "cp":
        try:
            dest = copy_recipe(args.name, args.dest)
        except (RecipeNotFound, FileExistsError) as e:
            print(f"polyvox recipes cp: {e}", file=sys.stderr)
            return 2
        print(f"copied recipe {args.name} to {dest}; train it with: polyvox train {dest / 'configs' / 'base.yaml'}")
        return 0
    root, recipes = recipes_root(), list_recipes()
    width = max(len(f"{n}/{c}") for n, configs in recipes.items() for c in configs)
    for name, configs in recipes.items():
        print(name)
        for config in configs:
            print(f"  {name + '/' + config:<{width}}  {describe_config(root / name / 'configs' / f'{config}.yaml')}")
    print("\nrun one: polyvox train NAME[/CONFIG] [key=value ...]    copy one to edit: polyvox recipes cp NAME DIR")
    return 0
