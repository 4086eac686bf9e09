"""Unit tests of the CTC recipe's pieces: vocabulary, metrics, CTC helpers, decoding, models."""

import dataclasses
import math

import pytest
import torch

from polyvox.data.manifest import Utterance
from polyvox.eval import error_rates as metrics
from polyvox.speech import ctc
from polyvox.speech.asr import decoding
from polyvox.speech.asr import model as models
from polyvox.speech.asr.vocab import (
    Vocab,
    build_vocab,
    normalize_text,
    phonemes_to_tokens,
    text_to_tokens,
    tokens_to_text,
    utterance_tokens,
    vocab_from_utterances,
)


def utt(i, lang="en", text="", phonemes=""):
    return Utterance(id=f"u{i}", audio=f"/x/{i}.wav", duration=1.0, sample_rate=16000, language=lang,
                     text=text, phonemes=phonemes)


# ---------------------------------------------------------------- vocabulary


def test_normalize_text_and_char_tokens():
    assert normalize_text("  Hello, World!  It's  'ok' -- fine.") == "hello world it's ok fine"
    assert normalize_text("Ça   VA?") == "ça va"
    assert text_to_tokens("Hi, you") == ["h", "i", "|", "y", "o", "u"]


def test_phoneme_tokens_drop_edge_and_double_boundaries():
    assert phonemes_to_tokens("| h ə | | l oʊ |") == ["h", "ə", "|", "l", "oʊ"]
    assert tokens_to_text(["h", "ə", "|", "l", "oʊ"], "phoneme") == "h ə | l oʊ"
    assert tokens_to_text(["<pad>", "h", "i", "|", "<unk>", "y", "o"], "char") == "hi <unk>yo"


def test_vocab_shared_across_languages_roundtrip(tmp_path):
    utts = [utt(0, "en", phonemes="h ə | l oʊ"), utt(1, "es", phonemes="o l a | t͡ʃ e")]
    v = vocab_from_utterances(utts, "phoneme")
    assert v.tokens[:3] == ("<pad>", "<unk>", "|")
    assert set(v.tokens[3:]) == {"h", "ə", "l", "oʊ", "o", "a", "t͡ʃ", "e"}
    assert v.encode(["t͡ʃ", "zz"]) == [v.tokens.index("t͡ʃ"), 1]
    path = v.save(tmp_path / "vocab.json")
    assert Vocab.load(path) == v
    bigger = v.extend(["x", "h"])
    assert bigger.tokens[: len(v)] == v.tokens and bigger.tokens[-1] == "x" and len(bigger) == len(v) + 1


def test_vocab_errors_name_the_problem(tmp_path):
    with pytest.raises(ValueError, match="field 'phonemes' is empty"):
        utterance_tokens(utt(3, phonemes=""), "phoneme")
    bad = tmp_path / "v.json"
    bad.write_text('{"<pad>": 0, "<unk>": 1, "|": 3}')
    with pytest.raises(ValueError, match="without gaps"):
        Vocab.load(bad)
    with pytest.raises(ValueError, match="must start with"):
        Vocab(("a", "<pad>", "<unk>", "|"))


def test_min_count_drops_rare_tokens():
    v = build_vocab([["a", "b"], ["a"]], min_count=2)
    assert "a" in v and "b" not in v


# ---------------------------------------------------------------- metrics


def test_error_counts_char_and_phoneme():
    ref, hyp = text_to_tokens("the cat sat"), text_to_tokens("the bat sat down")
    c = metrics.error_counts(ref, hyp, "char")
    assert c["wer"] == (2, 3)  # 1 substitution + 1 insertion over 3 words
    assert c["cer"] == (6, 11)  # b for c, then " down" (5 chars) inserted
    p = metrics.error_counts(["a", "b", "|", "c"], ["a", "|", "c", "d"], "phoneme")
    assert p["per"] == (2, 3)  # boundaries are not scored: a b c vs a c d
    assert p["wer"] == (2, 2)  # words (a b)(c) vs (a)(c d)


def test_summarize_is_corpus_level_per_language():
    rows = [
        {"language": "en", "counts": {"per": (1, 10), "wer": (1, 2)}},
        {"language": "en", "counts": {"per": (0, 30), "wer": (0, 6)}},
        {"language": "es", "counts": {"per": (5, 10), "wer": (2, 2)}},
    ]
    s = metrics.summarize(rows)
    assert s["en"]["per"] == pytest.approx(1 / 40)  # not the mean of 0.1 and 0.0
    assert s["es"]["utterances"] == 1
    assert s["all"]["per"] == pytest.approx(6 / 50)
    table = metrics.results_table(s, seen=["en"])
    assert "| es | no | 1 | 50.00 | 100.00 |" in table
    assert "| mean unseen |" in table and "| mean seen |" in table


# ---------------------------------------------------------------- ctc


def test_collapse_and_greedy():
    assert ctc.collapse([0, 3, 3, 0, 3, 4, 4, 0]) == [3, 3, 4]
    lp = torch.log_softmax(torch.nn.functional.one_hot(torch.tensor([[3, 3, 0, 4, 2], [5, 0, 0, 0, 0]]), 6).float() * 5, -1)
    assert ctc.greedy_ids(lp, torch.tensor([5, 1])) == [[3, 4, 2], [5]]


def test_ctc_loss_prefers_the_right_alignment():
    targets, lens = ctc.pad_targets([[3, 4], [5]])
    assert targets.tolist() == [[3, 4], [5, 0]] and lens.tolist() == [2, 1]
    good = torch.log_softmax(torch.nn.functional.one_hot(torch.tensor([[3, 0, 4, 0], [5, 5, 0, 0]]), 6).float() * 8, -1)
    bad = torch.log_softmax(torch.nn.functional.one_hot(torch.tensor([[4, 0, 3, 0], [3, 3, 0, 0]]), 6).float() * 8, -1)
    out_lens = torch.tensor([4, 4])
    assert ctc.ctc_loss(good, out_lens, targets, lens) < 0.1 < ctc.ctc_loss(bad, out_lens, targets, lens)
    # too few frames for the targets: zero_infinity instead of inf
    assert math.isfinite(ctc.ctc_loss(good[:, :1], torch.tensor([1, 1]), targets, lens).item())


# ---------------------------------------------------------------- decoding


def _frames(vocab, seq, sharp=6.0):
    ids = torch.tensor([vocab.encode([t])[0] if t != "_" else 0 for t in seq])
    return torch.log_softmax(torch.nn.functional.one_hot(ids, len(vocab)).float() * sharp, -1)[None]


def test_greedy_and_beam_agree_on_clear_posteriors():
    v = build_vocab([["a", "b", "t͡ʃ"]])
    lp = _frames(v, ["a", "a", "_", "b", "|", "t͡ʃ", "t͡ʃ"])
    n = torch.tensor([7])
    assert decoding.greedy_decode(lp, n, v) == [["a", "b", "|", "t͡ʃ"]]
    dec = decoding.build_beam_decoder(v)
    assert decoding.beam_decode(dec, lp, n, v, beam_width=8) == [["a", "b", "|", "t͡ʃ"]]


def test_ngram_lm_is_normalized_and_loadable(tmp_path):
    kenlm = pytest.importorskip("kenlm")
    sents = [["a", "b", "c"], ["a", "b", "d"], ["b", "c"], ["c", "a", "b"]]
    path = decoding.build_ngram_lm(sents, 3, tmp_path / "lm.arpa")
    lm = kenlm.Model(str(path))
    assert lm.order == 3
    assert lm.score("a b c") > lm.score("c b a")
    for ctx in (["a", "b"], ["c"], []):  # each context's next-word distribution sums to 1
        total = 0.0
        for w in ["a", "b", "c", "d", "</s>", "<unk>"]:
            st = kenlm.State()
            lm.NullContextWrite(st)
            for c in ctx:
                nxt = kenlm.State()
                lm.BaseScore(st, c, nxt)
                st = nxt
            total += 10 ** lm.BaseScore(st, w, kenlm.State())
        assert total == pytest.approx(1.0, abs=1e-4)


def test_lm_fixes_an_ambiguous_word(tmp_path):
    pytest.importorskip("kenlm")
    v = build_vocab([["a", "b", "c", "d"]])
    # acoustics slightly prefer "d" over "c" in the second word; the LM has only seen "a b c".
    lp = _frames(v, ["a", "_", "|", "b", "c"], sharp=6.0)
    ci, di = v.encode(["c", "d"])
    lp[0, 4, di] = lp[0, 4, ci] + 0.3
    lp = torch.log_softmax(lp, -1)
    assert decoding.greedy_decode(lp, torch.tensor([5]), v) == [["a", "|", "b", "d"]]
    lm = decoding.build_ngram_lm(decoding.lm_sentences([["a", "|", "b", "c"]] * 20, v), 2, tmp_path / "lm.arpa")
    dec = decoding.build_beam_decoder(v, lm, alpha=1.0, beta=0.0)
    assert decoding.beam_decode(dec, lp, torch.tensor([5]), v, beam_width=16) == [["a", "|", "b", "c"]]


def test_posterior_mapping_sums_source_tokens():
    # source: blank, x, y1, y2 ; target: blank, x, y (y1 and y2 are allophones of y)
    lp = torch.log(torch.tensor([[[0.1, 0.2, 0.3, 0.4]]]))
    m = torch.tensor([[1.0, 0, 0], [0, 1.0, 0], [0, 0, 1.0], [0, 0, 1.0]])
    out = decoding.apply_posterior_mapping(lp, m).exp()
    assert out[0, 0].tolist() == pytest.approx([0.1, 0.2, 0.7])
    out_max = decoding.apply_posterior_mapping(lp, m, reduce="max").exp()
    assert out_max[0, 0].tolist() == pytest.approx([0.1 / 0.7, 0.2 / 0.7, 0.4 / 0.7])
    with pytest.raises(ValueError, match="mapping must have shape"):
        decoding.apply_posterior_mapping(lp, m[:3])


# ---------------------------------------------------------------- models


def test_conformer_shapes_lengths_and_padding_invariance():
    torch.manual_seed(0)
    cfg = models.ModelConfig(d_model=32, num_layers=1, num_heads=2, ffn_dim=64, n_mels=40)
    m = models.build_model(cfg, 11).eval()
    wavs = torch.randn(2, 16000) * 0.1
    lens = torch.tensor([16000, 8000])
    lp, out_lens = m(wavs, lens)
    assert lp.shape[0] == 2 and lp.shape[2] == 11
    assert out_lens.tolist() == [23, 11]  # fbank 98 -> 48 -> 23 and 48 -> 23 -> 11 (two 3x3 stride-2 convs)
    assert torch.allclose(lp.exp().sum(-1), torch.ones(lp.shape[:2]), atol=1e-4)
    alone, _ = m(wavs[1:, :8000], lens[1:])  # the short utterance alone = inside the padded batch,
    # away from its end (the Conformer's depthwise convolution, 15 frames wide, sees the padding)
    assert torch.allclose(alone[0, :4], lp[1, :4], atol=1e-4)
    assert alone.shape[1] == 11


def test_subsampling_channels_set_the_front_end_width():
    cfg = models.ModelConfig(d_model=32, num_layers=1, num_heads=2, ffn_dim=64, n_mels=40, subsampling_channels=8)
    m = models.build_model(cfg, 11)
    assert m.subsample.conv[2].weight.shape == (8, 8, 3, 3)
    assert m.subsample.out.in_features == 8 * 9  # 40 mels -> 19 -> 9 after two stride-2 convs
    lp, out_lens = m.eval()(torch.randn(1, 16000) * 0.1, torch.tensor([16000]))
    assert lp.shape == (1, 23, 11) and out_lens.tolist() == [23]


def test_resize_output_keeps_old_rows():
    cfg = models.ModelConfig(d_model=16, num_layers=1, num_heads=2, ffn_dim=32, n_mels=20)
    m = models.build_model(cfg, 5)
    old = m.head.weight.detach().clone()
    models.resize_output(m, 8)
    assert m.head.out_features == 8 and torch.equal(m.head.weight[:5], old)
    with pytest.raises(ValueError, match="cannot shrink"):
        models.resize_output(m, 4)


def test_unknown_backbone_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown model.backbone 'lstm'"):
        models.build_model(models.ModelConfig(backbone="lstm"), 5)


# ---------------------------------------------------------------- data selection


def test_take_minutes_per_language_is_seeded_and_bounded():
    from polyvox.data.manifest import take_minutes

    utts = [utt(i, "en" if i % 2 else "es").with_(duration=10.0) for i in range(40)]
    a = take_minutes(utts, 1.0, seed=3)
    assert sorted(u.language for u in a) == ["en"] * 6 + ["es"] * 6  # 60 s = 6 clips of 10 s each
    assert [u.id for u in a] == [u.id for u in take_minutes(utts, 1.0, seed=3)]
    assert [u.id for u in a] != [u.id for u in take_minutes(utts, 1.0, seed=4)]


def test_two_manifests_with_the_same_id_are_an_error(tmp_path):
    from polyvox.data.manifest import ManifestError, write_manifest
    from polyvox.data.manifest import read_manifests

    a = write_manifest(tmp_path / "a.jsonl", [utt(1, phonemes="a")])
    b = write_manifest(tmp_path / "b.jsonl", [utt(2), utt(1)])
    with pytest.raises(ManifestError, match="id 'u1' also occurs in .*a.jsonl"):
        read_manifests([a, b])


# ---------------------------------------------------------------- built-in corpus spec


def test_corpus_words_validated_and_hashed_only_when_not_default(tmp_path):
    from polyvox.speech import asr
    from polyvox.train.config import load_config

    # default corpora keep the folder names they had before `words` existed
    assert asr.corpus_dir(asr.CorpusConfig()) == asr.corpus_dir(asr.CorpusConfig(words=[2, 6]))
    assert str(asr.corpus_dir(asr.CorpusConfig())) == "work/corpus/3langs-200-1241dd61"
    wide = asr.corpus_dir(asr.CorpusConfig(words=[2, 24]))
    assert wide != asr.corpus_dir(asr.CorpusConfig()) and wide.name.startswith("3langs-200-")
    cfg_path = tmp_path / "c.yaml"
    cfg_path.write_text("data:\n  corpus:\n    words: [2, 24]\n", encoding="utf-8")
    assert load_config(asr.AsrConfig, cfg_path).data.corpus.words == [2, 24]
    for bad in ([6, 2], [0, 3], [2], [2, 6, 8]):
        with pytest.raises(ValueError, match=r"corpus\.words"):
            asr.CorpusConfig(words=bad)
        with pytest.raises(ValueError, match=r"corpus\.words"):
            load_config(asr.AsrConfig, None, [f"data.corpus.words={bad}"])


def test_speed_perturb_factors_are_checked_when_the_config_loads():
    from polyvox.speech import asr
    from polyvox.train.config import load_config

    assert load_config(asr.AsrConfig, None, ["data.speed_perturb=[0.9,1.0,1.1]"]).data.speed_perturb == [0.9, 1.0, 1.1]
    with pytest.raises(ValueError, match=r"data\.speed_perturb.*\[5\.0\]"):
        load_config(asr.AsrConfig, None, ["data.speed_perturb=[1.0,5.0]"])


def test_output_upsampling_gives_k_distinct_ctc_frames_per_encoder_frame():
    cfg = models.ModelConfig(d_model=32, num_layers=1, num_heads=2, ffn_dim=64, subsampling_channels=8,
                             output_upsampling=2)
    model = models.build_model(cfg, vocab_size=7).eval()
    one = models.build_model(dataclasses.replace(cfg, output_upsampling=1), vocab_size=7).eval()
    wavs, lens = torch.randn(2, 8000), torch.tensor([8000, 5000])
    with torch.no_grad():
        lp, n = model(wavs, lens)
        _, n1 = one(wavs, lens)
    assert lp.shape == (2, 2 * int(n1.max()), 7) and n.tolist() == [2 * k for k in n1.tolist()]
    assert not torch.allclose(lp[:, 0::2], lp[:, 1::2])  # the two frames of an encoder frame differ
    with pytest.raises(ValueError, match="output_upsampling must be >= 1"):
        models.build_model(dataclasses.replace(cfg, output_upsampling=0), vocab_size=7)
    with pytest.raises(ValueError, match="attribute_heads needs model.output_upsampling: 1"):
        models.build_model(dataclasses.replace(cfg, attribute_heads=True), vocab_size=7)
