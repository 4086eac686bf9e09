"""Recipes by name: listing, resolving a name to its shipped config, the script a config runs, and copies."""

from pathlib import Path

import pytest

from polyvox.cli import main as cli
from polyvox.train.recipes import RecipeNotFound, copy_recipe, find_recipe, list_recipes, shipped_config

ROOT = Path(__file__).resolve().parents[2]


def test_list_and_resolve():
    recipes = list_recipes()
    assert {"asr_ctc", "phoneme_recognition", "emotion", "abuse_detection"} <= set(recipes)
    assert recipes["asr_ctc"][0] == "base" and "chars" in recipes["asr_ctc"]
    assert shipped_config("asr_ctc") == ROOT / "recipes/asr_ctc/configs/base.yaml"
    assert shipped_config("asr_ctc/chars") == ROOT / "recipes/asr_ctc/configs/chars.yaml"
    with pytest.raises(RecipeNotFound, match="no recipe named 'asr'; shipped recipes: "):
        shipped_config("asr")
    with pytest.raises(RecipeNotFound, match="recipe 'asr_ctc' has no config 'nope'; its configs: base"):
        shipped_config("asr_ctc/nope")


def test_configs_find_their_script():
    assert find_recipe(ROOT / "recipes/asr_ctc/configs/chars.yaml") == ROOT / "recipes/asr_ctc/train.py"
    shared = ROOT / "recipes/utterance_classification/train.py"
    assert find_recipe(ROOT / "recipes/emotion/configs/smoke.yaml") == shared  # via base.yaml's recipe: key
    assert find_recipe(ROOT / "recipes/abuse_detection/configs/adima.yaml") == shared


def test_copy_of_a_configs_only_recipe_gets_its_script(tmp_path):
    dest = copy_recipe("emotion", tmp_path / "my_emotion")
    assert (dest / "train.py").read_text() == (ROOT / "recipes/utterance_classification/train.py").read_text()
    assert find_recipe(dest / "configs" / "smoke.yaml") == dest / "train.py"  # the copy runs its own script
    with pytest.raises(FileExistsError, match="already exists"):
        copy_recipe("emotion", dest)


def test_cli_errors(tmp_path, capsys):
    assert cli(["train", "no_such_recipe"]) == 2
    assert "no recipe named 'no_such_recipe'" in capsys.readouterr().err
    assert cli(["train", str(tmp_path / "missing.yaml")]) == 2
    assert "config file not found" in capsys.readouterr().err
    assert cli(["recipes"]) == 0 and "asr_ctc/chars" in capsys.readouterr().out
