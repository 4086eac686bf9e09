"""DNSMOS through speechmos's shipped ONNX models: real speech rates above noise, the scores are MOS-shaped, the
sample rate is handled, and a clip with nothing to rate is refused."""

import subprocess

import numpy as np
import pytest

from polyvox.data.audio import load_audio
from polyvox.eval.quality import dnsmos


@pytest.fixture(scope="module")
def speech(tmp_path_factory):
    wav = tmp_path_factory.mktemp("dnsmos") / "speech.wav"
    subprocess.run(["espeak-ng", "-v", "en", "-w", str(wav), "the quick brown fox jumps over the lazy dog"], check=True)
    return load_audio(wav, 16000)[0]


def test_speech_rates_above_noise_and_scores_are_mos(speech):
    clean = dnsmos(speech)
    noise = dnsmos(np.random.default_rng(0).uniform(-0.5, 0.5, 32000).astype(np.float32))
    assert set(clean) == {"ovrl", "sig", "bak", "p808"}
    assert all(1.0 <= v <= 5.0 for v in (*clean.values(), *noise.values()))
    assert clean["ovrl"] > noise["ovrl"] + 0.5 and clean["bak"] > noise["bak"] + 0.5
    noisy = speech + np.random.default_rng(1).normal(0, 0.05, speech.shape).astype(np.float32)
    assert dnsmos(noisy)["bak"] < clean["bak"]  # added noise lowers the background score


def test_other_rates_are_resampled_and_silence_is_refused(speech):
    from polyvox.data.audio import resample

    at_22k = resample(speech, 16000, 22050)
    assert abs(dnsmos(at_22k, 22050)["ovrl"] - dnsmos(speech)["ovrl"]) < 0.3
    assert dnsmos(2.0 * speech)["ovrl"] > 1.0  # out-of-range samples are clipped, not an error
    with pytest.raises(ValueError, match="a silent clip"):
        dnsmos(np.zeros(16000, dtype=np.float32))
    with pytest.raises(ValueError, match="an empty clip"):
        dnsmos(np.zeros(0, dtype=np.float32))
