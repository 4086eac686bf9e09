"""Augmentation: speed perturbation (lengths, padding, pitch, the factor draw, the config check) and the
per-utterance acoustic effects (what each does to a signal, seeding per utterance and epoch, config errors)."""

import math
import warnings

import pytest
import torch

import numpy as np

from polyvox.data import augment as A
from polyvox.data.augment import AugmentConfig, Augmenter, check_speed_factors, speed_perturb

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


# --------------------------------------------------------------------------- per-utterance acoustic effects


def band_energy(wav: torch.Tensor, lo: float, hi: float) -> float:
    spec = torch.fft.rfft(wav).abs().pow(2)
    freqs = torch.arange(spec.numel()) * SR / wav.numel()
    return float(spec[(freqs >= lo) & (freqs < hi)].sum())


def db(x: float) -> float:
    return 10 * math.log10(max(x, 1e-20))


def speechlike(seconds: float = 1.0, seed: int = 0) -> torch.Tensor:
    """A 120 Hz pulse train through two resonances, plus a little noise: a crude voiced vowel."""
    g = torch.Generator().manual_seed(seed)
    n = int(seconds * SR)
    x = torch.zeros(n)
    x[:: SR // 120] = 1.0
    x = A.AF.lowpass_biquad(x, SR, 2500.0) + 0.01 * torch.randn(n, generator=g)
    return x / x.abs().max() * 0.5


def test_pitch_shift_moves_a_tone_and_keeps_the_length():
    out = A.pitch_shift(tone(200, 1.0), 12.0, SR)
    assert out.shape == (SR,)
    assert abs(peak_hz(out) - 400) < 10
    assert A.pitch_shift(tone(200, 1.0), 0.0, SR).equal(tone(200, 1.0))


def test_vtlp_scales_frequencies_below_the_knee():
    out = A.vtlp(tone(1000, 1.0), 1.1, SR)
    assert out.shape == (SR,)
    assert abs(peak_hz(out) - 1100) < 32  # one STFT bin (512 points at 16 kHz)
    assert abs(peak_hz(A.vtlp(tone(1000, 1.0), 0.9, SR)) - 900) < 32


def test_telephone_removes_what_a_phone_line_cannot_carry():
    wav = tone(150, 1.0) + tone(1000, 1.0) + tone(6000, 1.0)
    out = A.telephone(wav, SR)
    assert out.shape == wav.shape
    # 1 kHz passes; 6 kHz (above the 4 kHz Nyquist of 8 kHz sampling) is gone, 150 Hz is attenuated
    assert db(band_energy(out, 900, 1100)) - db(band_energy(wav, 900, 1100)) > -3
    assert db(band_energy(out, 5900, 6100)) - db(band_energy(wav, 5900, 6100)) < -40
    assert db(band_energy(out, 100, 200)) - db(band_energy(wav, 100, 200)) < -6


def test_noise_is_mixed_at_the_requested_snr():
    wav = speechlike()
    noise = A.colored_noise(wav.numel(), "white", np.random.default_rng(0))
    out = A.add_noise(wav, noise, 10.0)
    snr = db(float(wav.pow(2).sum())) - db(float((out - wav).pow(2).sum()))
    assert abs(snr - 10.0) < 0.1


def test_noise_colors_tilt_the_spectrum():
    rng = np.random.default_rng(0)
    tilt = {}
    for color in ("white", "pink", "brown"):
        n = A.colored_noise(SR, color, rng)
        assert abs(float(n.pow(2).mean()) - 1) < 1e-3  # unit RMS
        tilt[color] = db(band_energy(n, 4000, 8000)) - db(band_energy(n, 100, 500))
    assert tilt["white"] > tilt["pink"] + 5 > tilt["brown"] + 10
    with pytest.raises(ValueError, match="noise color"):
        A.colored_noise(10, "purple", rng)


def test_noise_excerpts_come_from_a_cached_bank_and_wrap_around():
    bank = A.noise_bank(0, "pink")
    assert bank is A.noise_bank(0, "pink") and len(bank) == A.NOISE_BANK_SECONDS * SR  # built once per process
    assert not torch.equal(bank, A.noise_bank(1, "pink"))  # seeded
    one = A.noise_excerpt(bank, 4000, np.random.default_rng(5))
    assert torch.equal(one, A.noise_excerpt(bank, 4000, np.random.default_rng(5)))  # a pure function of the rng
    assert not torch.equal(one, A.noise_excerpt(bank, 4000, np.random.default_rng(6)))
    assert abs(float(one.pow(2).mean()) - 1) < 1e-3  # unit RMS
    long = A.noise_excerpt(bank[:1000], 2500, np.random.default_rng(0))  # longer than the bank: read circularly
    assert long.shape == (2500,) and torch.isfinite(long).all()


def test_room_impulse_response_decays_by_its_rt60():
    rir = A.room_impulse_response(0.5, np.random.default_rng(0), SR)
    direct = int(rir.abs().argmax())
    assert float(rir[direct]) == pytest.approx(1.0)
    energy = rir[direct:].pow(2)
    early = float(energy[: SR // 20].sum())  # first 50 ms
    late = float(energy[int(0.45 * SR):].sum())  # around rt60: the tail has fallen by ~55 dB or more
    assert db(late) - db(early) < -35
    assert float(energy[SR // 20: SR // 5].sum()) > 0  # but there is a reverberant tail


def test_reverberation_smears_an_impulse_and_keeps_level_and_length():
    wav = torch.zeros(SR)
    wav[1000] = 1.0
    rir = A.rir_bank(0, 0.4, 0.4, SR, 1)[0]
    out = A.reverberate(wav, rir)
    assert out.shape == wav.shape
    assert int(out.abs().argmax()) == 1000  # aligned on the direct path
    assert float((out.abs() > 1e-3).sum()) > 100  # energy spread over the tail
    assert float(out.pow(2).mean().sqrt()) == pytest.approx(float(wav.pow(2).mean().sqrt()), rel=1e-4)


@pytest.mark.parametrize("n", [300, 5000, 40000])
def test_block_convolution_equals_scipys_fftconvolve(n):
    from scipy.signal import fftconvolve

    wav = torch.randn(n, generator=torch.Generator().manual_seed(n)) * 0.1
    bank, spectra = A.rir_bank(0, 0.2, 0.7, SR, 3), A.rir_bank_spectra(0, 0.2, 0.7, SR, 3)
    for rir, spectrum in zip(bank, spectra):  # short and long rooms, a clip shorter than one block and many blocks
        direct = int(rir.abs().argmax())
        ref = torch.from_numpy(fftconvolve(wav.numpy(), rir.numpy())[direct: direct + n].astype(np.float32))
        ref = ref * (wav.pow(2).mean().sqrt() / ref.pow(2).mean().sqrt())
        for out in (A.reverberate(wav, rir, spectrum), A.reverberate(wav, rir)):
            assert out.shape == wav.shape and torch.allclose(out, ref, atol=1e-6)


@pytest.mark.parametrize("n_fft,hop,frames,length", [(512, 128, 282, 36000), (512, 128, 5, 700), (256, 64, 40, 3000),
                                                     (512, 128, 20, 4000)])  # the last: longer than the frames
def test_overlap_add_istft_equals_torch_istft(n_fft, hop, frames, length):
    g = torch.Generator().manual_seed(frames)
    spec = torch.randn(n_fft // 2 + 1, frames, dtype=torch.complex64, generator=g)  # any spectrum, not only an STFT's
    window = torch.hann_window(n_fft)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch warns when it pads past the last frame
        ref = torch.istft(spec, n_fft, hop, window=window, length=length)
    out = A.overlap_add_istft(spec, n_fft, hop, window, length)
    assert out.shape == ref.shape and torch.allclose(out, ref, atol=1e-6)
    with pytest.raises(ValueError, match="hop .100. to divide n_fft .512."):
        A.overlap_add_istft(spec, 512, 100, torch.hann_window(512), length)


def test_pole_radius_matches_numpys_roots():
    rng = np.random.default_rng(0)
    for _ in range(200):  # complex pairs and real poles, stable and not
        a = np.array([1.0, *rng.uniform(-2.5, 2.5, 2)])
        assert A._pole_radius(a) == pytest.approx(np.abs(np.roots(a)).max(), rel=1e-9)


def test_quantize_and_eq_change_the_signal_but_not_its_length():
    wav = speechlike()
    q = A.quantize(wav, 4)
    assert q.shape == wav.shape and len(torch.unique(q)) <= 16 and not q.equal(wav)
    eq = A.random_eq(wav, np.random.default_rng(1), 3, 10.0, SR)
    assert eq.shape == wav.shape and not torch.allclose(eq, wav, atol=1e-3)


ALL_ON = AugmentConfig(vtlp_prob=1, pitch_prob=1, eq_prob=1, reverb_prob=1, telephone_prob=1, codec_prob=1,
                       noise_prob=1)


def test_augmenter_is_a_pure_function_of_seed_utterance_and_epoch():
    wav = speechlike()
    aug = Augmenter(ALL_ON, seed=3)
    first = aug(wav, "utt-1", epoch=0)
    assert first.shape == wav.shape and torch.isfinite(first).all() and float(first.abs().max()) < 1.0
    assert first.equal(Augmenter(ALL_ON, seed=3)(wav, "utt-1", epoch=0))  # another process, same audio
    assert not first.equal(aug(wav, "utt-1", epoch=1))
    assert not first.equal(aug(wav, "utt-2", epoch=0))
    assert not first.equal(Augmenter(ALL_ON, seed=4)(wav, "utt-1", epoch=0))


def test_augmenter_off_is_the_identity_and_probabilities_are_respected():
    wav = speechlike()
    assert not AugmentConfig().enabled
    assert Augmenter(AugmentConfig())(wav, "a", 0).equal(wav)
    aug = Augmenter(AugmentConfig(noise_prob=0.5))
    changed = sum(not aug(wav, f"u{i}", 0).equal(wav) for i in range(200))
    assert 70 < changed < 130


def test_noise_dir_mixes_the_users_recordings(tmp_path):
    from polyvox.data.audio import save_audio

    hum = tone(50, 0.3).numpy() * 0.1  # shorter than the utterance: tiled
    save_audio(tmp_path / "hum.wav", hum, SR)
    out = Augmenter(AugmentConfig(noise_prob=1, snr_db=[0, 0], noise_dir=str(tmp_path)))(tone(1000, 1.0), "a", 0)
    assert db(band_energy(out, 45, 55)) > db(band_energy(tone(1000, 1.0), 45, 55)) + 30
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ValueError, match="no .wav"):
        Augmenter(AugmentConfig(noise_prob=1, noise_dir=str(empty)))(tone(1000, 1.0), "a", 0)


@pytest.mark.parametrize("kwargs, match", [
    ({"noise_prob": 1.5}, "noise_prob must lie in"),
    ({"snr_db": [30, 5]}, "snr_db must be"),
    ({"rt60": [0.01, 0.2]}, "rt60 must lie"),
    ({"codec_bits": [1, 9]}, "codec_bits must lie"),
    ({"vtlp_alpha": [0.5, 1.1]}, "vtlp_alpha must lie"),
    ({"noise_colors": ["purple"]}, "noise_colors"),
    ({"noise_dir": "/no/such/folder"}, "not a folder"),
])
def test_bad_augment_config_names_the_field(kwargs, match):
    with pytest.raises(ValueError, match=match):
        AugmentConfig(**kwargs)


def test_recipe_config_error_names_the_section(tmp_path):
    from polyvox.speech.asr.config import AsrConfig
    from polyvox.train.config import ConfigError, load_config

    with pytest.raises(ConfigError, match=r"data\.augment.*reverb_prob must lie in \[0, 1\]"):
        load_config(AsrConfig, None, ["data.augment.reverb_prob=2"])


def test_eq_stays_stable_for_every_draw():
    # a resonator band wider than its centre allows is unstable (seen: overflow to inf, then NaN losses)
    wav = speechlike(0.5)
    for seed in range(300):
        out = A.random_eq(wav, np.random.default_rng(seed), 3, 12.0, SR)
        assert torch.isfinite(out).all() and float(out.abs().max()) < 50, seed


def test_augmenter_never_returns_non_finite_audio(monkeypatch):
    monkeypatch.setattr(A, "quantize", lambda wav, bits: wav * float("nan"))
    wav = speechlike(0.5)
    assert Augmenter(AugmentConfig(codec_prob=1))(wav, "a", 0).equal(wav)
