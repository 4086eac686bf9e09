"""Speed perturbation: lengths, padding, pitch, the factor draw, and the config check."""

import math

import pytest
import torch

from polyvox.data.augment import check_speed_factors, speed_perturb

SR = 16000


def tone(freq: float, seconds: float) -> torch.Tensor:
    t = torch.arange(int(seconds * SR)) / SR
    return torch.sin(2 * math.pi * freq * t)


def peak_hz(wav: torch.Tensor) -> float:
    spec = torch.fft.rfft(wav).abs()
    return float(spec.argmax()) * SR / wav.numel()


def test_no_factors_is_the_identity():
    wavs, lens = torch.randn(2, 100), torch.tensor([100, 50])
    out, out_lens, factor = speed_perturb(wavs, lens, [])
    assert out is wavs and out_lens is lens and factor == 1.0


def test_faster_batch_is_shorter_higher_and_keeps_padding_silent():
    wavs = torch.zeros(2, SR)
    wavs[0] = tone(440.0, 1.0)
    wavs[1, : SR // 2] = tone(440.0, 0.5)
    lens = torch.tensor([SR, SR // 2])
    out, out_lens, factor = speed_perturb(wavs, lens, [1.1])
    assert factor == 1.1
    assert out_lens.tolist() == [math.ceil(SR / 1.1), math.ceil(SR / 2 / 1.1)]
    assert out.shape[1] >= int(out_lens.max())
    assert out[1, int(out_lens[1]):].abs().max() == 0  # padding stays exactly zero
    assert peak_hz(out[0, : int(out_lens[0])]) == pytest.approx(484.0, abs=3.0)  # pitch moves with tempo


def test_slower_factor_lengthens():
    out, out_lens, _ = speed_perturb(torch.randn(1, 9000), torch.tensor([9000]), [0.9])
    assert out_lens.tolist() == [10000] and out.shape == (1, 10000)


def test_draw_follows_the_generator_and_covers_every_factor():
    draws = [speed_perturb(torch.randn(1, 160), torch.tensor([160]), [0.9, 1.0, 1.1],
                           generator=torch.Generator().manual_seed(s))[2] for s in range(30)]
    again = [speed_perturb(torch.randn(1, 160), torch.tensor([160]), [0.9, 1.0, 1.1],
                           generator=torch.Generator().manual_seed(s))[2] for s in range(30)]
    assert draws == again and set(draws) == {0.9, 1.0, 1.1}


def test_bad_factor_names_the_field():
    check_speed_factors([0.9, 1.0, 1.1])
    with pytest.raises(ValueError, match=r"data.speed_perturb.*\[3.0\]"):
        check_speed_factors([1.0, 3.0])
