"""Extractive text QA: spans in and out of token positions, the best-span rule, the gold spans of comprehension
items in every text form, a tiny XLM-R span model that learns a toy task through fit(), and its run round trip."""

import random
from dataclasses import dataclass, field

import pytest
import torch

from polyvox.data.corpora.qa import QAItem
from polyvox.data.manifest import Utterance
from polyvox.eval.qa import qa_scores
from polyvox.text.classify.config import TextModelConfig, TokenizerConfig
from polyvox.text.qa.run import answer, best_spans, is_qa_run, load_run
from polyvox.text.qa.task import item_example, qa_collate, span_of, train_qa_model
from polyvox.text.tokenizer import train_tokenizer
from polyvox.train.config import TrainConfig

COUNTRIES = "france germany japan brazil egypt india kenya china".split()
MONEY = "euro mark yen real pound rupee shilling yuan".split()


def _toy(rng):
    idx = rng.sample(range(len(COUNTRIES)), 3)
    t = rng.choice(idx)
    ctx = " ".join(f"{COUNTRIES[i]} {MONEY[i]}" for i in idx)
    at = ctx.index(COUNTRIES[t]) + len(COUNTRIES[t]) + 1
    return f"what is the currency of {COUNTRIES[t]}", ctx, (at, at + len(MONEY[t]))


def test_span_of_searches_the_record_from_the_right():
    assert span_of("japan yen yen", "yen") == (10, 13)
    assert span_of("japan yen yen", "yen", (0, 9)) == (6, 9)
    with pytest.raises(ValueError, match="answer 'euro' not found"):
        span_of("japan yen", "euro")


def test_best_spans_stay_in_the_context_and_in_order():
    start = torch.tensor([[9.0, 0.0, 1.0, 5.0, 0.0]])
    end = torch.tensor([[9.0, 4.0, 0.0, 0.0, 3.0]])
    mask = torch.tensor([[False, True, True, True, True]])  # token 0 (<s>) is not context
    assert best_spans(start, end, mask, max_answer_tokens=5) == [(3, 4)]  # end 1 < start 3 is not allowed
    assert best_spans(start, end, mask, max_answer_tokens=1) == [(3, 3)]


def test_collate_marks_the_answer_tokens(tmp_path):
    rng = random.Random(0)
    data = [_toy(rng) for _ in range(20)]
    tok = train_tokenizer([t for q, c, _ in data for t in (q, c)], 60, tmp_path / "tok")
    batch = qa_collate(tok, 64)(data[:4])
    for row, (q, c, (a, b)) in enumerate(data[:4]):
        s, e = int(batch["start_positions"][row]), int(batch["end_positions"][row])
        assert 0 < s <= e
        enc = tok(q, c, return_offsets_mapping=True)
        assert enc["offset_mapping"][s][0] <= a + 1 and enc["offset_mapping"][e][1] == b
    # an answer that truncation cut off points at <s> (0, 0)
    q, c, _ = data[0]
    cut = qa_collate(tok, 64)([(q, c + " z" * 200, (len(c) + 300, len(c) + 302))])
    assert int(cut["start_positions"][0]) == 0 == int(cut["end_positions"][0])


def test_a_set_tokenized_once_gives_the_collates_own_batches(tmp_path):
    from polyvox.text.batches import encode_once, pad_rows
    from polyvox.text.classify.task import text_collate

    rng = random.Random(0)
    data = [_toy(rng) for _ in range(20)]
    q, c, _ = data[0]
    data.append((q, c + " z" * 200, (len(c) + 300, len(c) + 302)))  # truncated: its row is max_length long
    tok = train_tokenizer([t for q, c, _ in data for t in (q, c)], 60, tmp_path / "tok")
    texts = [(q + " " * i, i % 3) for i, (q, _, _) in enumerate(data)] + [("", 1)]  # "" becomes " " as in training
    for collate, items in [(qa_collate(tok, 64), data), (text_collate(tok, 16), texts)]:
        rows = encode_once(collate, items, chunk=7)  # chunks padded to other lengths than the batches
        assert len(rows) == len(items) and max(len(r["input_ids"]) for r in rows) == (64 if len(items) == 21 else 16)
        for batch in ([0, 1, 2], [20, 3], [5, 21, 0] if len(items) == 22 else [5, 20, 0]):
            want, got = collate([items[i] for i in batch]), pad_rows(tok.pad_token_id)([rows[i] for i in batch])
            assert want.keys() == got.keys()
            assert all(torch.equal(want[k], got[k]) for k in want)


@dataclass
class _Part:
    tokenizer: TokenizerConfig = field(default_factory=lambda: TokenizerConfig(vocab_size=200))
    model: TextModelConfig = field(default_factory=lambda: TextModelConfig(hidden_size=64, intermediate_size=128,
                                                                           max_length=64))
    train: TrainConfig = field(default_factory=lambda: TrainConfig(lr=3e-3, warmup_steps=20, eval_every=400,
                                                                   log_every=100))
    batch_size: int = 32


def test_a_tiny_span_model_learns_and_round_trips(tmp_path):
    rng = random.Random(1)
    train, dev = [_toy(rng) for _ in range(800)], [_toy(rng) for _ in range(60)]
    run = train_qa_model(_Part(), "native", train, dev, tmp_path / "run", seed=0, max_steps=400)
    preds = answer(run, [q for q, _, _ in dev], [c for _, c, _ in dev])
    assert qa_scores(preds, [c[a:b] for _, c, (a, b) in dev])["f1"] > 0.55  # chance: 1 in 3 records
    assert is_qa_run(tmp_path / "run") and not is_qa_run(tmp_path)
    again = load_run(tmp_path / "run")
    assert answer(again, ["what is the currency of japan"], ["france euro japan yen"]) == \
        answer(run, ["what is the currency of japan"], ["france euro japan yen"])
    with pytest.raises(FileNotFoundError, match="not a text QA run"):
        load_run(tmp_path)


def _utt(uid, text, phonemes, **custom):
    return Utterance(uid, "", 1.0, 16000, "en", "s", text, phonemes, custom)


def test_item_examples_in_every_form():
    records = (_utt("r0", "France, Euro.", "f ɹ æ n s | j ʊ ɹ oʊ", answer_text="Euro"),
               _utt("r1", "Japan, Japanese Yen.", "dʒ ə p æ n | dʒ æ p ə n iː z | j ɛ n", answer_text="Japanese Yen"))
    q = _utt("q", "What is the currency of Japan?", "w ʌ t | ɪ z")
    item = QAItem("c", "en", q, "Japanese Yen", records=records, answer_index=1)
    (question, ctx, (a, b)), gold = item_example(item, "native")
    assert question == "what is the currency of japan" and ctx == "france euro japan japanese yen"
    assert ctx[a:b] == gold == "japanese yen"
    (_, ctx, (a, b)), gold = item_example(item, "ipa")
    assert ctx == "fɹæns jʊɹoʊ dʒəpæn dʒæpəniːz jɛn" and ctx[a:b] == gold == "dʒæpəniːz jɛn"
    squad = QAItem("s", "en", q, "Yen", context_text="In Japan, the Yen.", answer_start=14)
    (_, ctx, (a, b)), gold = item_example(squad, "native")
    assert ctx == "in japan the yen" and ctx[a:b] == gold == "yen"
