"""TTS speech for ASR training: rows with the corpus's phonemes in the voices of the references, kept on a rerun,
and added to an ASR run's training split after its few-shot cut."""

import numpy as np
import pytest
import torch

from polyvox.data.audio import save_audio
from polyvox.data.manifest import Utterance, read_manifest, write_manifest
from polyvox.data.synth.corpus import corpus_phonemes


@pytest.fixture(scope="module")
def tiny_tts(tmp_path_factory):
    """An untrained tiny TTS run that knows every phone of English (it speaks noise, in shape)."""
    from polyvox.speech.asr.vocab import build_vocab, phonemes_to_tokens
    from polyvox.speech.tts import task
    from polyvox.speech.tts.config import TtsConfig, TtsModelConfig
    from polyvox.speech.tts.run import save_run_files

    from polyvox.data.synth.words import make_text

    root = tmp_path_factory.mktemp("tts")
    phones = [phonemes_to_tokens(corpus_phonemes(make_text("en", 1000, i), "en")) for i in range(60)]
    cfg = TtsConfig(model=TtsModelConfig(d_model=32, encoder_layers=1, decoder_layers=1, ffn_dim=64, conv_kernel=3,
                                         reference_channels=16, speaker_dim=16, duration_channels=16))
    vocab = build_vocab(phones)
    torch.manual_seed(0)
    save_run_files(root, cfg, vocab, ["en"], task.build_model(cfg, vocab, ["en"]))
    return root


def references(tmp_path, n=2):
    rows = []
    for i in range(n):
        path = save_audio(tmp_path / f"ref{i}.wav", (0.3 * np.sin(np.arange(24000) / (5 + i))).astype(np.float32))
        rows.append(Utterance(id=f"ref{i}", audio=str(path), duration=1.5, sample_rate=16000, language="es",
                              speaker=f"spk{i}"))
    return rows


def test_tts_corpus_rows_voices_and_rerun(tiny_tts, tmp_path):
    from polyvox.speech.tts.augment import synthesize_tts_corpus

    manifest = synthesize_tts_corpus(tiny_tts, "en", 3, references(tmp_path), tmp_path / "aug", seed=1000)
    rows = read_manifest(manifest)
    assert len(rows) == 3 and {r.speaker for r in rows} == {"tts:spk0", "tts:spk1"}
    for r in rows:
        assert r.phonemes == corpus_phonemes(r.text, "en") and r.custom["engine"] == "polyvox-tts"
        assert r.duration > 0 and r.language == "en"
    before = {r.id: (tmp_path / "aug" / "wavs" / f"{r.id}.wav").stat().st_mtime_ns for r in rows}
    again = read_manifest(synthesize_tts_corpus(tiny_tts, "en", 3, references(tmp_path), tmp_path / "aug"))
    assert [r.id for r in again] == [r.id for r in rows]
    assert all((tmp_path / "aug" / "wavs" / f"{i}.wav").stat().st_mtime_ns == t for i, t in before.items())
    with pytest.raises(ValueError, match="no reference clips"):
        synthesize_tts_corpus(tiny_tts, "en", 1, [], tmp_path / "none")


def test_asr_adds_extra_rows_after_the_fewshot_cut(tiny_corpus, tmp_path):
    from polyvox.speech.asr.config import DataConfig
    from polyvox.speech.asr.task import load_splits

    real = read_manifest(tiny_corpus["train"])
    extra = [u.with_(id=f"x-{u.id}", speaker="tts:x") for u in real if u.language == "en"][:5]
    write_manifest(tmp_path / "extra.jsonl", extra)
    base = dict(train_manifests=[str(tiny_corpus["train"])], dev_manifests=[str(tiny_corpus["dev"])],
                test_manifests=[str(tiny_corpus["test"])], train_langs=["en"], fewshot_minutes=0.05)
    cut = load_splits(DataConfig(**base))["train"]
    both = load_splits(DataConfig(**base, extra_train_manifests=[str(tmp_path / "extra.jsonl")]))["train"]
    assert [u.id for u in both] == [u.id for u in cut] + [u.id for u in extra]
