"""The end-to-end listener: shapes and padding of the record selector, that it learns to pick the record whose
frames match the question's, and its run round trip through a tiny CTC run's frozen encoder."""

from pathlib import Path

import numpy as np
import pytest
import torch

from polyvox.multimodal.spoken_qa import (RecordSelector, answer_from_speech, is_selector, load_selector,
                                          predict_records, selector_collate, selector_logits, train_selector)
from polyvox.train.config import TrainConfig
from tests.recipes.test_asr_recipe import trained_run  # noqa: F401 (a module-scoped fixture: a tiny ASR run)


def _items(n, seed, dim=8, k=3):
    """Question = noise frames + the frames of one "name"; each record = its own name + a value: the answer is the
    record whose name the question contains."""
    g = torch.Generator().manual_seed(seed)
    names = torch.randn(12, 5, dim, generator=g)
    out = []
    for _ in range(n):
        ids = torch.randperm(12, generator=g)[:k]
        target = int(torch.randint(k, (1,), generator=g))
        q = torch.cat([torch.randn(6, dim, generator=g), names[ids[target]] + 0.1 * torch.randn(5, dim, generator=g)])
        recs = [torch.cat([names[i] + 0.1 * torch.randn(5, dim, generator=g), torch.randn(3, dim, generator=g)])
                for i in ids]
        out.append((q, recs, target))
    return out


def test_collate_pads_and_masks_missing_records():
    items = _items(2, 0)
    items[1] = (items[1][0][:4], items[1][1][:2], 1)  # fewer records, shorter question
    b = selector_collate(items)
    assert b["q"].shape == (2, 11, 8) and b["r"].shape == (2, 3, 8, 8)
    assert b["q_lens"].tolist() == [11, 4] and b["r_lens"].tolist() == [[8, 8, 8], [8, 8, 0]]
    logits = selector_logits(RecordSelector(8, 16), b)
    assert logits.shape == (2, 3) and torch.isinf(logits[1, 2]) and torch.isfinite(logits[0]).all()


def test_the_selector_learns_term_matching(tmp_path):
    train, dev, test = _items(256, 1), _items(32, 2), _items(64, 3)
    cfg = TrainConfig(max_steps=80, lr=3e-3, warmup_steps=5, eval_every=80, log_every=40, seed=0)
    model = train_selector(8, 16, cfg, train, dev, tmp_path / "sel", tmp_path / "asr", batch_size=32)
    acc = np.mean([int(p.argmax()) == y for p, (_, _, y) in zip(predict_records(model, test), test)])
    assert acc > 0.8  # chance: 1 in 3
    assert is_selector(tmp_path / "sel")
    with pytest.raises(FileNotFoundError, match="asr_run .* does not exist"):
        load_selector(tmp_path / "sel")  # the encoder's run is part of the run


@pytest.mark.slow
def test_selector_run_hears_audio_through_a_ctc_run(trained_run, tmp_path):  # noqa: F811
    from polyvox.multimodal.spoken_qa import save_selector
    from polyvox.speech.asr.run import load_run

    dim = int(load_run(trained_run).model.hidden_size)
    save_selector(tmp_path / "sel", RecordSelector(dim, 16), trained_run)
    run = load_selector(tmp_path / "sel")
    sr = 16000
    tone = (0.3 * np.sin(np.arange(sr // 2) * 0.2)).astype(np.float32)
    context = np.concatenate([tone, np.zeros(sr // 2, np.float32), tone, np.zeros(sr // 2, np.float32), tone])
    out = answer_from_speech(run, tone, [context])
    assert len(out["probs"]) == 3 and len(out["segments"]) == 3 and 0 <= out["index"] < 3
    assert sum(out["probs"]) == pytest.approx(1.0, abs=1e-5)
    out = answer_from_speech(run, tone, [tone, tone])  # records given one by one
    assert out["segments"] is None and len(out["probs"]) == 2


def _bursts(tmp_path, spans, total_s=3.0, sr=16000):
    """A wav of tones at the given (start, end) seconds, silence between: a context read with pauses."""
    from polyvox.data.audio import save_audio

    wav = np.zeros(int(total_s * sr), dtype=np.float32)
    for a, b in spans:
        t = np.arange(int(a * sr), int(b * sr))
        wav[t] = 0.3 * np.sin(2 * np.pi * 220 * t / sr)
    return str(save_audio(tmp_path / "wav" / "test" / "0_0.wav", wav, sr))


def test_segment_contexts_cuts_at_pauses_and_finds_the_answering_piece(tmp_path, monkeypatch):
    from polyvox.data.corpora.qa import QAItem
    from polyvox.data.manifest import Utterance
    from polyvox.multimodal.spoken_qa import segment_contexts
    from polyvox.speech.asr import align

    audio = _bursts(tmp_path, [(0.2, 0.9), (1.5, 2.2)])
    context = "france pays euros. japan pays yen."
    # the aligner's word times: the first sentence in the first burst, the second in the second; "." has no time
    times = [(0.2, 0.4), (0.4, 0.6), (0.6, 0.9), (1.5, 1.8), (1.8, 2.0), (2.0, 2.2)]
    monkeypatch.setattr(align, "word_times", lambda run, wav, words, sr: times[:len(words)])
    q = Utterance(id="q1", audio="", duration=0.0, sample_rate=16000, language="en", text="What does Japan pay?")
    item = QAItem("q1", "en", q, "yen", context_text=context, context_audio=audio, answer_start=context.index("yen"))
    missing = QAItem("q2", "en", q, "yen", context_text=context, answer_start=0)
    (cut,), left_out = segment_contexts([item, missing], None, tmp_path / "pieces")
    assert [r.text for r in cut.records] == ["france pays euros.", "japan pays yen."]
    assert cut.answer_index == 1 and cut.context_text == context  # the text systems keep the written context
    assert left_out == [("q2", "no spoken context")]
    assert all(Path(r.audio).exists() and 0.7 < r.duration < 1.2 for r in cut.records)
    assert cut.records[0].id == "context-test-0_0-p0"
