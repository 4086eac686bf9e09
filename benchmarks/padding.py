"""Padding waste of duration-bucketed batches vs random batches at the same padded budget.

    python benchmarks/padding.py                       # built-in corpus, 10 languages x 100 utterances
    python benchmarks/padding.py --manifest m.jsonl    # any manifest(s)
    python benchmarks/padding.py --words 2-24          # built-in corpus with read-speech-like durations

Padding waste = padded seconds that are padding / all padded seconds, averaged over epochs.
"Random" fills batches to the same ``max_seconds`` budget in random order; "fixed" cuts random
order into batches of the bucketed sampler's mean batch size. Prints a markdown table.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from polyvox.data.manifest import read_manifest  # noqa: E402
from polyvox.data.sampler import (  # noqa: E402
    DurationBucketSampler,
    fixed_size_batches,
    padding_waste,
    random_batch_sampler,
)
from polyvox.data.synth.corpus import parse_words  # noqa: E402
from polyvox.data.synth.words import DEFAULT_WORDS  # noqa: E402

BENCH_LANGS = ["en", "es", "de", "fr", "hi", "ru", "ar", "ja", "ta", "fi"]


def corpus_durations(manifests: list[str], out: Path, langs: list[str], utts: int,
                     words: tuple[int, int] = DEFAULT_WORDS) -> tuple[list[float], str]:
    """Durations (seconds) of the manifests' rows, else of the built-in corpus in ``out`` (built
    if needed, ``words`` = (min, max) words per utterance); and a line saying where they came from."""
    if manifests:
        utts_ = [u for m in manifests for u in read_manifest(m)]
        return [u.duration for u in utts_], ", ".join(manifests)
    from polyvox.data.synth.corpus import synthesize_corpus

    paths = synthesize_corpus(out, langs, utts, seed=0, speakers=4, words=words)
    rows = [u for p in paths.values() for u in read_manifest(p)]
    where = f"built-in corpus ({len(langs)} languages x {utts}, {words[0]}-{words[1]} words, {out})"
    return [u.duration for u in rows], where


def measure(durations: list[float], max_seconds: float, epochs: int, num_buckets: int) -> dict:
    bucketed = DurationBucketSampler(durations, max_seconds, num_buckets=num_buckets)
    rand = random_batch_sampler(durations, max_seconds)
    b_waste, r_waste, f_waste, b_count, r_count = [], [], [], [], []
    t0 = time.perf_counter()
    for epoch in range(epochs):
        bb = list(bucketed)
        b_waste.append(padding_waste(bb, durations))
        b_count.append(len(bb))
    plan_s = (time.perf_counter() - t0) / epochs
    for epoch in range(epochs):
        rb = list(rand)
        r_waste.append(padding_waste(rb, durations))
        r_count.append(len(rb))
        size = max(1, round(len(durations) / statistics.mean(b_count)))
        f_waste.append(padding_waste(fixed_size_batches(len(durations), size, seed=epoch), durations))
    return {
        "max_seconds": max_seconds,
        "bucketed": statistics.mean(b_waste),
        "random": statistics.mean(r_waste),
        "fixed": statistics.mean(f_waste),
        "bucketed_batches": statistics.mean(b_count),
        "random_batches": statistics.mean(r_count),
        "plan_ms": plan_s * 1000,
    }


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--manifest", action="append", default=[], help="manifest(s) to read; default: built-in corpus")
    p.add_argument("--out", default=str(ROOT / "work" / "bench_corpus"), help="where the built-in corpus goes")
    p.add_argument("--langs", default=",".join(BENCH_LANGS))
    p.add_argument("--utts-per-lang", type=int, default=100)
    p.add_argument("--words", type=parse_words, default=DEFAULT_WORDS, metavar="MIN-MAX",
                   help="words per utterance of the built-in corpus (default 2-6; 2-24 spreads durations like "
                        "read speech); other ranges go to OUT-wordsMIN-MAX")
    p.add_argument("--max-seconds", type=float, nargs="+", default=[30.0, 60.0, 120.0])
    p.add_argument("--num-buckets", type=int, default=30)
    p.add_argument("--epochs", type=int, default=5)
    args = p.parse_args(argv)

    # a separate folder per word range, so a wide-spread corpus never replaces the default one
    out = Path(args.out) if args.words == DEFAULT_WORDS else Path("{}-words{}-{}".format(args.out, *args.words))
    durations, source = corpus_durations(args.manifest, out, args.langs.split(","), args.utts_per_lang, args.words)
    print(f"{source}: {len(durations)} utterances, {sum(durations) / 60:.1f} min, "
          f"duration {min(durations):.2f}-{max(durations):.2f} s (mean {statistics.mean(durations):.2f} s)")  # fmt: skip
    print(f"padding waste, mean of {args.epochs} epochs; {args.num_buckets} buckets\n")
    print("| max_seconds | bucketed | random (same budget) | fixed batch size | batches bucketed / random | plan ms/epoch |")
    print("|---:|---:|---:|---:|---:|---:|")
    for ms in args.max_seconds:
        r = measure(durations, ms, args.epochs, args.num_buckets)
        print(f"| {ms:g} | {r['bucketed']:.1%} | {r['random']:.1%} | {r['fixed']:.1%} | "
              f"{r['bucketed_batches']:.0f} / {r['random_batches']:.0f} | {r['plan_ms']:.1f} |")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
