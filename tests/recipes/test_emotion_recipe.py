"""recipes/emotion and the protocol code it shares with recipes/abuse_detection
(polyvox.speech.classify.task): the smoke config runs every protocol end to end (synthetic
corpus, a few steps) and writes the transfer matrix and the few-shot table; the pieces under
them (shot sampling, MAML vs fine-tuning on embeddings, tables) are checked on their own.

What these tests can tell: that the protocols are wired correctly (languages, rows, columns,
seeds, files) and that the few-shot machinery learns on a toy problem. What they cannot tell:
anything about emotion recognition -- a few training steps on espeak-ng prosody styles.
"""

import json
import random
from pathlib import Path

import pytest
import torch

from polyvox.cli import main as cli
from polyvox.speech.classify import config as cconfig
from polyvox.speech.classify import fewshot
from polyvox.speech.classify import task as ctask
from polyvox.train.config import ConfigError, check_all_keys_used
from polyvox.train.recipes import find_recipe, load_recipe

RECIPE = Path(__file__).resolve().parents[2] / "recipes" / "emotion"


def recipe_main(recipe=RECIPE):
    """The main() of the script the recipe's configs run (the shared utterance-classification train.py)."""
    return load_recipe(find_recipe(recipe / "configs" / "base.yaml")).main


def check_protocol_outputs(run: Path, train_langs: list[str], target: str, shots: list[int], seeds: list[int],
                           labels: list[str]) -> None:
    """What the `all` protocol must leave behind, for either recipe."""
    matrix = json.loads((run / "transfer.json").read_text())
    rows = train_langs + ["all"]
    for metric in ("macro_f1", "uar"):
        assert list(matrix[metric]) == rows  # one row per training language + the multilingual one
        for row in rows:
            assert sorted(matrix[metric][row]) == sorted(train_langs)  # every test language in every row
            assert all(0.0 <= v <= 1.0 for v in matrix[metric][row].values())
        assert (run / f"transfer_{metric}.png").stat().st_size > 0
    md = (run / "transfer.md").read_text()
    for row in rows:
        assert f"\n| {row} | " in md
    for lang in train_langs:  # each row's own run: trained on that language only, zero-shot elsewhere
        res = json.loads((run / f"from-{lang}" / "results.json").read_text())
        assert res["train_langs"] == [lang] and res["labels"] == labels
        others = [l for l in train_langs if l != lang]
        assert all(f"{o} (zero-shot)" in (run / f"from-{lang}" / "results.md").read_text() for o in others)
        assert res["summary"][lang]["macro_f1"] == matrix["macro_f1"][lang][lang]
    multi = json.loads((run / "from-all" / "results.json").read_text())
    assert multi["train_langs"] == sorted(train_langs)

    few = json.loads((run / "fewshot.json").read_text())
    assert few["target_lang"] == target and target not in few["source_langs"]
    methods = ["finetune", "fomaml", "maml", "fomaml+ft", "maml+ft"]
    assert {(r["k"], r["method"], r["seed"]) for r in few["rows"] if r["method"] != "none"} == {
        (k, m, s) for k in shots for m in methods for s in seeds}
    summary = {(s["k"], s["method"]): s for s in few["summary"]}
    assert set(summary) == {(k, m) for k in shots for m in methods} | {(0, "none")}
    assert all(s["seeds"] == len(seeds) and s["macro_f1_std"] >= 0 for (k, m), s in summary.items() if m != "none")
    table = (run / "fewshot.md").read_text()
    for k in shots:
        assert f"\n| {k} | " in table
    assert "| k / class (macro-F1 %) | fine-tune | FOMAML | MAML | FOMAML init + fine-tune | MAML init + fine-tune |" \
        in table and "| k / class (UAR %) |" in table
    overview = (run / "results.md").read_text()
    for section in ("Multilingual model", "In-language", "Transfer matrix", "Few-shot"):
        assert section in overview


@pytest.mark.slow
def test_emotion_smoke_runs_every_protocol(tmp_path):
    run = tmp_path / "run"
    rc = recipe_main()(str(RECIPE / "configs" / "smoke.yaml"),
                       [f"run_dir={run}", f"data.synth.dir={tmp_path / 'corpus'}", "train.max_steps=2",
                        "train.eval_every=0"])  # fmt: skip
    assert rc == 0
    check_protocol_outputs(run, ["de", "en"], "es", [1, 2], [0, 1], ["angry", "neutral", "sad"])
    assert (run / "from-en" / "confusion_de.png").exists()
    preds = [json.loads(l) for l in (run / "from-en" / "predictions.jsonl").read_text().splitlines()]
    res = json.loads((run / "from-en" / "results.json").read_text())
    assert len(preds) == res["summary"]["all"]["num_examples"] > 0
    # a re-run reuses the finished runs instead of training again
    before = (run / "from-en" / "model.safetensors").stat().st_mtime_ns
    assert cli(["train", str(RECIPE / "configs" / "smoke.yaml"), f"run_dir={run}", f"data.synth.dir={tmp_path / 'corpus'}",
                "train.max_steps=2", "train.eval_every=0", "protocol=transfer"]) == 0
    assert (run / "from-en" / "model.safetensors").stat().st_mtime_ns == before


@pytest.mark.parametrize("name", ["base.yaml", "smoke.yaml", "ssl_frozen.yaml"])
def test_configs_load_and_every_key_is_used(name):
    cfg = check_all_keys_used(cconfig.ClassificationConfig, RECIPE / "configs" / name)
    assert cfg.data.label_key == "emotion"


def test_unknown_config_key_is_an_error(tmp_path):
    with pytest.raises(ConfigError, match="poolin"):
        recipe_main()(str(RECIPE / "configs" / "smoke.yaml"), ["model.poolin=mean", f"run_dir={tmp_path}"])


def test_synth_task_and_label_key_must_agree():
    data = cconfig.DataConfig(label_key="emotion", synth=cconfig.SynthConfig(task="abuse"))
    with pytest.raises(ValueError, match="label_key"):
        ctask.manifest_paths(data)


# ----------------------------------------------------------------------------- few-shot pieces


def test_sample_shots_takes_k_per_class_and_depends_on_the_seed():
    labels = torch.tensor([0] * 30 + [1] * 12 + [2] * 20)
    a = fewshot.sample_shots(labels, 10, random.Random(0), 3)
    b = fewshot.sample_shots(labels, 10, random.Random(1), 3)
    assert torch.bincount(labels[a], minlength=3).tolist() == [10, 10, 10]
    assert len(set(a)) == 30 and a != b
    with pytest.raises(ValueError, match="class 1 has 12"):
        fewshot.sample_shots(labels, 13, random.Random(0), 3)


def toy_languages(n_langs=5, n=60, dim=6, seed=0):
    """Gaussian 'embeddings' of 3 classes; each language shifts and rotates the class means a
    little, so a head from the other languages helps and a few target examples help more."""
    g = torch.Generator().manual_seed(seed)
    base = 2.0 * torch.randn(3, dim, generator=g)
    langs = {}
    for i in range(n_langs):
        shift = 1.5 * torch.randn(dim, generator=g)
        y = torch.arange(n) % 3
        x = base[y] + shift + torch.randn(n, dim, generator=g)
        langs[f"l{i}"] = (x, y)
    return langs


def test_fewshot_experiment_rows_and_adaptation_helps():
    langs = toy_languages()
    target = langs.pop("l4")
    pool, test = (target[0][:45], target[1][:45]), (target[0][45:], target[1][45:])
    torch.manual_seed(0)
    head = torch.nn.Sequential(torch.nn.Linear(6, 8), torch.nn.ReLU(), torch.nn.Dropout(0.1), torch.nn.Linear(8, 3))
    x = torch.cat([v[0] for v in langs.values()])
    y = torch.cat([v[1] for v in langs.values()])
    opt = torch.optim.Adam(head.parameters(), lr=1e-2)
    for _ in range(100):  # the "multilingual" head
        opt.zero_grad()
        torch.nn.functional.cross_entropy(head(x), y).backward()
        opt.step()
    fs = cconfig.FewShotConfig(shots=[2, 10], seeds=[0, 1], meta_steps=20, meta_shots=3, meta_query=5, meta_tasks=3)
    before = {k: v.clone() for k, v in head.state_dict().items()}
    rows = fewshot.fewshot_experiment(head, langs, pool, test, fs, 3)
    assert len(rows) == 1 + 2 * 2 * 5  # "none" + seeds x shots x methods
    summary = {(s["k"], s["method"]): s for s in fewshot.fewshot_summary(rows)}
    for m in cconfig.FEWSHOT_METHODS:
        assert summary[(10, m)]["macro_f1_mean"] >= summary[(0, "none")]["macro_f1_mean"] - 0.05
    assert summary[(10, "finetune")]["uar_mean"] > 0.6  # chance is 1/3
    # the source head itself is never modified
    assert head[2].p == 0.1 and all(torch.equal(v, head.state_dict()[k]) for k, v in before.items())


def test_plain_head_computes_the_same_function():
    torch.manual_seed(0)
    head = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Dropout(0.5), torch.nn.Linear(8, 2))
    x = 10 * torch.randn(50, 4) + 3
    plain = fewshot.plain_head(head, x)
    assert not any(isinstance(m, torch.nn.Dropout) for m in plain.modules())
    assert torch.allclose(plain(x), head.eval()(x), atol=1e-4)
    assert [n for n, _ in plain.named_parameters()] == ["1.weight", "1.bias", "4.weight", "4.bias"]  # stats are buffers
    hidden = plain[2](plain[1](plain[0](x)))  # the second layer's input, standardized on x
    z = plain[3](hidden)
    live = hidden.std(0) > 1e-3
    assert torch.allclose(z.mean(0)[live], torch.zeros(int(live.sum())), atol=1e-4)


def test_maml_meta_training_changes_the_head_and_first_order_differs():
    langs = toy_languages(n_langs=3)
    head = torch.nn.Sequential(torch.nn.Linear(6, 3))
    fs = cconfig.FewShotConfig(meta_steps=5, meta_shots=2, meta_query=4, meta_tasks=2)
    so = fewshot.meta_train(head, langs, fs, first_order=False, seed=0, num_classes=3)
    fo = fewshot.meta_train(head, langs, fs, first_order=True, seed=0, num_classes=3)
    assert not torch.allclose(so[0].weight, head[0].weight)
    assert not torch.allclose(so[0].weight, fo[0].weight)


def test_fewshot_table_has_a_row_per_k_and_a_column_per_method():
    rows = [{"method": "none", "k": 0, "seed": None, "macro_f1": 0.3, "uar": 0.3, "accuracy": 0.3}]
    for k in (10, 50):
        for m in ("finetune", "maml"):
            for s, v in ((0, 0.5), (1, 0.7)):
                rows.append({"method": m, "k": k, "seed": s, "macro_f1": v, "uar": v, "accuracy": v})
    table = fewshot.fewshot_table(fewshot.fewshot_summary(rows), "macro_f1")
    lines = table.splitlines()
    assert lines[0] == "| k / class (macro-F1 %) | fine-tune | MAML |"
    assert lines[2] == "| 10 | 60.0 ± 10.0 | 60.0 ± 10.0 |" and lines[3].startswith("| 50 |")
    assert len(lines) == 4
