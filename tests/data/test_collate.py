import functools

import pytest
import torch
import torchaudio

from polyvox.data.collate import FbankOptions, collate_audio, compute_fbank, fbank_lengths, is_empty_batch


def item(i, n):
    g = torch.Generator().manual_seed(i)
    return {"id": f"u{i}", "wav": torch.rand(n, generator=g) - 0.5, "utt": None}


def test_collate_pads_with_zeros_and_drops_none():
    items = [item(0, 1000), None, item(1, 2500), item(2, 10)]
    b = collate_audio(items)
    assert b["wavs"].shape == (3, 2500) and b["wavs"].dtype == torch.float32
    assert b["wav_lens"].tolist() == [1000, 2500, 10] and b["wav_lens"].dtype == torch.long
    assert b["ids"] == ["u0", "u1", "u2"] and b["skipped"] == 1
    for row, it in enumerate(i for i in items if i is not None):
        n = it["wav"].shape[0]
        assert torch.equal(b["wavs"][row, :n], it["wav"])
        assert not b["wavs"][row, n:].any()
    assert "feats" not in b


def test_numpy_wavs_are_accepted():
    b = collate_audio([{"id": "a", "wav": item(0, 5)["wav"].numpy(), "utt": None}])
    assert b["wavs"].shape == (1, 5)


def test_all_none_gives_an_empty_batch():
    b = collate_audio([None, None], fbank=FbankOptions(n_mels=40))
    assert is_empty_batch(b) and b["skipped"] == 2
    assert b["wavs"].shape == (0, 0) and b["wav_lens"].numel() == 0
    assert b["feats"].shape == (0, 0, 40) and b["feat_lens"].numel() == 0
    assert not is_empty_batch(collate_audio([item(0, 100)]))


def test_fbank_lengths():
    o = FbankOptions()  # 400-sample window, 160 hop at 16 kHz
    lens = torch.tensor([16000, 400, 559, 560, 399, 0])
    assert fbank_lengths(lens, o).tolist() == [98, 1, 1, 2, 1, 0]


def test_collate_fbank_shapes_and_masking():
    opts = FbankOptions(n_mels=40)
    collate = functools.partial(collate_audio, fbank=opts)
    b = collate([item(0, 16000), item(1, 8000), item(2, 300)])
    assert b["feats"].shape == (3, 98, 40) and b["feats"].dtype == torch.float32
    assert b["feat_lens"].tolist() == [98, 48, 1]
    assert not b["feats"][1, 48:].any() and not b["feats"][2, 1:].any()
    assert torch.isfinite(b["feats"]).all()


@pytest.mark.parametrize("normalize", [False, True])
def test_batched_fbank_equals_one_by_one(normalize):
    opts = FbankOptions(normalize=normalize)
    items = [item(0, 16000), item(1, 7000), item(2, 12345)]
    b = collate_audio(items, fbank=opts)
    for row, it in enumerate(items):
        alone, n = compute_fbank(it["wav"][None], torch.tensor([it["wav"].shape[0]]), opts)
        k = int(n[0])
        assert k == int(b["feat_lens"][row])
        torch.testing.assert_close(b["feats"][row, :k], alone[0, :k], rtol=1e-4, atol=1e-4)


def test_fbank_ignores_garbage_in_padding():
    wavs = torch.rand(2, 4000) - 0.5
    lens = torch.tensor([4000, 2000])
    clean = wavs.clone()
    clean[1, 2000:] = 0
    a, _ = compute_fbank(wavs, lens)
    c, _ = compute_fbank(clean, lens)
    assert torch.equal(a, c)


def test_normalized_fbank_has_zero_mean_unit_var_over_valid_frames():
    b = collate_audio([item(0, 16000), item(1, 6000)], fbank=FbankOptions(normalize=True))
    feats = b["feats"][1, : int(b["feat_lens"][1])]
    torch.testing.assert_close(feats.mean(0), torch.zeros(80), atol=1e-4, rtol=0)
    torch.testing.assert_close(feats.std(0, unbiased=False), torch.ones(80), atol=1e-2, rtol=0)


def test_matches_torchaudio_melspectrogram():
    # With n_fft equal to the window the framing matches torchaudio's center=False STFT.
    opts = FbankOptions(n_mels=64, n_fft=400, f_min=0.0)
    wav = item(3, 8000)["wav"]
    ours, n = compute_fbank(wav[None], torch.tensor([8000]), opts)
    mel = torchaudio.transforms.MelSpectrogram(
        sample_rate=16000, n_fft=400, win_length=400, hop_length=160, f_min=0.0, n_mels=64,
        center=False, power=2.0, norm=None, mel_scale="htk",
    )(wav)
    ref = torch.log(mel.clamp(min=opts.log_floor)).T
    assert ref.shape[0] == int(n[0])
    torch.testing.assert_close(ours[0], ref, rtol=1e-3, atol=1e-3)


def test_fbank_runs_on_cuda_when_present():
    if not torch.cuda.is_available():
        pytest.skip("no GPU")
    wavs = torch.rand(2, 4000, device="cuda")
    feats, lens = compute_fbank(wavs, torch.tensor([4000, 1000], device="cuda"))
    cpu, _ = compute_fbank(wavs.cpu(), torch.tensor([4000, 1000]))
    assert feats.device.type == "cuda"
    torch.testing.assert_close(feats.cpu(), cpu, rtol=1e-3, atol=1e-3)
