"""Utterance classifier: pooling masks, encoders (tiny HF wav2vec 2.0 saved and loaded by path,
fbank, ECAPA), class-imbalance helpers, and classification metrics with hand-checked values."""

import numpy as np
import pytest
import torch

from polyvox.eval import classification as M
from polyvox.eval.plots import plot_confusion_matrix
from polyvox.speech.classify.model import (
    ClassifierConfig,
    balanced_sample_weights,
    build_classifier,
    class_weights,
    encode_labels,
    label_vocab,
)
from polyvox.speech.pooling import AttentiveStatsPooling, MeanPooling, StatsPooling


# ----------------------------------------------------------------------------- pooling


@pytest.mark.parametrize("cls", [MeanPooling, StatsPooling, AttentiveStatsPooling])
def test_pooling_ignores_padding(cls):
    torch.manual_seed(0)
    pool = cls(6)
    x = torch.randn(2, 7, 6)
    lens = torch.tensor([7, 4])
    out = pool(x, lens)
    x2 = x.clone()
    x2[1, 4:] = 1e4  # garbage in the padding must not matter
    assert torch.allclose(out, pool(x2, lens), atol=1e-5)
    alone = pool(x[1:, :4], lens[1:])
    assert torch.allclose(out[1:], alone, atol=1e-5)
    assert out.shape == (2, pool.output_dim)


def test_stats_pooling_values():
    x = torch.tensor([[[1.0], [3.0], [100.0]]])
    out = StatsPooling(1)(x, torch.tensor([2]))
    assert torch.allclose(out, torch.tensor([[2.0, 1.0]]), atol=1e-3)  # mean 2, population std 1


def test_attention_weights_sum_to_one_on_valid_frames():
    pool = AttentiveStatsPooling(4, attention_dim=8)
    w = pool.attention_weights(torch.randn(3, 5, 4), torch.tensor([5, 2, 1]))
    assert torch.allclose(w.sum(1), torch.ones(3))
    assert (w[1, 2:] == 0).all() and (w[2, 1:] == 0).all()


# ----------------------------------------------------------------------------- encoders


def _wavs(lens, seed=0):
    g = torch.Generator().manual_seed(seed)
    wavs = torch.zeros(len(lens), max(lens))
    for i, n in enumerate(lens):
        wavs[i, :n] = 0.1 * torch.randn(n, generator=g)
    return wavs, torch.tensor(lens)


def test_fbank_classifier_batch_equals_single():
    model = build_classifier({"num_classes": 3, "encoder": "fbank", "encoder_dim": 16, "n_mels": 20,
                              "encoder_layers": 2, "head_hidden": 8}).eval()
    wavs, lens = _wavs([8000, 5000])
    with torch.no_grad():
        batch = model(wavs, lens)
        single = model(wavs[1:, :5000], lens[1:])
    assert batch.shape == (2, 3)
    assert torch.allclose(batch[1:], single, atol=1e-4)


def test_fbank_classifier_learns_loudness():
    torch.manual_seed(0)
    model = build_classifier({"num_classes": 2, "encoder": "fbank", "encoder_dim": 16, "n_mels": 20,
                              "encoder_layers": 1, "head_hidden": 0, "pooling": "stats", "dropout": 0.0})
    # class 1 = noise with a 1 kHz tone; fbank normalization removes pure loudness, so use spectrum
    t = torch.arange(4000) / 16000
    wavs, lens = _wavs([4000] * 8, seed=1)
    labels = torch.tensor([0, 1] * 4)
    wavs = wavs + labels[:, None] * 0.5 * torch.sin(2 * np.pi * 1000 * t)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    losses = []
    for _ in range(15):
        loss = torch.nn.functional.cross_entropy(model(wavs, lens), labels)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0]


@pytest.fixture(scope="module")
def tiny_wav2vec2(tmp_path_factory):
    from transformers import Wav2Vec2Config, Wav2Vec2Model

    torch.manual_seed(0)
    cfg = Wav2Vec2Config(hidden_size=16, num_hidden_layers=2, num_attention_heads=2, intermediate_size=32,
                         conv_dim=(8, 8), conv_stride=(5, 4), conv_kernel=(10, 4), num_conv_pos_embeddings=8,
                         num_conv_pos_embedding_groups=2, feat_extract_norm="layer", do_stable_layer_norm=True)
    path = tmp_path_factory.mktemp("tiny_w2v2")
    Wav2Vec2Model(cfg).save_pretrained(path)
    return str(path)


def test_hf_frozen_encoder_loaded_by_path(tiny_wav2vec2):
    model = build_classifier({"num_classes": 4, "encoder": "hf", "name_or_path": tiny_wav2vec2,
                              "pooling": "stats", "head_hidden": 8})
    enc = model.encoder
    assert enc.layer_weights().shape == (3,)  # 2 layers + the input to layer 1
    model.train()
    assert not enc.model.training  # a frozen upstream never runs dropout
    wavs, lens = _wavs([3200, 2000])
    logits = model(wavs, lens)
    assert logits.shape == (2, 4)
    logits.sum().backward()
    assert enc.layer_logits.grad is not None and enc.layer_logits.grad.abs().sum() > 0
    assert all(p.grad is None for p in enc.model.parameters())
    feats, flens = enc(wavs, lens)
    assert flens.tolist() == [int(enc.model._get_feat_extract_output_lengths(torch.tensor(n))) for n in (3200, 2000)]
    assert feats.shape[:2] == (2, flens.max().item())


def test_hf_finetuned_encoder_gets_gradients(tiny_wav2vec2):
    model = build_classifier(ClassifierConfig(num_classes=2, encoder="hf", name_or_path=tiny_wav2vec2,
                                              freeze_encoder=False, layer_weighting=False))
    assert model.encoder.layer_weights() is None
    wavs, lens = _wavs([3200, 3200])
    model(wavs, lens).sum().backward()
    enc = model.encoder.model
    assert enc.encoder.layers[0].attention.q_proj.weight.grad is not None
    assert enc.feature_extractor.conv_layers[0].conv.weight.grad is None  # CNN stays frozen


def test_ecapa_baseline_shapes():
    model = build_classifier({"num_classes": 3, "encoder": "ecapa", "encoder_dim": 32, "n_mels": 24})
    wavs, lens = _wavs([4000, 3000])
    assert model(wavs, lens).shape == (2, 3)
    with pytest.raises(ValueError, match="pools internally"):
        build_classifier({"num_classes": 3, "encoder": "ecapa", "pooling": "stats"})


def test_config_errors_name_the_key():
    with pytest.raises(ValueError, match="poolin"):
        build_classifier({"poolin": "mean"})
    with pytest.raises(ValueError, match="model.encoder"):
        build_classifier({"encoder": "nope"})
    with pytest.raises(ValueError, match="name_or_path"):
        build_classifier({"encoder": "hf", "num_classes": 2})
    with pytest.raises(ValueError, match="num_classes"):
        build_classifier({"encoder": "fbank"})


# ----------------------------------------------------------------------------- labels and imbalance


def test_class_weights_and_balanced_sampling():
    labels = [0, 0, 0, 1]  # 3:1
    w = class_weights(labels, 3)
    assert torch.allclose(w, torch.tensor([4 / 9, 4 / 3, 0.0]))
    assert torch.allclose(class_weights([0, 1, 0, 1], 2), torch.ones(2))
    sw = balanced_sample_weights(labels)
    assert sw == [1 / 3, 1 / 3, 1 / 3, 1.0]
    assert sum(s for s, y in zip(sw, labels) if y == 0) == pytest.approx(sum(s for s, y in zip(sw, labels) if y == 1))


def test_label_encoding_errors_name_the_utterance():
    from polyvox.data.manifest import Utterance

    utts = [Utterance(f"u{i}", "a.wav", 1.0, 16000, "en", custom={"emotion": e}) for i, e in enumerate("bab")]
    vocab = label_vocab(utts, "emotion")
    assert vocab == ["a", "b"] and encode_labels(utts, "emotion", vocab) == [1, 0, 1]
    with pytest.raises(ValueError, match="u0.*'b'.*not in"):
        encode_labels(utts[:1], "emotion", ["a"])
    with pytest.raises(ValueError, match="u0.*'label' missing"):
        label_vocab(utts, "label")


# ----------------------------------------------------------------------------- metrics


def test_metrics_hand_checked():
    y_true = [0, 0, 0, 1, 1, 2]
    y_pred = [0, 0, 1, 1, 2, 2]
    assert M.confusion_matrix(y_true, y_pred, 3).tolist() == [[2, 1, 0], [0, 1, 1], [0, 0, 1]]
    assert M.accuracy(y_true, y_pred) == pytest.approx(4 / 6)
    assert M.per_class_recall(y_true, y_pred, 3) == pytest.approx([2 / 3, 1 / 2, 1.0])
    assert M.uar(y_true, y_pred, 3) == pytest.approx((2 / 3 + 1 / 2 + 1) / 3)
    # F1 = 2TP / (2TP + FP + FN): 4/5, 2/4, 2/3
    assert M.macro_f1(y_true, y_pred, 3) == pytest.approx((0.8 + 0.5 + 2 / 3) / 3)


def test_metrics_with_absent_class():
    # class 2 never occurs: excluded from UAR and macro-F1; class 1 only predicted: F1 0
    assert M.uar([0, 0], [0, 1], 3) == pytest.approx(0.5)
    assert M.macro_f1([0, 0], [0, 1], 3) == pytest.approx((2 / 3 + 0) / 2)
    assert np.isnan(M.per_class_recall([0, 0], [0, 1], 3)[1])


def test_metrics_match_sklearn_on_random_labels():
    from sklearn import metrics as skm

    rng = np.random.default_rng(0)
    t, p = rng.integers(0, 4, 50), rng.integers(0, 4, 50)
    assert M.macro_f1(t, p, 4) == pytest.approx(skm.f1_score(t, p, average="macro"))
    assert M.uar(t, p, 4) == pytest.approx(skm.balanced_accuracy_score(t, p))


def test_report_and_confusion_png(tmp_path):
    rep = M.classification_report([0, 1, 1], [0, 1, 0], ["neutral", "angry"])
    assert rep["per_class"]["angry"]["recall"] == 0.5 and rep["confusion_matrix"] == [[1, 0], [1, 1]]
    png = plot_confusion_matrix(rep["confusion_matrix"], rep["labels"], tmp_path / "cm.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(ValueError, match="outside"):
        M.confusion_matrix([0, 5], [0, 1], 2)
