"""``polyvox classify RUN audio...`` and the run API under it (load_run / classify): runs are
built in the test (random weights, saved like a trained run), so nothing is trained or downloaded."""

import json

import numpy as np
import pytest
import torch

from polyvox.cli import main
from polyvox.data.audio import save_audio
from polyvox.speech.classify.config import ClassificationConfig
from polyvox.speech.classify.run import MODEL_FILE, classify, load_run, save_run_files
from polyvox.speech.classify.model import build_classifier

LABELS = ["angry", "happy", "neutral", "sad"]


def make_run(run_dir, model_cfg: dict, labels=LABELS, seed=0):
    """A run directory exactly as training leaves it (config, labels, weights)."""
    from safetensors.torch import save_model

    torch.manual_seed(seed)
    cfg = ClassificationConfig()
    for k, v in {**model_cfg, "num_classes": len(labels)}.items():
        setattr(cfg.model, k, v)
    model = build_classifier(cfg.model)
    with torch.no_grad():  # a head that is far from uniform, so argmax mistakes would show
        for p in model.head.parameters():
            p.mul_(5.0)
    save_run_files(run_dir, cfg, labels, model)
    save_model(model, str(run_dir / MODEL_FILE))
    return model.eval()


SMALL_FBANK = {"encoder": "fbank", "n_mels": 20, "encoder_dim": 16, "encoder_layers": 1, "attention_dim": 8,
               "head_hidden": 16}


def tones(tmp_path, lengths=(8000, 20000, 4000), rate=16000):
    """WAV files of different lengths and pitches; one at 8 kHz to exercise resampling."""
    paths = []
    for i, n in enumerate(lengths):
        sr = 8000 if i == 2 else rate
        t = np.arange(int(n * sr / rate)) / sr
        wav = (0.3 * np.sin(2 * np.pi * (150 + 120 * i) * t) * (1 + 0.5 * np.sin(2 * np.pi * 3 * t))).astype(np.float32)
        paths.append(str(save_audio(tmp_path / f"tone{i}.wav", wav, sr)))
    return paths


def test_cli_json_probabilities_sum_to_one_and_label_is_argmax(tmp_path, capsys):
    run = tmp_path / "run"
    make_run(run, SMALL_FBANK)
    files = tones(tmp_path)
    assert main(["classify", str(run), *files, "--json", "--device", "cpu"]) == 0
    rows = [json.loads(l) for l in capsys.readouterr().out.splitlines()]
    assert [r["file"] for r in rows] == files  # input order, whatever the batching
    for r in rows:
        assert list(r["probs"]) == LABELS
        assert sum(r["probs"].values()) == pytest.approx(1.0, abs=1e-6)
        assert all(0.0 <= p <= 1.0 for p in r["probs"].values())
        assert r["label"] == max(r["probs"], key=r["probs"].get)


def test_cli_text_output_matches_the_python_api(tmp_path, capsys):
    from polyvox.data.audio import load_audio

    run = tmp_path / "run"
    make_run(run, SMALL_FBANK)
    files = tones(tmp_path)
    assert main(["classify", str(run), *files, "--device", "cpu"]) == 0
    lines = capsys.readouterr().out.splitlines()
    probs = classify(load_run(run, device="cpu"), [load_audio(f)[0] for f in files])
    assert probs.shape == (3, 4)
    for line, p in zip(lines, probs):
        name, label, cells = line.split("\t")
        printed = {k: float(v) for k, v in (c.split("=") for c in cells.split())}
        assert list(printed) == LABELS
        assert label == LABELS[int(p.argmax())]
        assert np.allclose(list(printed.values()), p, atol=6e-5)


def test_batched_classification_equals_one_by_one(tmp_path):
    run = tmp_path / "run"
    make_run(run, SMALL_FBANK)
    clf = load_run(run, device="cpu")
    g = torch.Generator().manual_seed(0)
    wavs = [0.1 * torch.randn(n, generator=g) for n in (16000, 5000, 9000)]
    together = classify(clf, wavs)
    alone = np.concatenate([classify(clf, [w]) for w in wavs])
    assert np.allclose(together, alone, atol=1e-5)
    assert not np.allclose(together[0], together[1])  # not a constant output


def test_missing_file_is_reported_and_the_others_still_classified(tmp_path, capsys):
    run = tmp_path / "run"
    make_run(run, SMALL_FBANK)
    files = tones(tmp_path, lengths=(8000,))
    assert main(["classify", str(run), str(tmp_path / "nope.wav"), *files, "--device", "cpu"]) == 1
    out = capsys.readouterr()
    assert "nope.wav" in out.err and "not found" in out.err
    assert out.out.splitlines()[0].startswith(files[0] + "\t")


def test_not_a_run_directory(tmp_path, capsys):
    files = tones(tmp_path, lengths=(8000,))
    assert main(["classify", str(tmp_path), *files]) == 2
    assert "not a trained classification run" in capsys.readouterr().err


def test_protocol_directory_resolves_to_the_multilingual_run(tmp_path, capsys):
    make_run(tmp_path / "proto" / "from-all", SMALL_FBANK)
    files = tones(tmp_path, lengths=(8000,))
    assert main(["classify", str(tmp_path / "proto"), *files, "--json", "--device", "cpu"]) == 0
    assert json.loads(capsys.readouterr().out)["label"] in LABELS


def test_hf_run_loads_without_the_original_model_directory(tmp_path):
    """The run keeps the HF encoder's config; loading must not need name_or_path (no hub, no dir)."""
    import shutil

    from transformers import Wav2Vec2Config, Wav2Vec2Model

    torch.manual_seed(0)
    hf_dir = tmp_path / "tiny_w2v2"
    Wav2Vec2Model(Wav2Vec2Config(hidden_size=16, num_hidden_layers=2, num_attention_heads=2, intermediate_size=32,
                                 conv_dim=(8, 8), conv_stride=(5, 4), conv_kernel=(10, 4), num_conv_pos_embeddings=8,
                                 num_conv_pos_embedding_groups=2, feat_extract_norm="layer",
                                 do_stable_layer_norm=True)).save_pretrained(hf_dir)
    run = tmp_path / "run"
    model = make_run(run, {"encoder": "hf", "name_or_path": str(hf_dir), "pooling": "stats", "head_hidden": 8},
                     labels=["abusive", "clean"])
    shutil.rmtree(hf_dir)
    wav = 0.1 * torch.randn(6400, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        expected = torch.softmax(model(wav[None], torch.tensor([6400])), -1).numpy()
    probs = classify(load_run(run, device="cpu"), [wav])
    assert np.allclose(probs, expected, atol=1e-5)
