"""polyvox.data.audio: every bad input is an AudioError naming the file and the reason."""

import io

import numpy as np
import pytest
import soundfile as sf

from polyvox.data.audio import (
    AudioError,
    audio_info,
    load_audio,
    load_audio_bytes,
    resample,
    save_audio,
)


def tone(seconds=1.0, sr=16000, freq=220.0, amp=0.5):
    t = np.arange(int(seconds * sr)) / sr
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def expect_error(path, reason_part, **kw):
    with pytest.raises(AudioError) as e:
        load_audio(path, **kw)
    assert str(path) in str(e.value)
    assert reason_part in str(e.value)
    assert e.value.path == str(path)
    assert reason_part in e.value.reason
    return e.value


def test_good_wav_round_trip(tmp_path):
    x = tone(0.5)
    p = save_audio(tmp_path / "sub" / "a.wav", x)
    wav, dur = load_audio(p)
    assert wav.dtype == np.float32 and wav.shape == (8000,)
    assert dur == pytest.approx(0.5)
    assert np.abs(wav - x).max() < 1e-3  # 16-bit PCM
    info = audio_info(p)
    assert (info.sample_rate, info.frames, info.channels, info.duration) == (16000, 8000, 1, 0.5)
    assert not list(tmp_path.glob("sub/*.part"))  # atomic write leaves no temp file


def test_missing_file(tmp_path):
    expect_error(tmp_path / "nope.wav", "file not found")
    with pytest.raises(AudioError, match="file not found"):
        audio_info(tmp_path / "nope.wav")


def test_directory(tmp_path):
    expect_error(tmp_path, "is a directory")


def test_empty_file(tmp_path):
    p = tmp_path / "empty.wav"
    p.write_bytes(b"")
    expect_error(p, "empty file (0 bytes)")
    with pytest.raises(AudioError, match="0 bytes"):
        audio_info(p)


def test_truncated_header(tmp_path):
    p = tmp_path / "trunc.wav"
    save_audio(p, tone(0.2))
    p.write_bytes(p.read_bytes()[:20])
    expect_error(p, "truncated WAV header (20 bytes")
    with pytest.raises(AudioError, match="truncated WAV header"):
        audio_info(p)


def test_text_named_wav(tmp_path):
    p = tmp_path / "notes.wav"
    p.write_text("this is a transcript, not audio\n")
    expect_error(p, "not an audio file: it contains text")


def test_binary_garbage(tmp_path):
    p = tmp_path / "garbage.wav"
    p.write_bytes(bytes(range(256)) * 4)
    expect_error(p, "cannot decode audio")


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_nan_inf_samples(tmp_path, bad):
    x = tone(0.2)
    x[100:103] = bad
    p = tmp_path / "nan.wav"
    sf.write(p, x, 16000, subtype="FLOAT")
    expect_error(p, "3 NaN/inf sample(s)")


def test_silence_only(tmp_path):
    p = save_audio(tmp_path / "silence.wav", np.zeros(16000, np.float32))
    expect_error(p, "silence only")
    wav, dur = load_audio(p, allow_silence=True)
    assert dur == 1.0 and not wav.any()


def test_other_sample_rate_is_resampled(tmp_path):
    p = tmp_path / "22k.wav"
    sf.write(p, tone(1.0, sr=22050), 22050)
    wav, dur = load_audio(p)
    assert wav.shape == (16000,) and dur == pytest.approx(1.0)
    assert audio_info(p).sample_rate == 22050  # the header still tells the truth
    wav8, _ = load_audio(p, sample_rate=8000)
    assert wav8.shape == (8000,)
    # the tone survives resampling: same peak frequency
    spec = np.abs(np.fft.rfft(wav))
    assert abs(np.argmax(spec) * 16000 / len(wav) - 220.0) < 2


def test_multichannel_mixed_to_mono(tmp_path):
    left = tone(0.5, amp=0.6)
    stereo = np.stack([left, np.zeros_like(left)], axis=1)
    p = tmp_path / "stereo.wav"
    sf.write(p, stereo, 16000, subtype="FLOAT")
    assert audio_info(p).channels == 2
    wav, _ = load_audio(p)
    assert wav.ndim == 1 and wav.shape == (8000,)
    np.testing.assert_allclose(wav, left / 2, atol=1e-6)


def test_duration_disagrees_with_expected(tmp_path):
    p = save_audio(tmp_path / "a.wav", tone(1.0))
    err = expect_error(p, "duration 1.000 s disagrees with the manifest's 1.500 s", expected_duration=1.5)
    assert "tolerance 0.1" in err.reason
    _, dur = load_audio(p, expected_duration=1.05)  # within tolerance
    assert dur == 1.0
    load_audio(p, expected_duration=1.5, duration_tolerance=0.6)


def test_mp3_decodes(tmp_path):
    p = tmp_path / "clip.mp3"
    sf.write(p, tone(0.5, sr=48000), 48000, format="MP3")
    info = audio_info(p)
    assert info.sample_rate == 48000 and info.format == "MP3"
    wav, dur = load_audio(p)
    assert abs(dur - 0.5) < 0.06 and np.abs(wav).max() > 0.1


def test_resample_identity_and_shape():
    x = tone(0.1)
    assert resample(x, 16000, 16000) is x
    assert resample(x, 16000, 8000).shape == (800,)


def _wav_bytes(x, sr, **kw):
    buf = io.BytesIO()
    sf.write(buf, x, sr, format="WAV", **kw)
    return buf.getvalue()


def test_load_audio_bytes_same_contract():
    wav, dur = load_audio_bytes(_wav_bytes(tone(1.0, sr=8000), 8000), name="row 3")
    assert wav.shape == (16000,) and dur == 1.0
    cases = [
        (b"", "empty audio bytes"),
        (b"hello, not audio at all", "not audio: the bytes are text"),
        (bytes(range(256)), "cannot decode audio bytes"),
        (_wav_bytes(np.zeros(1600, np.float32), 16000), "silence only"),
        (_wav_bytes(np.full(1600, np.nan, np.float32), 16000, subtype="FLOAT"), "NaN/inf"),
    ]
    for data, reason in cases:
        with pytest.raises(AudioError) as e:
            load_audio_bytes(data, name="ds[train] row 3")
        assert str(e.value).startswith("ds[train] row 3: ") and reason in str(e.value)
    with pytest.raises(AudioError, match="disagrees"):
        load_audio_bytes(_wav_bytes(tone(1.0), 16000), expected_duration=2.0)


def test_speech_segments_split_at_long_pauses_only():
    from polyvox.data.audio import speech_segments

    sr = 16000
    tone = lambda s: 0.3 * np.sin(np.arange(int(s * sr)) * 0.1).astype(np.float32)  # noqa: E731
    quiet = lambda s: np.zeros(int(s * sr), dtype=np.float32)  # noqa: E731
    wav = np.concatenate([tone(0.5), quiet(0.2), tone(0.4), quiet(0.6), tone(0.3), quiet(0.1)])
    segs = speech_segments(wav, sr)
    assert len(segs) == 2  # the 0.2 s pause (a comma) stays inside the first stretch
    assert segs[0][0] == 0.0 and abs(segs[0][1] - 1.1) < 0.03 and abs(segs[1][0] - 1.7) < 0.03
    assert speech_segments(quiet(0.01), sr) == [] and speech_segments(np.zeros(0, np.float32), sr) == []
