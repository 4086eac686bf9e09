"""The built-in corpus as a config section: :class:`CorpusConfig` (``data.corpus`` of the ASR, phoneme and TTS
recipes), the folder a spec lives in, and building it (or reusing it) with :func:`synthesize_corpus`."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from polyvox.data.paths import CORPUS_ROOT


@dataclass
class CorpusConfig:
    """The built-in espeak-ng corpus (used when data.train_manifests is empty)."""

    langs: list[str] = field(default_factory=lambda: ["en", "es", "de"])
    utts_per_lang: int = 200
    seed: int = 0
    speakers: int = 4
    words: list[int] = field(default_factory=lambda: [2, 6])  # [min, max] words per utterance; [2, 24] ~ read speech
    engines: list[str] = field(default_factory=lambda: ["espeak"])  # + flite, festival: voices espeak never made
    heldout_engines: list[str] = field(default_factory=list)  # engines never trained on: a held-out test set
    heldout_utts_per_lang: int = 40
    dir: str = ""  # default: work/corpus/<hash of the spec>

    def __post_init__(self):
        from polyvox.data.synth.words import check_words

        try:
            self.words = list(check_words(self.words))
        except ValueError:
            raise ValueError(f"corpus.words: expected [min, max] with 1 <= min <= max (e.g. [2, 24]), "
                             f"got {self.words!r}") from None


def corpus_dir(c: CorpusConfig) -> Path:
    """Where a built-in corpus spec lives: ``c.dir`` or work/corpus/<langs>-<n>-<hash>."""
    if c.dir:
        return Path(c.dir)
    spec = [sorted(c.langs), c.utts_per_lang, c.seed, c.speakers]
    if list(c.words) != [2, 6]:  # only then, so folders of default corpora keep their names
        spec.append(list(c.words))
    if list(c.engines) != ["espeak"] or c.heldout_engines:
        spec.append([list(c.engines), list(c.heldout_engines), c.heldout_utts_per_lang])
    key = json.dumps(spec)
    tag = hashlib.sha1(key.encode()).hexdigest()[:8]
    return CORPUS_ROOT / f"{len(c.langs)}langs-{c.utts_per_lang}-{tag}"


def synthesize_builtin(c: CorpusConfig) -> dict[str, Path]:
    """Build (or reuse) the built-in corpus ``c`` describes, in :func:`corpus_dir`;
    returns {"train"|"dev"|"test": manifest path}."""
    from polyvox.data.synth.corpus import synthesize_corpus

    return synthesize_corpus(corpus_dir(c), c.langs, c.utts_per_lang, seed=c.seed, speakers=c.speakers,
                             words=tuple(c.words), engines=c.engines, heldout_engines=c.heldout_engines,
                             heldout_utts_per_lang=c.heldout_utts_per_lang)


def read_splits(data, *, min_duration: float | None = None, max_duration: float | None = None,
                requirement: str = "") -> dict[str, list]:
    """train / dev / test rows of a data section with ``train_manifests`` / ``dev_manifests`` / ``test_manifests``
    and ``corpus``: the given manifests, or the built-in corpus (built or reused), filtered by duration.

    ValueError naming the manifests when only some are given or a split ends up empty (``requirement`` says what
    the rows had to meet, e.g. "of at least 0.5 s")."""
    from polyvox.data.manifest import filter_manifest, read_manifests

    if data.train_manifests:
        paths = {s: [Path(p) for p in getattr(data, f"{s}_manifests")] for s in ("train", "dev", "test")}
        missing = [s for s, p in paths.items() if not p]
        if missing:
            raise ValueError(f"data.train_manifests is set, so data.{missing[0]}_manifests is needed too")
    else:
        built = synthesize_builtin(data.corpus)
        paths = {s: [built[s]] for s in ("train", "dev", "test")}
    out = {s: filter_manifest(read_manifests(p), min_duration=min_duration, max_duration=max_duration)
           for s, p in paths.items()}
    for s, utts in out.items():
        if not utts:
            raise ValueError(f"the {s} split has no rows {requirement or 'after filtering'} "
                             f"({[str(p) for p in paths[s]]})")
    return out


def spec_dir(c, parent: str, exclude: tuple[str, ...] = ()) -> Path:
    """``c.dir``, or ``work/<parent>/<hash of c's fields>`` (``dir`` and ``exclude`` left out of the hash): one folder
    per corpus spec, so a changed spec never reuses another's files."""
    if c.dir:
        return Path(c.dir)
    spec = json.dumps({k: v for k, v in asdict(c).items() if k != "dir" and k not in exclude}, sort_keys=True)
    return CORPUS_ROOT.parent / parent / hashlib.sha1(spec.encode()).hexdigest()[:10]
