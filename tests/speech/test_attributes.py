"""Allophant-style articulatory-attribute CTC heads: targets from panphon features, the batched
loss, both backbones' forward with attributes, and a debug run of the ASR recipe with the heads."""

import json
from pathlib import Path

import pytest
import torch

from polyvox.cli import main as cli
from polyvox.data import articulatory
from polyvox.speech import attributes
from polyvox.speech.asr import model as models
from polyvox.speech.asr.vocab import SPECIALS
from polyvox.train.config import ConfigError, load_config

ROOT = Path(__file__).resolve().parents[2]
K = attributes.num_attributes()


def test_table_gives_one_row_per_segment_and_none_for_specials():
    tokens = [*SPECIALS, "t", "d", "aɪ", "|"]
    table = attributes.attribute_table(tokens)
    assert [len(r) for r in table] == [0] * len(SPECIALS) + [1, 1, 2, 0]
    voi = articulatory.feature_names().index("voi")
    assert table[len(SPECIALS)][0, voi] == 1 and table[len(SPECIALS) + 1][0, voi] == 3  # t: -voi, d: +voi
    assert all(((r >= 1) & (r <= 3)).all() for r in table if len(r))  # never the blank


def test_targets_are_laid_out_utterance_major_and_skip_boundaries():
    tokens = [*SPECIALS, "t", "a", "|"]
    table = attributes.attribute_table(tokens)
    t, a, bd = len(SPECIALS), len(SPECIALS) + 1, len(SPECIALS) + 2
    targets = torch.tensor([[t, bd, a], [a, 0, 0]])
    out, lens = attributes.attribute_targets(targets, torch.tensor([3, 1]), table)
    assert out.shape == (2 * K, 2) and lens.tolist() == [2] * K + [1] * K
    syl = articulatory.feature_names().index("syl")
    assert out[syl].tolist() == [1, 3]  # utterance 0: t (-syl) a (+syl); the boundary adds nothing
    assert out[K + syl, 0].item() == 3  # utterance 1: a


def test_loss_prefers_the_right_attribute_sequence():
    table = attributes.attribute_table([*SPECIALS, "t", "a"])
    targets, lens = attributes.attribute_targets(torch.tensor([[3, 4]]), torch.tensor([2]), table)
    right = torch.full((1, 6, K, 4), -9.0)
    right[0, :3].scatter_(-1, targets[:, 0].view(K, 1).expand(3, K, 1), 0.0)  # 3 frames of the first value
    right[0, 3:].scatter_(-1, targets[:, 1].view(K, 1).expand(3, K, 1), 0.0)  # 3 frames of the second
    wrong = right.flip(1)
    n = torch.tensor([6])
    assert attributes.attribute_ctc_loss(right.log_softmax(-1), n, targets, lens) < \
        attributes.attribute_ctc_loss(wrong.log_softmax(-1), n, targets, lens)


def test_conformer_forward_with_attributes_and_without_heads():
    cfg = models.ModelConfig(d_model=32, num_layers=1, num_heads=2, ffn_dim=64, n_mels=40, attribute_heads=True)
    m = models.build_model(cfg, 11).eval()
    wavs, lens = torch.randn(2, 16000) * 0.1, torch.tensor([16000, 8000])
    lp, out_lens, attr = m(wavs, lens, with_attributes=True)
    assert attr.shape == (2, lp.shape[1], K, 4)
    assert torch.allclose(attr.exp().sum(-1), torch.ones(attr.shape[:3]), atol=1e-4)
    lp2, _ = m(wavs, lens)  # the phone output is the same with or without the heads' output
    assert torch.equal(lp, lp2)
    plain = models.build_model(models.ModelConfig(d_model=32, num_layers=1, num_heads=2, ffn_dim=64, n_mels=40), 11)
    assert not any("attribute" in k for k in plain.state_dict())  # runs without heads keep their weight names
    with pytest.raises(ValueError, match="no attribute heads"):
        plain(wavs, lens, with_attributes=True)


def test_hf_forward_with_attributes():
    tiny = dict(hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=64,
                conv_dim=(16, 16), conv_stride=(5, 4), conv_kernel=(10, 4), num_conv_pos_embeddings=8,
                num_conv_pos_embedding_groups=2)
    cfg = models.ModelConfig(backbone="hf_scratch", hf_config=tiny, mask_time_prob=0.0, attribute_heads=True)
    m = models.build_model(cfg, 9).eval()
    lp, lens, attr = m(torch.randn(2, 8000) * 0.1, torch.tensor([8000, 4000]), with_attributes=True)
    assert attr.shape == (2, lp.shape[1], K, 4) and lp.shape[2] == 9
    assert "attribute_head.weight" in m.state_dict() and not any("attribute" in k for k in m.hf.state_dict())


def test_attribute_heads_need_phoneme_targets(tmp_path):
    from polyvox.speech.asr import AsrConfig

    with pytest.raises(ConfigError, match="model.attribute_heads needs data.unit: phoneme"):
        load_config(AsrConfig, ROOT / "recipes/asr_ctc/configs/base.yaml", ["data.unit=char", "model.attribute_heads=true"])


@pytest.mark.slow
def test_recipe_trains_with_attribute_heads(tiny_corpus, tmp_path):
    from safetensors.torch import load_file
    from tests.recipes.test_asr_recipe import CONFIGS, debug_overrides

    from polyvox.speech import asr

    run_dir = tmp_path / "run"
    overrides = debug_overrides(tiny_corpus, run_dir, steps=4) + ["model.attribute_heads=true", "decode.method=greedy"]
    assert cli(["train", str(CONFIGS / "base.yaml"), *overrides]) == 0
    logged = [json.loads(l) for l in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert any(row.get("train/attribute_loss", 0) > 0 for row in logged)
    assert "attribute_head.weight" in load_file(str(run_dir / "model.safetensors"))
    run = asr.load_run(run_dir)  # the saved config rebuilds the heads, so the weights load strictly
    assert run.model.attribute_head is not None
