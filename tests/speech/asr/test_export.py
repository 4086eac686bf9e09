"""Hugging Face backbones and export: a tiny wav2vec2 checkpoint built here and saved locally
(never downloaded) goes through the real ``from_pretrained`` path, a run, ``polyvox export``,
and ``transformers.pipeline``, which must transcribe exactly like ``polyvox transcribe``."""

import numpy as np
import pytest
import torch

from polyvox.speech import asr
from polyvox.speech.asr.model import ModelConfig, build_model
from polyvox.speech.asr.vocab import build_vocab, text_to_tokens

TINY_W2V2 = dict(
    hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
    conv_dim=(16, 16, 16), conv_kernel=(10, 3, 3), conv_stride=(5, 4, 4),
    num_conv_pos_embeddings=16, num_conv_pos_embedding_groups=2,
    feat_extract_norm="layer", do_stable_layer_norm=True, mask_time_prob=0.0,
)


@pytest.fixture(scope="module")
def tiny_w2v2(tmp_path_factory):
    """A randomly initialized wav2vec2 encoder saved like a pretrained (pre-CTC) checkpoint."""
    from transformers import Wav2Vec2Config, Wav2Vec2Model

    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("tiny_w2v2")
    Wav2Vec2Model(Wav2Vec2Config(**TINY_W2V2)).save_pretrained(path)
    return path


def make_run(run_dir, model_cfg, unit="char"):
    """A run directory with random weights (sharpened head so the output varies over time)."""
    from safetensors.torch import save_model

    texts = ["hola que tal", "guten tag", "hello world", "ça va bien"]
    vocab = build_vocab(text_to_tokens(t) for t in texts)
    cfg = asr.AsrConfig(run_dir=str(run_dir), model=model_cfg)
    cfg.data.unit = unit
    torch.manual_seed(1)
    model = build_model(model_cfg, len(vocab))
    head = model.hf.lm_head if hasattr(model, "hf") else model.head
    with torch.no_grad():
        head.weight.mul_(30.0)
    asr.save_run_files(run_dir, cfg, vocab, model)
    save_model(model, str(run_dir / asr.MODEL_FILE))
    return run_dir


def test_wav2vec2_checkpoint_gets_a_new_ctc_head_and_frozen_encoder(tiny_w2v2):
    cfg = ModelConfig(backbone="hf", name_or_path=str(tiny_w2v2), mask_time_prob=0.0, layerdrop=0.05)
    model = build_model(cfg, 17)
    assert model.hf.lm_head.out_features == 17 and model.hf.config.pad_token_id == 0
    assert model.hf.config.layerdrop == 0.05
    assert not any(p.requires_grad for p in model.hf.wav2vec2.feature_extractor.parameters())
    lp, lens = model.eval()(torch.randn(2, 8000), torch.tensor([8000, 4000]))
    assert lp.shape[-1] == 17 and lens.tolist() == [100, 50]  # 8000 -> 1599 -> 400 -> 100 samples/frames


def test_export_matches_pipeline_and_transcribe(tiny_w2v2, tmp_path):
    from transformers import pipeline

    from polyvox.speech.asr.export import export_run

    run_dir = make_run(tmp_path / "run", ModelConfig(backbone="hf", name_or_path=str(tiny_w2v2), mask_time_prob=0.0))
    out = export_run(run_dir, tmp_path / "export")
    names = {p.name for p in out.iterdir()}
    assert {"config.json", "model.safetensors", "vocab.json", "tokenizer_config.json"} <= names
    assert names & {"preprocessor_config.json", "processor_config.json"}  # the name depends on the transformers version

    rng = np.random.default_rng(0)
    t = [np.arange(n) / 16000 for n in (16000, 9000, 23000)]
    wavs = [(0.3 * np.sin(2 * np.pi * (150 + 200 * i) * x * (1 + x)) + 0.05 * rng.standard_normal(len(x))).astype(np.float32)
            for i, x in enumerate(t)]
    ours = asr.transcribe(asr.load_run(run_dir, device="cpu"), wavs)  # one padded batch
    pipe = pipeline("automatic-speech-recognition", model=str(out), device="cpu")
    theirs = [pipe(w)["text"] for w in wavs]
    assert ours == theirs
    assert any(len(s) > 2 for s in ours)  # a non-trivial output, so the comparison means something


def test_phoneme_export_keeps_segment_spacing(tiny_w2v2, tmp_path):
    from transformers import pipeline

    from polyvox.speech.asr.export import export_run

    run_dir = make_run(tmp_path / "run", ModelConfig(backbone="hf", name_or_path=str(tiny_w2v2), mask_time_prob=0.0),
                       unit="phoneme")
    out = export_run(run_dir, tmp_path / "export")
    wav = (0.3 * np.sin(np.arange(12000) / 7.0)).astype(np.float32)
    ours = asr.transcribe(asr.load_run(run_dir, device="cpu"), [wav])[0]
    assert pipeline("automatic-speech-recognition", model=str(out), device="cpu")(wav)["text"] == ours


def test_scratch_wav2vec2_run_reloads_without_the_original_checkpoint(tmp_path):
    cfg = ModelConfig(backbone="hf_scratch", model_type="wav2vec2", hf_config=dict(TINY_W2V2), mask_time_prob=0.0)
    run_dir = make_run(tmp_path / "run", cfg)
    run = asr.load_run(run_dir, device="cpu")
    assert run.model.hf.config.hidden_size == 32
    wav = torch.randn(1, 8000)
    torch.manual_seed(1)
    fresh = build_model(cfg, len(run.vocab))
    with torch.no_grad():
        fresh.hf.lm_head.weight.mul_(30.0)
    a, _ = run.model(wav, torch.tensor([8000]))
    b, _ = fresh.eval()(wav, torch.tensor([8000]))
    assert torch.allclose(a, b, atol=1e-5)


def test_conformer_export_is_a_clear_error(tmp_path):
    from polyvox.speech.asr.export import ExportError, export_run

    cfg = ModelConfig(d_model=16, num_layers=1, num_heads=2, ffn_dim=32, n_mels=20)
    run_dir = make_run(tmp_path / "run", cfg)
    with pytest.raises(ExportError, match="backbone 'conformer' has no Hugging Face architecture"):
        export_run(run_dir, tmp_path / "export")
