"""TTS pieces: length regulation, alignment spans -> durations, the model's shapes and losses, batches whose
durations match their mels, Griffin-Lim, a saved run that loads back, and every bad input named."""

import math
import shutil

import numpy as np
import pytest
import torch

from polyvox.data.audio import save_audio
from polyvox.data.manifest import Utterance
from polyvox.speech.asr.vocab import build_vocab, phonemes_to_tokens
from polyvox.speech.positions import sinusoidal_positions
from polyvox.speech.tts import run as tts_run
from polyvox.speech.tts import task
from polyvox.speech.tts.align import decoder_frames, spans_to_durations
from polyvox.speech.tts.config import TtsConfig, TtsModelConfig
from polyvox.speech.tts.model import FastSpeech, regulate_length, token_frame_positions
from polyvox.speech.tts.vocoder import griffin_lim

needs_espeak = pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng not installed")
TINY = TtsModelConfig(d_model=32, encoder_layers=1, decoder_layers=1, num_heads=2, ffn_dim=64, conv_kernel=3,
                      reference_channels=16, speaker_dim=16, duration_channels=16, dropout=0.0)


def test_regulate_length_repeats_each_token_its_duration():
    x = torch.arange(2 * 3 * 1, dtype=torch.float).reshape(2, 3, 1)
    out, lens = regulate_length(x, torch.tensor([[2, 0, 1], [1, 3, 9]]), torch.tensor([3, 2]))
    assert lens.tolist() == [3, 4] and out.shape == (2, 4, 1)  # the padded token's 9 frames are ignored
    assert out[0, :, 0].tolist() == [0, 0, 2, 0] and out[1, :, 0].tolist() == [3, 4, 4, 4]


def test_spans_to_durations_cover_every_output_frame():
    d = spans_to_durations([0, 3, 4, 9], n_frames=10, n_out=20)
    assert d == [6, 2, 10, 2] and sum(d) == 20
    assert sum(spans_to_durations([2, 5, 6], 7, 13)) == 13  # leading blanks go to the first token
    assert spans_to_durations([], 5, 10) == []
    assert decoder_frames(16000, TtsConfig().mel.fbank(), 2) == math.ceil((1 + (16000 - 512) // 160) / 2)


@pytest.mark.parametrize("reference", ["joint", "dse", "none"])
def test_model_shapes_losses_and_inference(reference):
    cfg = TtsModelConfig(**{**TINY.__dict__, "reference": reference})
    model = FastSpeech(cfg, vocab_size=10, n_languages=2, n_mels=20)
    tokens = torch.tensor([[3, 4, 5], [6, 7, 0]])
    token_lens, durs = torch.tensor([3, 2]), torch.tensor([[2, 1, 3], [1, 2, 0]])
    ref = torch.randn(2, 30, 20), torch.tensor([30, 25])
    mel, log_dur, frame_lens = model(tokens, token_lens, torch.tensor([0, 1]), durs, *ref)
    assert mel.shape == (2, 6 * cfg.reduction, 20) and log_dur.shape == (2, 3) and frame_lens.tolist() == [6, 3]
    batch = {"tokens": tokens, "token_lens": token_lens, "languages": torch.tensor([0, 1]), "durations": durs,
             "mels": torch.randn(2, 12, 20), "mel_lens": torch.tensor([12, 6]), "ref_mels": ref[0], "ref_lens": ref[1]}
    parts = task.losses(model, batch)
    (parts["mel"] + parts["duration"]).backward()
    assert all(torch.isfinite(v) for v in parts.values())
    model.eval()
    out, lens, d = model.infer(tokens, token_lens, torch.tensor([0, 1]), *ref, rate_scale=2.0)
    assert (d[0] >= 1).all() and d[1, 2] == 0 and lens.tolist() == (d.sum(1) * cfg.reduction).tolist()
    assert (reference == "dse") == (model.prosody is not None) and (reference == "none") == (model.timbre is None)


def test_postnet_refines_the_coarse_mel_and_both_are_trained():
    cfg = TtsModelConfig(**{**TINY.__dict__, "postnet_layers": 3, "postnet_channels": 16})
    torch.manual_seed(0)
    model = FastSpeech(cfg, vocab_size=10, n_languages=2, n_mels=20)
    tokens, token_lens, durs = torch.tensor([[3, 4, 5]]), torch.tensor([3]), torch.tensor([[2, 1, 3]])
    ref = torch.randn(1, 30, 20), torch.tensor([30])
    mel, _, _, coarse = model(tokens, token_lens, torch.tensor([0]), durs, *ref, with_coarse=True)
    assert mel.shape == coarse.shape == (1, 6 * cfg.reduction, 20) and not torch.allclose(mel, coarse)
    assert torch.allclose(mel, coarse + (model.postnet(coarse) - coarse))  # residual on the coarse mel
    batch = {"tokens": tokens, "token_lens": token_lens, "languages": torch.tensor([0]), "durations": durs,
             "mels": torch.randn(1, 12, 20), "mel_lens": torch.tensor([12]), "ref_mels": ref[0], "ref_lens": ref[1]}
    task.losses(model, batch)["mel"].backward()
    assert model.postnet.convs[0].weight.grad.abs().sum() > 0 and model.to_mel.weight.grad.abs().sum() > 0
    model.eval()
    out, _, _ = model.infer(tokens, token_lens, torch.tensor([0]), *ref)
    assert out.shape[-1] == 20 and torch.isfinite(out).all()
    assert FastSpeech(TINY, vocab_size=10, n_languages=2, n_mels=20).postnet is None  # off by default


def test_frame_positions_place_each_frame_in_its_token_and_reach_the_decoder():
    pos = token_frame_positions(torch.tensor([[2, 0, 1], [1, 3, 9]]), torch.tensor([3, 2]), n_frames=4)
    assert pos.shape == (2, 4, 3)
    assert torch.allclose(pos[0, :, 0], torch.tensor([0.25, 0.75, 0.5, 0.0]))  # (k + 0.5) / d; past the end: 0
    assert torch.allclose(pos[1, :, 1], torch.log1p(torch.tensor([0.0, 0, 1, 2])))  # frames since the token's start
    assert torch.allclose(pos[1, :, 2], torch.log(torch.tensor([1.0, 3, 2, 1])))  # frames to its end
    cfg = TtsModelConfig(**{**TINY.__dict__, "frame_position": True})
    torch.manual_seed(0)
    model = FastSpeech(cfg, vocab_size=10, n_languages=2, n_mels=20).eval()
    tokens, token_lens, ref = torch.tensor([[3]]), torch.tensor([1]), (torch.randn(1, 30, 20), torch.tensor([30]))
    mel, _, _ = model(tokens, token_lens, torch.tensor([0]), torch.tensor([[4]]), *ref)
    frames = mel.reshape(1, 4, -1)  # one token of 4 decoder frames: the same vector, told apart only by position
    assert not torch.allclose(frames[0, 0], frames[0, 3], atol=1e-4)
    model.frame_position.weight.data.zero_(), model.frame_position.bias.data.zero_()
    mel, _, _ = model(tokens, token_lens, torch.tensor([0]), torch.tensor([[4]]), *ref)
    frames = mel.reshape(1, 4, -1)
    assert torch.allclose(frames[0, 1], frames[0, 2], atol=1e-5)  # without it, the middle frames are copies
    assert FastSpeech(TINY, vocab_size=10, n_languages=2, n_mels=20).frame_position is None  # off by default


def test_sinusoidal_positions_tell_repeated_tokens_apart_and_their_scales_train():
    table = sinusoidal_positions(4, 3)
    assert table.shape == (3, 4) and table[0].tolist() == [1.0, 1.0, 0.0, 0.0]  # cos half, then sin half
    assert torch.allclose(table[2, [0, 2]], torch.tensor([math.cos(2.0), math.sin(2.0)]))
    tokens, token_lens, durs = torch.tensor([[3]]), torch.tensor([1]), torch.tensor([[4]])  # one phone, 4 frames
    ref = torch.randn(1, 30, 20), torch.tensor([30])

    def middle_frames(positions_on):
        torch.manual_seed(0)
        cfg = TtsModelConfig(**{**TINY.__dict__, "sinusoidal_positions": positions_on})
        model = FastSpeech(cfg, vocab_size=10, n_languages=2, n_mels=20).eval()
        mel, _, _ = model(tokens, token_lens, torch.tensor([0]), durs, *ref)
        return model, mel.reshape(1, 4, -1)[0, 1:3]

    model, frames = middle_frames(False)
    assert model.position_scales is None and torch.allclose(frames[0], frames[1], atol=1e-5)  # off by default
    model, frames = middle_frames(True)
    assert not torch.allclose(frames[0], frames[1], atol=1e-4)  # copies of one vector, told apart by position
    batch = {"tokens": tokens, "token_lens": token_lens, "languages": torch.tensor([0]), "durations": durs,
             "mels": torch.randn(1, 8, 20), "mel_lens": torch.tensor([8]), "ref_mels": ref[0], "ref_lens": ref[1]}
    task.losses(model, batch)["mel"].backward()  # in eval mode: one phone is too short for BatchNorm's training
    assert (model.position_scales.grad != 0).all()


def test_collate_makes_durations_sum_to_the_mel(tmp_path):
    cfg = TtsConfig()
    utts, durs = [], {}
    for i, secs in enumerate([1.0, 1.37]):
        wav = (0.3 * np.sin(2 * np.pi * 200 * np.arange(int(secs * 16000)) / 16000)).astype(np.float32)
        save_audio(tmp_path / f"{i}.wav", wav)
        utts.append(Utterance(f"u{i}", str(tmp_path / f"{i}.wav"), secs, 16000, "en", speaker="s",
                              phonemes="h ə | l oʊ"))
        durs[f"u{i}"] = [10, 10, 10, 10, 7]  # off by a few frames, as an aligner counting from the manifest is
    vocab = build_vocab(phonemes_to_tokens(u.phonemes) for u in utts)
    batch = next(iter(task.train_loader(cfg, utts, durs, vocab, ["en"])))
    for row in range(2):
        n_mel = int(batch["mel_lens"][row])
        assert int(batch["durations"][row].sum()) == math.ceil(n_mel / cfg.model.reduction)
    assert batch["mels"].shape[1] == int(batch["durations"].sum(1).max()) * cfg.model.reduction
    assert batch["ref_mels"].shape[0] == 2 and batch["tokens"][0].tolist()[:2] != [0, 0]


def test_references_are_other_utterances_of_the_speaker_and_change_with_the_epoch():
    utts = [Utterance(f"u{i}", f"/x/{i}.wav", 1.0, 16000, "en", speaker=f"s{i % 2}", phonemes="a") for i in range(8)]
    ds = task.TtsDataset(utts, {u.id: [1] for u in utts}, build_vocab([["a"]]), seed=0)
    picks = {}
    for epoch in range(4):
        ds.set_epoch(epoch)
        j = ds.reference_index(0)
        assert j != 0 and utts[j].speaker == "s0"
        picks[epoch] = j
    assert len(set(picks.values())) > 1


def test_griffin_lim_inverts_the_tts_mel_and_keeps_the_callers_rng():
    from polyvox.data.collate import compute_fbank

    cfg = TtsConfig()
    t = np.arange(16000) / 16000
    wav = torch.from_numpy((0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32))[None]
    mel, _ = compute_fbank(wav, torch.tensor([16000]), cfg.mel.fbank())
    torch.manual_seed(5)
    expected = torch.rand(1)
    torch.manual_seed(5)
    out = griffin_lim(mel[0], cfg.mel, iters=16)
    assert torch.rand(1).equal(expected)  # GL's random phases came from a forked RNG
    assert out.shape[0] > 15000 and out.abs().max() <= 0.9 + 1e-6
    peak = float(torch.fft.rfft(out).abs().argmax()) * 16000 / out.shape[0]
    assert abs(peak - 440) < 15
    assert torch.equal(out, griffin_lim(mel[0], cfg.mel, iters=16))  # deterministic


@pytest.fixture(scope="module")
def saved_run(tmp_path_factory):
    """An untrained tiny run saved to disk: what load_run and synthesize read back."""
    cfg = TtsConfig(model=TINY)
    vocab = build_vocab([["h", "ə", "l", "oʊ", "w", "ɜː", "d", "|"]])
    run_dir = tmp_path_factory.mktemp("tts") / "run"
    torch.manual_seed(0)
    model = task.build_model(cfg, vocab, ["en"])
    tts_run.save_run_files(run_dir, cfg, vocab, ["en"], model)
    return run_dir


def _voice(tmp_path, seconds=1.5, amplitude=0.3):
    wav = (amplitude * np.sin(2 * np.pi * 150 * np.arange(int(seconds * 16000)) / 16000)).astype(np.float32)
    return save_audio(tmp_path / f"ref{seconds}_{amplitude}.wav", wav)


def test_saved_run_loads_back_with_the_same_weights(saved_run):
    a, b = tts_run.load_run(saved_run, device="cpu"), tts_run.load_run(saved_run, device="cpu")
    assert a.languages == ["en"] and a.vocab == b.vocab
    for (k, v), (_, w) in zip(a.model.state_dict().items(), b.model.state_dict().items()):
        assert torch.equal(v, w), k
    with pytest.raises(FileNotFoundError, match="not a trained TTS run"):
        tts_run.load_run(saved_run.parent / "nothing")


@needs_espeak
def test_synthesize_speaks_each_sentence(saved_run, tmp_path):
    run = tts_run.load_run(saved_run, device="cpu")
    ref = _voice(tmp_path)
    one = tts_run.synthesize(run, "hello world", "en", ref, griffin_lim_iters=4)
    two = tts_run.synthesize(run, "hello world. hello world!", "en", ref, griffin_lim_iters=4)
    assert one.dtype == np.float32 and np.isfinite(one).all() and len(one) > 1600
    assert len(two) >= 2 * len(one)  # split at the sentence end, both spoken, none truncated
    assert tts_run.split_sentences("A b. C d?\nE") == ["A b.", "C d?", "E"]


@needs_espeak
def test_bad_input_is_named(saved_run, tmp_path):
    run = tts_run.load_run(saved_run, device="cpu")
    ref = _voice(tmp_path)
    cases = [
        (dict(text="  ", lang="en", reference=ref), "text is empty"),
        (dict(text="hello", lang="xx", reference=ref), "unknown language code 'xx'"),
        (dict(text="hola", lang="es", reference=ref), r"trained on \['en'\]"),
        (dict(text="zebra", lang="en", reference=ref), "phonemes the model never saw in training: "),
        (dict(text="hello", lang="en", reference=_voice(tmp_path, seconds=0.5)), "at least 1 s"),
        (dict(text="hello", lang="en", reference=_voice(tmp_path, amplitude=0.0)), "silence"),
        (dict(text="hello", lang="en", reference=str(tmp_path / "missing.wav")), "file not found"),
        (dict(text="hello", lang="en", reference=None), "give a reference clip"),
    ]
    text_file = tmp_path / "notes.wav"
    text_file.write_text("not audio\n")
    cases.append((dict(text="hello", lang="en", reference=str(text_file)), "not an audio file"))
    for kwargs, match in cases:
        with pytest.raises(tts_run.TtsInputError, match=match):
            tts_run.synthesize(run, **kwargs, griffin_lim_iters=2)


@needs_espeak
def test_tts_cli(saved_run, tmp_path, capsys):
    from polyvox.cli import main

    out = tmp_path / "out.wav"
    assert main(["tts", str(saved_run), "--text", "hello world", "--lang", "en", "--reference",
                 str(_voice(tmp_path)), "--out", str(out)]) == 0
    assert out.exists() and "s\n" in capsys.readouterr().out
    assert main(["tts", str(saved_run), "--text", "", "--lang", "en", "--out", str(out)]) == 2
    assert "text is empty" in capsys.readouterr().err


def test_same_voice_truth_speaks_the_target_text_in_the_prompt_voice(tmp_path):
    """The cross-lingual ground truth: the target's German sentence in the English prompt's espeak variant, pitch and
    rate (German pronunciation), exactly what espeak-ng says for that voice; None for another engine's rows."""
    import subprocess

    from polyvox.data.audio import load_audio
    from polyvox.data.manifest import Utterance
    from polyvox.speech.tts.task import same_voice_truth

    target = Utterance(id="de-1", audio="x.wav", duration=1.0, sample_rate=16000, language="de", speaker="de-spk1",
                       text="guten morgen", custom={"voice": "de+f5", "pitch": 55, "rate": 180})
    prompt = Utterance(id="en-1", audio="y.wav", duration=1.0, sample_rate=16000, language="en", speaker="en-spk3",
                       text="good morning", custom={"voice": "en-us+m3", "pitch": 40, "rate": 150})
    truth = same_voice_truth(target, prompt, tmp_path / "t.wav")
    subprocess.run(["espeak-ng", "-b", "1", "-v", "de+m3", "-p", "40", "-s", "150", "-w", str(tmp_path / "ref.wav"),
                    "--", "guten morgen"], check=True, capture_output=True)
    expected = load_audio(tmp_path / "ref.wav", 16000)[0]
    assert truth.shape == expected.shape and np.allclose(truth, expected)
    own = same_voice_truth(target, target, tmp_path / "own.wav")  # the target's own voice differs
    assert own.shape != truth.shape or not np.allclose(own, truth)
    flite = Utterance(id="en-2", audio="z.wav", duration=1.0, sample_rate=16000, language="en", speaker="en-flite-slt",
                      text="hello", custom={"voice": "slt", "pitch": 0, "rate": 0, "engine": "flite"})
    assert same_voice_truth(target, flite, tmp_path / "f.wav") is None
