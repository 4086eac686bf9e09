"""A SYNTHETIC spoken intent corpus: Home Assistant's sentence templates (``home-assistant-intents``, parsed with
``hassil``), sampled at random, slots filled with the language's frequent words and spelled-out numbers, spoken by
the synth machinery's speakers (espeak-ng voices, plus other engines' voices where they speak the language).

What it can tell a researcher: whether speech and text classifiers and cascades are wired right, how ASR errors
propagate with the content held fixed, what the script (native, romanized, IPA) does to transfer. What it cannot: real
accuracy or semantics. The intents are keyword-driven (``turn on`` vs ``turn off``), the templates are written per
language by Home Assistant's contributors (not translations of each other), and every voice is a synthesizer.

Rows are :class:`~polyvox.data.manifest.Utterance` records with ``custom = {"intent", "text_romanized",
"synthetic": True, voice...}`` in ``out_dir/{train,dev,test}.jsonl``, speaker-disjoint per language. A re-run with
the same arguments returns the existing manifests.
"""

from __future__ import annotations

import functools
import random
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, Sequence

from polyvox.data.manifest import read_manifest, write_manifest
from polyvox.data.synth import engines as synth_engines
from polyvox.data.synth.corpus import SPLITS, engine_speakers, make_speakers, parse_langs
from polyvox.data.synth.tasks import TaskJob, _check, _run
from polyvox.data.synth.words import word_pool

# Intents every default language has templates for (home-assistant-intents 2026.11.25 has them in >= 51 of its
# 65 languages). Pairs such as TurnOn/TurnOff, MediaPause/PauseTimer differ by a word or two: ASR errors matter.
DEFAULT_INTENTS = ("HassTurnOn", "HassTurnOff", "HassLightSet", "HassClimateGetTemperature", "HassGetCurrentTime",
                   "HassGetCurrentDate", "HassGetWeather", "HassStartTimer", "HassCancelTimer", "HassPauseTimer",
                   "HassMediaPause", "HassMediaNext")
# The 30 languages with templates for every default intent, an espeak-ng voice and a word list (checked by a test).
DEFAULT_INTENT_LANGS = ("ar", "bg", "bn", "ca", "cs", "da", "de", "el", "en", "es", "eu", "fa", "fi", "fr", "he", "hi",
                        "hu", "is", "it", "lv", "ml", "nl", "pl", "pt", "ro", "ru", "sk", "sl", "sv", "uk")
HA_CODES = {"pt-br": "pt-BR", "zh": "zh-CN", "cmn": "zh-CN", "sr": "sr", "no": "nb"}  # polyvox code -> HA's
INTENT_KEY = "intent"
MAX_SAMPLE_TRIES = 50  # random template walks tried for one sentence before the intent is declared unusable


class IntentTemplateError(ValueError):
    pass


@functools.lru_cache(maxsize=None)
def language_intents(code: str):
    """hassil ``Intents`` of a polyvox language code; IntentTemplateError when Home Assistant has none."""
    import home_assistant_intents as hai
    from hassil import Intents

    ha = HA_CODES.get(code, code)
    data = hai.get_intents(ha) if ha in hai.get_languages() else None
    if not data:
        raise IntentTemplateError(f"home-assistant-intents has no templates for {code!r}; it has "
                                  f"{', '.join(hai.get_languages())}")
    return Intents.from_dict(data)


def available_intents(code: str) -> list[str]:
    return sorted(language_intents(code).intents)


@functools.lru_cache(maxsize=None)
def _number_speller(code: str):
    """n -> the number in words: num2words where it knows the language, else hassil's RBNF engine; None if neither."""
    from num2words import num2words

    try:
        num2words(7, lang=code.replace("-", "_"))
        return lambda n: num2words(n, lang=code.replace("-", "_"))
    except (NotImplementedError, OverflowError):
        pass
    try:
        from hassil.numbers import get_rbnf_engine

        engine = get_rbnf_engine(HA_CODES.get(code, code).split("-")[0])
        return lambda n: sorted(engine.format_number(n).text_by_ruleset.values())[0]
    except Exception:  # unicode-rbnf raises its own errors for unknown languages
        return None


class _Walker:
    """One random walk through a hassil template: a choice at each alternative, slots filled from ``words``."""

    def __init__(self, intents, data, code: str, rng: random.Random):
        self.code, self.rng = code, rng
        self.rules = {**intents.expansion_rules, **(data.expansion_rules or {})}
        self.slots = {**intents.slot_lists, **(data.slot_lists or {})}
        self.words = word_pool(code)

    def walk(self, expr) -> str:
        from hassil.expression import Alternative, ListReference, Permutation, RuleReference, Sequence, TextChunk
        from hassil.intents import RangeSlotList, TextSlotList

        if isinstance(expr, TextChunk):
            return expr.original_text
        if isinstance(expr, Alternative):
            return self.walk(self.rng.choice(expr.items))
        if isinstance(expr, Permutation):
            items = list(expr.items)
            self.rng.shuffle(items)
            return " ".join(self.walk(i) for i in items)
        if isinstance(expr, Sequence):
            return "".join(self.walk(i) for i in expr.items)
        if isinstance(expr, RuleReference):
            return self.walk(self.rules[expr.rule_name].expression)
        if isinstance(expr, ListReference):
            slot = self.slots.get(expr.list_name)
            if isinstance(slot, TextSlotList) and slot.values:
                return self.walk(self.rng.choice(slot.values).text_in)
            if isinstance(slot, RangeSlotList):
                spell = _number_speller(self.code)
                if spell is None:
                    raise IntentTemplateError(f"{self.code}: no number speller for slot {{{expr.list_name}}}")
                numbers = range(slot.start, min(slot.stop, slot.start + 60 * slot.step) + 1, slot.step)
                return spell(self.rng.choice(numbers))
            # names, areas, wildcards (not in the templates): one or two of the language's frequent words
            return " ".join(self.rng.sample(self.words[:2000], self.rng.randint(1, 2)))
        raise IntentTemplateError(f"unexpected hassil expression {type(expr).__name__}")


_SPACES = re.compile(r"\s+")
_DIGIT = re.compile(r"\d")


def sample_sentence(code: str, intent: str, rng: random.Random) -> str:
    """One random sentence of ``intent`` in language ``code``: a template chosen uniformly, every alternative and
    optional chosen at random, slots filled. Sentences with digits or leftover ``{`` are redrawn."""
    intents = language_intents(code)
    if intent not in intents.intents:
        raise IntentTemplateError(f"{code}: no templates for intent {intent!r}; it has {available_intents(code)}")
    choices = [(d, s) for d in intents.intents[intent].data for s in d.sentences]
    problems = set()
    for _ in range(MAX_SAMPLE_TRIES):
        data, sentence = rng.choice(choices)
        try:
            text = _Walker(intents, data, code, rng).walk(sentence.expression)
        except (IntentTemplateError, KeyError) as e:
            problems.add(str(e))
            continue
        text = _SPACES.sub(" ", text).strip(" ,")
        if text and not _DIGIT.search(text) and "{" not in text and "<" not in text:
            return text
        problems.add(f"unspeakable sample {text!r}")
    raise IntentTemplateError(f"{code}/{intent}: no usable sentence in {MAX_SAMPLE_TRIES} samples: "
                              + "; ".join(sorted(problems)[:3]))


def check_intents(codes: Sequence[str], intents: Sequence[str]) -> None:
    """Every language must have templates for every intent (so the label set is shared); a clear error otherwise."""
    missing = {}
    for code in codes:
        have = set(available_intents(code))
        if lacks := [i for i in intents if i not in have]:
            missing[code] = lacks
    if missing:
        raise IntentTemplateError("intents without templates: " + "; ".join(f"{c}: {', '.join(v)}"
                                                                           for c, v in missing.items()))


def synthesize_intent_corpus(out_dir: str | Path, langs: Sequence[str] | str = ("en", "de", "es", "ru"),
                             utts_per_lang: int = 240, intents: Sequence[str] = DEFAULT_INTENTS, *, seed: int = 0,
                             speakers: int = 6, jitter: float = 1.0, engines: Sequence[str] = ("espeak",),
                             workers: int | None = None, splits: Mapping[str, float] = SPLITS) -> dict[str, Path]:
    """SYNTHETIC spoken intents; returns {"train"|"dev"|"test": manifest path}.

    Utterance ``i`` of a language has speaker ``i % speakers`` and intent ``intents[(i // speakers) % len(intents)]``,
    so classes are balanced and every speaker (hence every speaker-disjoint split) has every intent; its text is a fresh :func:`sample_sentence` per attempt. Loanwords espeak-ng reads in another
    language (German "Timer") are kept: their phones are what was spoken. ``custom["text_romanized"]`` is the text through uroman (:mod:`polyvox.text.romanize`).
    """
    out_dir = Path(out_dir)
    codes = parse_langs(list(langs) if not isinstance(langs, str) else langs)
    _check(codes, utts_per_lang, speakers, splits)
    if len(intents) < 2:
        raise ValueError(f"intents: need >= 2, got {list(intents)}")
    check_intents(codes, intents)
    synth_engines.check_engines(engines)
    for engine in engines:
        if engine != "espeak" and (why := synth_engines.missing(engine)):
            print(f"polyvox synth: {why}; its voices are left out", file=sys.stderr)
    jobs = []
    for code in codes:
        spks = make_speakers(code, speakers, seed) + engine_speakers(code, engines)
        for i in range(utts_per_lang):
            spk, intent = spks[i % len(spks)], intents[(i // len(spks)) % len(intents)]  # every speaker: every intent
            rng = random.Random(f"intent:{seed}:{code}:{i}")
            pitch = int(round(min(99, max(0, spk.pitch + jitter * rng.uniform(-4, 4)))))
            rate = int(round(spk.rate * (1 + jitter * rng.uniform(-0.08, 0.08))))
            uid = f"{code}-int-{i:05d}"
            text = (lambda a, c=code, k=i, t=intent:
                    sample_sentence(c, t, random.Random(f"intent-text:{seed}:{c}:{k}:{a}")))
            jobs.append(TaskJob(uid, code, i, spk, intent, spk.voice, pitch, rate, 100, "medium", text,
                                out_dir / "wavs" / code / f"{uid}.wav"))
    params = {"task": "intent", "langs": codes, "utts_per_lang": utts_per_lang, "intents": list(intents),
              "seed": seed, "speakers": speakers, "jitter": jitter, "engines": list(engines)}
    paths = _run(out_dir, params, jobs, INTENT_KEY, workers, splits, allow_switches=True)
    _add_romanized(paths)
    return paths


def _add_romanized(paths: Mapping[str, Path]) -> None:
    """``custom["text_romanized"]`` on every row; idempotent."""
    from polyvox.text.romanize import romanize

    for path in paths.values():
        utts = read_manifest(path)
        if all("text_romanized" in u.custom for u in utts):
            continue
        write_manifest(path, [u.with_(custom={**u.custom, "text_romanized": romanize(u.text, u.language)})
                              for u in utts])


@dataclass
class IntentCorpusConfig:
    """The built-in SYNTHETIC intent corpus as a config section (``data.intents`` of the text and speech
    classification recipes), used when no manifests are given."""

    langs: list[str] = field(default_factory=lambda: ["en", "de", "es", "ru"])
    utts_per_lang: int = 240
    intents: list[str] = field(default_factory=lambda: list(DEFAULT_INTENTS))
    speakers: int = 6  # speaker-disjoint splits: 4 train, 1 dev, 1 test speaker per language by default
    splits: dict[str, float] = field(default_factory=lambda: dict(SPLITS))  # shares of each language's speakers
    engines: list[str] = field(default_factory=lambda: ["espeak"])
    jitter: float = 1.0
    seed: int = 0
    dir: str = ""  # default: work/synth_intent/<hash of the spec>


def intent_corpus_dir(c: IntentCorpusConfig) -> Path:
    from polyvox.data.synth.spec import spec_dir

    return spec_dir(c, "synth_intent")


def build_intent_corpus(c: IntentCorpusConfig) -> dict[str, Path]:
    """Synthesize (or reuse) the corpus ``c`` -> {"train"|"dev"|"test": manifest path}."""
    return synthesize_intent_corpus(intent_corpus_dir(c), c.langs, c.utts_per_lang, c.intents, seed=c.seed,
                                    speakers=c.speakers, jitter=c.jitter, engines=c.engines, splits=c.splits)
