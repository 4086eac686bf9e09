"""CTC forced alignment of a transcript's words (polyvox.speech.asr.align): on crafted posteriors whose best path is
known, each word gets the frames its characters were emitted in."""

import math

import pytest
import torch

from polyvox.speech.asr.align import align_words, word_tokens
from polyvox.speech.asr.vocab import SPECIALS, Vocab

VOCAB = Vocab(SPECIALS + tuple("abcdeo"))


def _emissions(frames: list[str]) -> torch.Tensor:
    """(F, V) log-probabilities that put almost all mass on the named token per frame ("<pad>" = blank)."""
    lp = torch.full((len(frames), len(VOCAB)), math.log(1e-4))
    for t, tok in enumerate(frames):
        lp[t, VOCAB.encode([tok])[0]] = math.log(0.99)
    return lp.log_softmax(-1)


def test_word_tokens_skip_unknown_characters_and_words():
    ids, owner = word_tokens(VOCAB, ["Ab,", "xyz", "c"])
    assert VOCAB.decode(ids) == ["a", "b", "|", "c"]
    assert owner == [0, 0, -1, 2]  # "xyz" has no known character: no tokens, no boundary


def test_each_word_gets_the_frames_its_characters_were_emitted_in():
    frames = ["<pad>", "a", "b", "<pad>", "|", "<pad>", "<pad>", "c", "o", "<pad>"]
    times = align_words(_emissions(frames), VOCAB, ["ab", "zz", "co"], frame_s=0.04)
    assert times[0] == pytest.approx((0.04, 0.12))  # a at frame 1, b ends at frame 3
    assert times[1] is None
    assert times[2] == pytest.approx((0.28, 0.36))


def test_a_transcript_longer_than_the_clip_is_refused():
    with pytest.raises(ValueError, match="more than the clip's 3 frames"):
        align_words(_emissions(["a", "b", "c"]), VOCAB, ["abc", "de"], frame_s=0.04)
