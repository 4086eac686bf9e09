"""A SYNTHETIC spoken facts corpus for question answering: facts about countries taken from CLDR through Babel (a
country's currency, its first official language), asked and stated in each language with the localized names CLDR
holds, spoken by the synth machinery's speakers.

Two framings of the same facts:

* **closed-book** (CCFQA-style): a spoken question ("What is the currency of Japan?") whose answer is a canonical id
  (``JPY``) with its localized name ("yen" / "Yen" / "円"...). Rows: ``{train,dev,test}.jsonl``.
* **listening comprehension** (Spoken-SQuAD-style): a spoken context of several "entity, value" records ("France,
  euro. Japan, yen. ...") and a question, written or spoken, whose answer is one record's value. Rows:
  ``comprehension-{split}.jsonl`` (question id, record ids, answer index, the context wav and its record spans); the
  records themselves are utterances in ``records-{split}.jsonl``.

What it can tell a researcher: whether a model answers the same fact the same way across languages and across speech
vs text (CCFQA's consistency), how ASR errors propagate into answers, whether romanized or IPA text carries names
across scripts. What it cannot: world knowledge. This is a small table to memorise, not facts to reason over, and the
question templates are one phrasing per language and relation, written for polyvox (not by native speakers).

Splits are speaker-disjoint per language, and every speaker asks every question, so a test question is a fact seen in
training spoken by an unseen voice (closed-book) or a context never seen (comprehension). A re-run with the same
arguments returns the existing manifests.
"""

from __future__ import annotations

import datetime
import functools
import json
import os
import random
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np

from polyvox.data.audio import DEFAULT_SAMPLE_RATE, load_audio, save_audio
from polyvox.data.espeak import espeak_binary
from polyvox.data.ipa import clean_ipa
from polyvox.data.manifest import Utterance, read_manifest, split_manifest, write_manifest
from polyvox.data.synth import engines as synth_engines
from polyvox.data.synth.corpus import SPLITS, engine_speakers, g2p_raw, make_speakers, parse_langs
from polyvox.data.synth.tasks import TaskJob, _check, speak

RELATIONS = ("currency", "language")
# Countries with one current tender currency and a first official language in CLDR; 5 of them pay in euro, so the
# closed-book answer classes are fewer than the questions.
DEFAULT_COUNTRIES = ("FR", "DE", "ES", "IT", "PL", "RU", "UA", "GR", "TR", "IN", "BD", "HU", "RO", "ID", "KE", "JP",
                     "CN", "BR", "EG", "GB", "KR", "TH", "IR", "SE")
# One question per language and relation; {x} is the country's localized name. Phrasings that avoid declining the
# name ("in the country X") are preferred where the language inflects names.
QUESTIONS = {
    "en": ("What is the currency of {x}?", "What language is spoken in {x}?"),
    "de": ("Was ist die Währung von {x}?", "Welche Sprache spricht man in {x}?"),
    "es": ("¿Cuál es la moneda de {x}?", "¿Qué idioma se habla en {x}?"),
    "fr": ("Quelle est la monnaie du pays {x} ?", "Quelle langue parle-t-on dans le pays {x} ?"),
    "it": ("Qual è la valuta del paese {x}?", "Quale lingua si parla nel paese {x}?"),
    "pt": ("Qual é a moeda do país {x}?", "Que língua se fala no país {x}?"),
    "nl": ("Wat is de munteenheid van {x}?", "Welke taal spreekt men in {x}?"),
    "sv": ("Vilken valuta har {x}?", "Vilket språk talas i {x}?"),
    "da": ("Hvilken valuta har {x}?", "Hvilket sprog tales i {x}?"),
    "pl": ("Jaka jest waluta kraju {x}?", "Jakim językiem mówi się w kraju {x}?"),
    "cs": ("Jaká je měna země {x}?", "Jakým jazykem se mluví v zemi {x}?"),
    "ru": ("Какая валюта в стране {x}?", "На каком языке говорят в стране {x}?"),
    "uk": ("Яка валюта в країні {x}?", "Якою мовою розмовляють у країні {x}?"),
    "bg": ("Каква е валутата на страната {x}?", "Какъв език се говори в страната {x}?"),
    "el": ("Ποιο είναι το νόμισμα της χώρας {x};", "Ποια γλώσσα μιλιέται στη χώρα {x};"),
    "tr": ("{x} ülkesinin para birimi nedir?", "{x} ülkesinde hangi dil konuşulur?"),
    "hi": ("{x} की मुद्रा क्या है?", "{x} में कौन सी भाषा बोली जाती है?"),
    "bn": ("{x} দেশের মুদ্রা কী?", "{x} দেশে কোন ভাষা বলা হয়?"),
    "fi": ("Mikä on maan {x} valuutta?", "Mitä kieltä puhutaan maassa {x}?"),
    "hu": ("Mi a pénzneme ennek az országnak: {x}?", "Milyen nyelven beszélnek ebben az országban: {x}?"),
    "ro": ("Care este moneda țării {x}?", "Ce limbă se vorbește în țara {x}?"),
    "ca": ("Quina és la moneda del país {x}?", "Quina llengua es parla al país {x}?"),
    "id": ("Apa mata uang negara {x}?", "Bahasa apa yang digunakan di negara {x}?"),
    "sw": ("Sarafu ya nchi ya {x} ni ipi?", "Lugha gani inazungumzwa nchini {x}?"),
    "cmn": ("{x}的货币是什么？", "{x}说什么语言？"),  # written in Han, spoken through pinyin (docs/corpus.md)
}
DEFAULT_FACT_LANGS = tuple(QUESTIONS)
RECORD = "{x}, {v}."  # one record of a spoken context: "entity, value."
STAMP = "synth_facts.json"
CONTEXT_STAMP = "contexts.json"
CONTEXT_KEYS = ("contexts_per_speaker", "records_per_context", "train_contexts_per_speaker")  # not in the audio
CURRENCY_DATE = datetime.date(2025, 1, 1)  # CLDR's currency history is dated; fix the date so the facts are stable


class FactsError(ValueError):
    pass


@dataclass(frozen=True)
class Fact:
    """``relation`` of country ``entity`` (ISO 3166 code) is ``answer`` (ISO 4217 currency or ISO 639 language)."""

    relation: str
    entity: str
    answer: str

    @property
    def id(self) -> str:
        return f"{self.relation}:{self.entity}"


def country_facts(countries: Sequence[str] = DEFAULT_COUNTRIES, relations: Sequence[str] = RELATIONS) -> list[Fact]:
    """The facts CLDR states for ``countries``; FactsError naming the country when it has no such fact."""
    from babel.languages import get_official_languages
    from babel.numbers import get_territory_currencies

    out = []
    for rel in relations:
        if rel not in RELATIONS:
            raise FactsError(f"relation {rel!r}: expected one of {RELATIONS}")
        for c in countries:
            answers = (get_territory_currencies(c, CURRENCY_DATE) if rel == "currency"
                       else get_official_languages(c))
            if not answers:
                raise FactsError(f"country {c!r}: CLDR gives no {rel}; choose another country")
            out.append(Fact(rel, c, answers[0]))
    return out


@functools.lru_cache(maxsize=None)
def _locale(code: str):
    from babel import Locale, UnknownLocaleError

    try:
        return Locale.parse(code)
    except (UnknownLocaleError, ValueError) as e:
        raise FactsError(f"language {code!r}: Babel has no CLDR locale for it ({e})") from None


def localized(code: str, kind: str, key: str) -> str:
    """CLDR's name in language ``code`` of a country / currency / language ``key``."""
    names = {"country": _locale(code).territories, "currency": _locale(code).currencies,
             "language": _locale(code).languages}[kind]
    if key not in names:
        raise FactsError(f"language {code!r}: CLDR has no name for {kind} {key!r}")
    return names[key]


def answer_text(code: str, fact: Fact) -> str:
    return localized(code, fact.relation, fact.answer)


def question_text(code: str, fact: Fact) -> str:
    if code not in QUESTIONS:
        raise FactsError(f"language {code!r} has no question templates; languages with them: {', '.join(QUESTIONS)}")
    return QUESTIONS[code][RELATIONS.index(fact.relation)].format(x=localized(code, "country", fact.entity))


def record_text(code: str, fact: Fact) -> str:
    return RECORD.format(x=localized(code, "country", fact.entity), v=answer_text(code, fact))


@dataclass
class FactsCorpusConfig:
    """The built-in SYNTHETIC facts corpus as a config section (``data.facts`` of the spoken QA recipe)."""

    langs: list[str] = field(default_factory=lambda: ["en", "de", "es", "ru"])
    countries: list[str] = field(default_factory=lambda: list(DEFAULT_COUNTRIES))
    relations: list[str] = field(default_factory=lambda: list(RELATIONS))
    speakers: int = 4  # speaker-disjoint splits: 2 train, 1 dev, 1 test speaker per language by default
    # + flite, festival: their voices speak the languages they know as more speakers (docs/corpus.md)
    engines: list[str] = field(default_factory=lambda: ["espeak"])
    contexts_per_speaker: int = 24  # spoken listening-comprehension contexts (a wav each) per speaker
    records_per_context: int = 4
    train_contexts_per_speaker: int = 0  # more training contexts per training speaker, drawn from its records with
    # no context wav: the text QA model trains on their text, the end-to-end listener on their records' frames
    jitter: float = 1.0
    seed: int = 0
    dir: str = ""  # default: work/synth_facts/<hash of the spec>


def facts_corpus_dir(c: FactsCorpusConfig) -> Path:
    """The corpus folder: contexts are drawn again in place, so their settings are not part of its name."""
    from polyvox.data.synth.spec import spec_dir

    return spec_dir(c, "synth_facts", exclude=CONTEXT_KEYS + _default_engines(c))


def _default_engines(c: FactsCorpusConfig) -> tuple[str, ...]:
    # espeak-only corpora keep the folder and stamp they had before ``engines`` existed, so they are reused
    return ("engines",) if list(c.engines) == ["espeak"] else ()


def corpus_paths(out_dir: Path) -> dict[str, Path]:
    """{"train"|..: questions, "records-train"|..: records, "comprehension-train"|..: contexts} manifests."""
    out = {}
    for s in SPLITS:
        out[s], out[f"records-{s}"], out[f"comprehension-{s}"] = (out_dir / f"{s}.jsonl", out_dir / f"records-{s}.jsonl",
                                                                  out_dir / f"comprehension-{s}.jsonl")
    return out


def synthesize_facts_corpus(c: FactsCorpusConfig, workers: int | None = None) -> dict[str, Path]:
    """Speak every question and record of ``c`` (or reuse them) and draw the comprehension contexts -> manifests."""
    out_dir = facts_corpus_dir(c)
    codes = parse_langs(c.langs)
    _check(codes, 1, c.speakers)
    synth_engines.check_engines(c.engines)
    if "espeak" not in c.engines:
        raise FactsError(f"data.facts.engines {list(c.engines)}: the facts corpus needs espeak (it speaks every "
                         "language) plus any others")
    for engine in c.engines:
        if engine != "espeak" and (why := synth_engines.missing(engine)):
            print(f"polyvox synth: {why}; its voices are left out", file=sys.stderr)
    facts = country_facts(c.countries, c.relations)
    for code in codes:  # every name and question exists before any audio is made
        for f in facts:
            question_text(code, f), record_text(code, f)
    if c.records_per_context < 2:
        raise FactsError(f"records_per_context: need >= 2, got {c.records_per_context}")
    paths = corpus_paths(out_dir)
    params = {k: v for k, v in asdict(c).items() if k != "dir" and k not in CONTEXT_KEYS + _default_engines(c)} | {
        "langs": codes, "task": "facts"}
    stamp = out_dir / STAMP
    spoken = [paths[k] for s in SPLITS for k in (s, f"records-{s}")]
    if not (stamp.exists() and all(p.exists() for p in spoken) and json.loads(stamp.read_text()) == params):
        _speak_facts(c, codes, facts, out_dir, paths, workers)
        stamp.write_text(json.dumps(params, indent=1, sort_keys=True))
    context_params = {k: getattr(c, k) for k in CONTEXT_KEYS} | {"audio": params}
    context_stamp = out_dir / CONTEXT_STAMP
    if not (context_stamp.exists() and json.loads(context_stamp.read_text()) == context_params
            and all(paths[f"comprehension-{s}"].exists() for s in SPLITS)):
        for name in SPLITS:
            questions, records = read_manifest(paths[name]), read_manifest(paths[f"records-{name}"])
            rows = draw_contexts(questions, records, c, out_dir)
            if name == "train" and c.train_contexts_per_speaker:
                rows += draw_contexts(questions, records, c, out_dir, count=c.train_contexts_per_speaker,
                                      with_audio=False)
            paths[f"comprehension-{name}"].write_text("".join(json.dumps(r, ensure_ascii=False) + "\n"
                                                              for r in rows), encoding="utf-8")
        context_stamp.write_text(json.dumps(context_params, indent=1, sort_keys=True))
    return paths


def _speak_facts(c: FactsCorpusConfig, codes, facts, out_dir: Path, paths, workers) -> None:
    """Every question and record of every speaker, split by speaker into the question and record manifests."""
    espeak_binary()
    jobs = []
    for code in codes:
        for spk in make_speakers(code, c.speakers, c.seed) + engine_speakers(code, c.engines):
            for f in facts:
                rng = random.Random(f"facts:{c.seed}:{code}:{spk.id}:{f.id}")
                pitch = int(round(min(99, max(0, spk.pitch + c.jitter * rng.uniform(-4, 4)))))
                rate = int(round(spk.rate * (1 + c.jitter * rng.uniform(-0.08, 0.08))))
                if spk.engine != "espeak":  # another engine's voice speaks in its own pitch and rate
                    pitch = rate = 0
                for kind, text in (("question", question_text(code, f)), ("record", record_text(code, f))):
                    uid = f"{code}-{kind[0]}-{spk.id.rsplit('-', 1)[1]}-{f.relation}-{f.entity}"
                    jobs.append(TaskJob(uid, code, len(jobs), spk, f.answer, spk.voice, pitch, rate, 100, "medium",
                                        lambda _a, t=text: t, out_dir / "wavs" / code / f"{uid}.wav"))
    with ThreadPoolExecutor(max_workers=max(1, workers or os.cpu_count() or 1)) as pool:
        utts = list(pool.map(lambda j: _with_fact_fields(speak(j, "answer", allow_switches=True), facts), jobs))
    questions = [u for u in utts if u.custom["kind"] == "question"]
    parts = split_manifest(questions, SPLITS, seed=c.seed, by_speaker=True)
    split_of = {u.speaker: name for name, part in parts.items() for u in part}
    for name in SPLITS:
        write_manifest(paths[name], sorted(parts[name], key=lambda u: u.id))
        records = sorted((u for u in utts if u.custom["kind"] == "record" and split_of[u.speaker] == name),
                         key=lambda u: u.id)
        write_manifest(paths[f"records-{name}"], records)


def _with_fact_fields(u: Utterance, facts: Sequence[Fact]) -> Utterance:
    """custom: kind, fact, relation, entity, answer (id), answer_text in native / romanized / IPA form."""
    from polyvox.text.romanize import romanize

    kind = "question" if "-q-" in u.id else "record"
    relation, entity = u.id.rsplit("-", 2)[1:]
    fact = next(f for f in facts if f.relation == relation and f.entity == entity)
    ans = answer_text(u.language, fact)
    return u.with_(custom={**u.custom, "kind": kind, "fact": fact.id, "relation": relation, "entity": entity,
                           "answer": fact.answer, "answer_text": ans,
                           "answer_romanized": romanize(ans, u.language),
                           "answer_ipa": clean_ipa(g2p_raw(ans, u.language), u.language),
                           "text_romanized": romanize(u.text, u.language)})


def draw_contexts(questions: Sequence[Utterance], records: Sequence[Utterance], c: FactsCorpusConfig,
                  out_dir: Path, gap_s: float = 0.5, *, count: int | None = None,
                  with_audio: bool = True) -> list[dict]:
    """``count`` (default ``contexts_per_speaker``) comprehension rows per speaker: ``records_per_context`` records
    of one relation with distinct answers, concatenated into one wav with ``gap_s`` of silence between them (unless
    not ``with_audio``: then ``audio`` is "" and the ids are ``...-txt``); the question asks about one of them (same
    speaker). Row: {id, language, speaker, relation, question, records, answer_index, audio, spans}."""
    by_speaker = {}
    for r in records:
        by_speaker.setdefault(r.speaker, []).append(r)
    q_of = {(q.speaker, q.custom["fact"]): q for q in questions}
    rows = []
    for spk in sorted(by_speaker):
        recs = by_speaker[spk]
        for k in range(c.contexts_per_speaker if count is None else count):
            tag = "ctx" if with_audio else "txt"
            rng = random.Random(f"context:{c.seed}:{spk}:{tag}:{k}")
            relation = rng.choice(sorted({r.custom["relation"] for r in recs}))
            pool, chosen, answers = [r for r in recs if r.custom["relation"] == relation], [], set()
            for r in rng.sample(pool, len(pool)):
                if r.custom["answer"] not in answers:
                    chosen.append(r), answers.add(r.custom["answer"])
                if len(chosen) == c.records_per_context:
                    break
            if len(chosen) < 2:
                raise FactsError(f"{spk}: fewer than 2 {relation} records with distinct answers; add countries")
            target = rng.randrange(len(chosen))
            uid = f"{spk}-{tag}{k:04d}"
            wav_path = out_dir / "wavs" / chosen[0].language / f"{uid}.wav"
            audio, spans, t = [], [], 0.0
            gap = np.zeros(int(gap_s * DEFAULT_SAMPLE_RATE), dtype=np.float32)
            for i, r in enumerate(chosen):
                wav, dur = load_audio(r.audio, DEFAULT_SAMPLE_RATE)
                audio += [gap] * (i > 0) + [wav]
                t += gap_s * (i > 0)
                spans.append([round(t, 3), round(t + dur, 3)])
                t += dur
            if with_audio:
                save_audio(wav_path, np.concatenate(audio), DEFAULT_SAMPLE_RATE)
            rows.append({"id": uid, "language": chosen[0].language, "speaker": spk, "relation": relation,
                         "question": q_of[(spk, chosen[target].custom["fact"])].id,
                         "records": [r.id for r in chosen], "answer_index": target,
                         "audio": str(wav_path.resolve()) if with_audio else "", "spans": spans, "synthetic": True})
    return rows

