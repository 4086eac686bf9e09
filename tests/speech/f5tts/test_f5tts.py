"""The F5-style model, flow matching and checkpoints: pure sampling functions, F5-TTS checkpoint files in both of
its formats, vocabulary extension that keeps every old weight, and save / reload with the same output."""

from __future__ import annotations

import math

import pytest
import torch

from polyvox.speech.f5tts import flow
from polyvox.speech.f5tts.model import F5TTS, F5Config, apply_rotary
from polyvox.speech.f5tts.run import (CheckpointError, encode, extend_vocab, from_pretrained, generate_mel, load_run,
                                      pad_ids, phoneme_tokens, read_vocab, save_pretrained, write_vocab)
from polyvox.data.collate import VocoderMelOptions

TINY = dict(dim=32, depth=2, heads=2, dim_head=16, ff_mult=2.0, mel_dim=12, text_num_embeds=10, text_dim=16,
            conv_layers=1, dropout=0.0)
MEL = VocoderMelOptions(sample_rate=8000, n_mels=12, n_fft=256, hop_length=64, win_length=256)
VOCAB = [" ", "a", "b", "c", "d", "e", "f", "g", "h", "i"]


def tiny_model(seed=0, **kw) -> F5TTS:
    torch.manual_seed(seed)
    model = F5TTS(F5Config(**{**TINY, **kw}))
    with torch.no_grad():  # F5 zero-initializes the output layers; random everywhere so outputs are informative
        for p in model.parameters():
            p.normal_(0, 0.1)
    return model.eval()


def inputs(b=2, t=20):
    g = torch.Generator().manual_seed(1)
    text = torch.randint(0, 10, (b, 8), generator=g)
    text[-1, 5:] = -1
    return torch.randn(b, t, 12, generator=g), torch.randn(b, t, 12, generator=g), text, torch.tensor([0.2, 0.7])[:b]


def test_a_new_model_starts_as_zero_velocity_and_has_f5_names():
    model = F5TTS(F5Config(**TINY))
    x, cond, text, t = inputs()
    assert torch.equal(model(x, cond, text, t), torch.zeros_like(x))
    names = set(model.state_dict())
    for name in ("transformer.time_embed.time_mlp.0.weight", "transformer.text_embed.text_embed.weight",
                 "transformer.text_embed.text_blocks.0.grn.gamma", "transformer.input_embed.conv_pos_embed.conv1d.0.weight",
                 "transformer.rotary_embed.inv_freq", "transformer.transformer_blocks.1.attn.to_out.0.weight",
                 "transformer.transformer_blocks.0.ff.ff.0.0.weight", "transformer.norm_out.linear.weight"):
        assert name in names


def test_guidance_pair_is_the_conditional_and_unconditional_calls():
    model = tiny_model()
    x, cond, text, t = inputs()
    pair = model(x, cond, text, t, guidance_pair=True)
    assert torch.allclose(pair[:2], model(x, cond, text, t), atol=1e-6)
    assert torch.allclose(pair[2:], model(x, cond, text, t, drop_audio_cond=True, drop_text=True), atol=1e-6)


def test_rotary_preserves_norms_and_encodes_relative_position():
    from polyvox.speech.f5tts.model import RotaryEmbedding

    angles = RotaryEmbedding(8).angles(6)
    q = torch.randn(1, 1, 6, 8)
    rq = apply_rotary(q, angles)
    assert torch.allclose(rq.norm(dim=-1), q.norm(dim=-1), atol=1e-5)
    same = torch.randn(8).expand(1, 1, 6, 8)  # one vector at every position: dot products depend on distance only
    r = apply_rotary(same, angles)[0, 0]
    assert torch.allclose(r[0] @ r[2], r[3] @ r[5], atol=1e-5)


def test_time_grid_sway_and_pruned_schedules():
    t = flow.time_grid(32, sway=None, epss=False)
    assert torch.allclose(t, torch.linspace(0, 1, 33))
    swayed = flow.time_grid(8, sway=-1.0, epss=False)
    assert swayed[0] == 0 and torch.isclose(swayed[-1], torch.tensor(1.0))
    assert (swayed[1:-1] < torch.linspace(0, 1, 9)[1:-1]).all()  # s < 0: steps crowd towards t = 0
    assert torch.allclose(flow.time_grid(7, sway=None), torch.tensor([0, 2, 4, 6, 8, 16, 24, 32]) / 32)
    with pytest.raises(ValueError):
        flow.time_grid(0)


def test_solvers_on_known_flows():
    x0 = torch.zeros(1, 1, 1)
    times = torch.linspace(0, 1, 5)
    # dx/dt = t: x(1) = 1/2; midpoint is exact on it, Euler falls short by a known amount
    euler = flow.solve(lambda x, t: t * torch.ones_like(x), x0, times, "euler")
    mid = flow.solve(lambda x, t: t * torch.ones_like(x), x0, times, "midpoint")
    assert math.isclose(float(mid), 0.5, abs_tol=1e-6)
    assert math.isclose(float(euler), sum(i / 4 * 0.25 for i in range(4)), abs_tol=1e-6)
    with pytest.raises(ValueError, match="euler or midpoint"):
        flow.solve(lambda x, t: x, x0, times, "rk4")


def test_sample_keeps_the_prompt_and_a_row_does_not_depend_on_its_batch():
    model = tiny_model()
    prompt = torch.randn(2, 10, 12)
    text = pad_ids([[1, 2, 3, 4], [5, 6]])
    out = flow.sample(model, prompt, torch.tensor([10, 6]), text, torch.tensor([30, 20]), steps=3, seed=4)
    assert out.shape == (2, 30, 12)
    assert torch.equal(out[0, :10], prompt[0]) and torch.equal(out[1, :6], prompt[1, :6])
    assert torch.equal(out[1, 20:], torch.zeros(10, 12))  # past its total
    alone = flow.sample(model, prompt[:1], torch.tensor([10]), text[:1, :4], torch.tensor([30]), steps=3, seed=4)
    assert torch.allclose(alone[0], out[0], atol=1e-5)
    again = flow.sample(model, prompt[:1], torch.tensor([10]), text[:1, :4], torch.tensor([30]), steps=3, seed=4)
    assert torch.equal(alone, again)


def test_flow_matching_loss_trains_only_the_span_and_backpropagates():
    model = F5TTS(F5Config(**TINY)).train()
    mel, lens = torch.randn(3, 25, 12), torch.tensor([25, 20, 9])
    torch.manual_seed(0)
    loss, logs = flow.flow_matching_loss(model, mel, lens, pad_ids([[1, 2], [3], [4, 5, 6]]))
    loss.backward()
    assert torch.isfinite(loss) and loss > 0
    assert model.transformer.proj_out.weight.grad.abs().sum() > 0
    assert 0.7 * 9 - 1 <= logs["span_frames"] <= 25
    span = flow.random_span_mask(lens, (0.7, 1.0), 25, torch.Generator().manual_seed(0))
    assert (span.sum(1) >= (0.7 * lens).long() - 1).all() and (span & ~flow.lengths_to_mask(lens, 25)).sum() == 0


def save_f5_checkpoint(model: F5TTS, folder, fmt: str):
    """The files F5-TTS writes: model_N.pt with ema_model_state_dict (plus EMA bookkeeping), or an EMA-only
    model_N.safetensors; vocab.txt beside it."""
    folder.mkdir(parents=True, exist_ok=True)
    ema = {f"ema_model.{k}": v.clone() for k, v in model.state_dict().items()}
    if fmt == "pt":
        ema.update({"initted": torch.tensor(True), "step": torch.tensor(100)})
        torch.save({"ema_model_state_dict": ema, "model_state_dict": {}, "update": 100}, folder / "model_100.pt")
    else:
        from safetensors.torch import save_file

        save_file(ema, str(folder / "model_100.safetensors"))
    write_vocab(folder / "vocab.txt", VOCAB)
    return folder


@pytest.mark.parametrize("fmt", ["pt", "safetensors"])
def test_an_f5_checkpoint_loads_with_its_shape_read_off_the_tensors(tmp_path, fmt):
    model = tiny_model(qk_norm="rms_norm", long_skip_connection=True)
    folder = save_f5_checkpoint(model, tmp_path / "ckpt", fmt)
    loaded, vocab, mel = from_pretrained(folder)  # the folder: its one model_* file
    assert vocab == VOCAB and mel == VocoderMelOptions()
    assert loaded.cfg.depth == 2 and loaded.cfg.heads == 2 and loaded.cfg.qk_norm == "rms_norm"
    assert loaded.cfg.long_skip_connection and loaded.cfg.text_num_embeds == 10 and loaded.cfg.ff_mult == 2.0
    x, cond, text, t = inputs()
    assert torch.equal(loaded.eval()(x, cond, text, t), model(x, cond, text, t))


def test_heads_that_shapes_cannot_tell_and_bad_files(tmp_path):
    model = tiny_model()  # 2 heads of 16: without the q/k norm the default would read 32 / 64 heads
    folder = save_f5_checkpoint(model, tmp_path / "ckpt", "pt")
    with pytest.raises(CheckpointError, match="attention width"):
        from_pretrained(folder / "model_100.pt")
    loaded, _, _ = from_pretrained(folder / "model_100.pt", heads=2)
    x, cond, text, t = inputs()
    assert torch.equal(loaded.eval()(x, cond, text, t), model(x, cond, text, t))
    write_vocab(tmp_path / "short.txt", VOCAB[:5])
    with pytest.raises(CheckpointError, match="5 tokens"):
        from_pretrained(folder / "model_100.pt", vocab=tmp_path / "short.txt", heads=2)
    torch.save({"model_state_dict": {"encoder.weight": torch.zeros(1)}}, tmp_path / "other.pt")
    with pytest.raises(CheckpointError, match="not an F5-TTS DiT checkpoint"):
        from_pretrained(tmp_path / "other.pt")
    with pytest.raises(FileNotFoundError, match="nothing is downloaded"):
        from_pretrained(tmp_path / "no-such-checkpoint")


def test_extend_vocab_keeps_every_old_weight_and_is_seeded():
    model = tiny_model()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    x, cond, text, t = inputs()
    out_before = model(x, cond, text, t)
    grown, vocab = extend_vocab(model, VOCAB, ["a", "ʃ", "tʃ", "ʃ", " "], seed=3)
    assert vocab == VOCAB + ["ʃ", "tʃ"] and grown.cfg.text_num_embeds == 12
    embed = grown.state_dict()["transformer.text_embed.text_embed.weight"]
    assert embed.shape == (13, 16) and torch.equal(embed[:11], before["transformer.text_embed.text_embed.weight"])
    assert all(torch.equal(v, before[k]) for k, v in grown.state_dict().items() if "text_embed.text_embed" not in k)
    assert torch.equal(grown(x, cond, text, t), out_before)  # old tokens: the same model
    again, _ = extend_vocab(tiny_model(), VOCAB, ["ʃ", "tʃ"], seed=3)
    assert torch.equal(again.state_dict()["transformer.text_embed.text_embed.weight"], embed)


def test_tokens_ids_and_vocab_file(tmp_path):
    assert phoneme_tokens("h ə | w ɜː") == ["h", "ə", " ", "w", "ɜː"]
    assert encode(["a", "zz", " ", "b"], VOCAB) == ([1, 0, 2], ["zz"])
    write_vocab(tmp_path / "v.txt", VOCAB)
    assert read_vocab(tmp_path / "v.txt") == VOCAB  # a line holding one space is the space token
    (tmp_path / "dup.txt").write_text("a\nb\na\n", encoding="utf-8")
    with pytest.raises(CheckpointError, match="twice"):
        read_vocab(tmp_path / "dup.txt")
    assert pad_ids([[1, 2], []]).tolist() == [[1, 2], [-1, -1]]


def test_save_reload_and_generate_the_same_mel(tmp_path):
    model, vocab = extend_vocab(tiny_model(), VOCAB, ["ʃ"])
    save_pretrained(tmp_path / "run", model, vocab, MEL)
    run = load_run(tmp_path / "run", device="cpu")
    assert run.vocab == vocab and run.mel == MEL
    prompt = torch.sin(torch.arange(4000) * 0.05)
    a = generate_mel(run, ["a", " ", "ʃ"], prompt, frames=15, steps=3)
    b = generate_mel(load_run(tmp_path / "run", device="cpu"), ["a", " ", "ʃ"], prompt, frames=15, steps=3)
    assert a.shape == (15, 12) and torch.equal(a, b)
    with pytest.raises(ValueError, match="not in the vocabulary"):
        generate_mel(run, ["ʒ"], prompt, frames=5)


def test_v0_checkpoints_load_with_their_two_settings(tmp_path):
    from polyvox.speech.f5tts.run import V0_ARCH

    v0 = tiny_model(**V0_ARCH)
    folder = save_f5_checkpoint(v0, tmp_path / "v0", "safetensors")
    as_v1, _, _ = from_pretrained(folder, heads=2)
    as_v0, _, _ = from_pretrained(folder, heads=2, **V0_ARCH)
    x, cond, text, t = inputs()
    assert torch.equal(as_v0.eval()(x, cond, text, t), v0(x, cond, text, t))
    assert not torch.allclose(as_v1.eval()(x, cond, text, t), v0(x, cond, text, t))  # shapes alone are not enough
