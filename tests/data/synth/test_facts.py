"""The SYNTHETIC facts corpus: CLDR facts, localized questions and records in every template language, and a tiny
spoken corpus with speaker-disjoint splits and listening-comprehension contexts whose pauses separate the records."""

import json

import pytest

from polyvox.data.audio import load_audio, speech_segments
from polyvox.data.corpora.qa import load_facts_qa
from polyvox.data.manifest import read_manifest
from polyvox.data.synth.facts import (DEFAULT_COUNTRIES, QUESTIONS, RELATIONS, Fact, FactsCorpusConfig, FactsError,
                                      answer_text, country_facts, localized, question_text, record_text,
                                      synthesize_facts_corpus)


def test_cldr_facts():
    facts = {f.id: f.answer for f in country_facts(["FR", "JP"], RELATIONS)}
    assert facts == {"currency:FR": "EUR", "currency:JP": "JPY", "language:FR": "fr", "language:JP": "ja"}
    assert len(country_facts()) == len(DEFAULT_COUNTRIES) * len(RELATIONS)
    with pytest.raises(FactsError, match="country 'MX': CLDR gives no language"):
        country_facts(["MX"], ["language"])
    with pytest.raises(FactsError, match="relation 'capital'"):
        country_facts(["FR"], ["capital"])


@pytest.mark.parametrize("code", sorted(QUESTIONS))
def test_every_template_language_names_every_default_fact(code):
    for fact in country_facts():
        country = localized(code, "country", fact.entity)
        assert country in question_text(code, fact)
        assert record_text(code, fact).startswith(country) and answer_text(code, fact) in record_text(code, fact)


def test_localized_names_and_errors():
    fact = Fact("currency", "JP", "JPY")
    assert question_text("de", fact) == "Was ist die Währung von Japan?" and answer_text("ru", fact) == "японская иена"
    with pytest.raises(FactsError, match="'xx' has no question templates"):
        question_text("xx", fact)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    cfg = FactsCorpusConfig(langs=["en", "ru"], countries=["FR", "JP", "BR"], speakers=3, contexts_per_speaker=2,
                            records_per_context=3, dir=str(tmp_path_factory.mktemp("facts")))
    return cfg, synthesize_facts_corpus(cfg)


def test_splits_are_speaker_disjoint_and_share_the_facts(corpus):
    _, paths = corpus
    qs = {s: read_manifest(paths[s]) for s in ("train", "dev", "test")}
    speakers = {s: {u.speaker for u in v} for s, v in qs.items()}
    assert not (speakers["train"] & speakers["test"]) and not (speakers["dev"] & speakers["test"])
    assert {u.custom["fact"] for u in qs["test"]} == {u.custom["fact"] for u in qs["train"]}
    u = next(u for u in qs["test"] if u.language == "ru" and u.custom["fact"] == "currency:JP")
    assert u.custom["answer"] == "JPY" and u.custom["answer_text"] == "японская иена"
    assert u.custom["answer_romanized"] and u.custom["answer_ipa"] and u.custom["synthetic"] is True
    assert all(r.custom["kind"] == "record" for r in read_manifest(paths["records-test"]))


def test_contexts_hold_distinct_answers_and_split_at_their_pauses(corpus):
    cfg, paths = corpus
    questions, items = load_facts_qa(paths)
    assert all(len(items[s]) == 2 * 2 for s in ("dev", "test"))  # 2 contexts per speaker, one speaker per language
    for item in items["test"]:
        answers = [r.custom["answer"] for r in item.records]
        assert len(set(answers)) == len(answers) == cfg.records_per_context
        assert {r.custom["relation"] for r in item.records} == {item.question.custom["relation"]}
        assert item.question.custom["fact"] == item.records[item.answer_index].custom["fact"]
        assert item.answer_text == item.records[item.answer_index].custom["answer_text"]
        wav, _ = load_audio(item.context_audio)
        assert len(speech_segments(wav)) == len(item.records)
    row = json.loads(paths["comprehension-test"].read_text().splitlines()[0])
    assert len(row["spans"]) == cfg.records_per_context and row["spans"][0][0] == 0.0


def test_rerun_reuses_the_corpus(corpus):
    cfg, paths = corpus
    before = paths["train"].stat().st_mtime_ns
    assert synthesize_facts_corpus(cfg) == paths and paths["train"].stat().st_mtime_ns == before


def test_other_engines_voices_join_as_more_speakers_and_mandarin_is_spoken_through_pinyin(tmp_path):
    from polyvox.data.ipa import is_ipa_segment
    from polyvox.data.synth.facts import facts_corpus_dir

    cfg = FactsCorpusConfig(langs=["en", "cmn"], countries=["FR", "JP"], relations=["currency"], speakers=3,
                            contexts_per_speaker=1, records_per_context=2, engines=["espeak", "flite"],
                            dir=str(tmp_path / "facts"))
    paths = synthesize_facts_corpus(cfg)
    rows = [u for s in ("train", "dev", "test") for k in (s, f"records-{s}") for u in read_manifest(paths[k])]
    flite = [u for u in rows if u.custom.get("engine") == "flite"]
    assert flite and {u.language for u in flite} == {"en"}  # flite speaks English only
    assert {u.speaker for u in flite} == {"en-flite-awb", "en-flite-kal16", "en-flite-rms", "en-flite-slt"}
    assert all(u.phonemes and u.custom["answer_ipa"] for u in flite)  # espeak-ng is the G2P of their speech
    cmn = [u for u in rows if u.language == "cmn"]
    assert cmn and all(is_ipa_segment(p) for u in cmn for p in u.phoneme_list(keep_word_boundary=False))
    q = next(u for u in cmn if u.custom["kind"] == "question" and u.custom["entity"] == "JP")
    assert q.text == "日本的货币是什么？" and q.custom["answer_text"] == "日元" and q.phonemes.startswith("ʐ ɨ p ə n")
    per_split = {s: {u.speaker for u in read_manifest(paths[s])} for s in ("train", "dev", "test")}
    assert not (per_split["train"] & per_split["test"]) and not (per_split["dev"] & per_split["test"])
    # the espeak-only spec keeps the folder it had before engines existed; another engine list gets its own
    default = FactsCorpusConfig()
    assert facts_corpus_dir(default) != facts_corpus_dir(FactsCorpusConfig(engines=["espeak", "flite"]))
    with pytest.raises(FactsError, match="needs espeak"):
        synthesize_facts_corpus(FactsCorpusConfig(langs=["en"], engines=["flite"], dir=str(tmp_path / "x")))
