"""``polyvox prepare common_voice|hf|folder|slurp|speechtaxi ...``: turn a real corpus into manifests (see each loader's
module)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from polyvox.data.audio import DEFAULT_SAMPLE_RATE, AudioError
from polyvox.data.corpora.common import ON_ERROR, REPORT_NAME, CorpusError
from polyvox.data.corpora.common_voice import CV_SPLITS, prepare_common_voice
from polyvox.data.corpora.emotion import SKIPPED_NAME
from polyvox.data.corpora.folder import DEFAULT_FRACTIONS, FOLDER_AUDIO_COLUMNS, prepare_folder
from polyvox.data.corpora.hf import HF_SPEAKER_COLUMNS, HF_TEXT_COLUMNS, prepare_hf
from polyvox.data.corpora.slu import prepare_slurp, prepare_speechtaxi


def _parse_map(text: str) -> dict[str, str]:
    out = {}
    for item in filter(None, (t.strip() for t in text.split(","))):
        src, sep, dst = item.partition("=")
        if not sep or not src or not dst:
            raise argparse.ArgumentTypeError(f"expected SRC=DST[,SRC=DST...], got {item!r}")
        out[src] = dst
    return out


def _parse_fractions(text: str) -> dict[str, float]:
    out = {}
    for item in filter(None, (t.strip() for t in text.split(","))):
        name, sep, value = item.partition("=")
        try:
            if not sep or not name:
                raise ValueError
            out[name] = float(value)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"expected NAME=FRACTION[,...] e.g. train=0.8,dev=0.1,test=0.1, got {item!r}"
            ) from None
    return out


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", required=True, type=Path, help="output folder for <split>.jsonl manifests")
    p.add_argument("--on-error", choices=ON_ERROR, default="skip",
                   help=f"skip bad rows into OUT/{REPORT_NAME} (default) or stop at the first")
    p.add_argument("--force", action="store_true", help="redo even if OUT holds a run with the same inputs")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="corpus", metavar="CORPUS", required=True)

    p = sub.add_parser("common_voice", help="a Common Voice release folder (clips/ + train/dev/test.tsv)")
    p.add_argument("cv_dir", type=Path, metavar="CV_LANG_DIR", help="e.g. cv-corpus-17.0/en")
    p.add_argument("--language", help="language code for every row (default: locale column, else folder name)")
    p.add_argument("--splits", default=",".join(CV_SPLITS), help="comma-separated TSV names (default train,dev,test)")
    p.add_argument("--decode", action="store_true", help="decode every clip, not only its header")
    _common(p)

    p = sub.add_parser("hf", help="a Hugging Face datasets audio dataset (saved folder, data folder or hub id)")
    p.add_argument("source", metavar="DATASET_PATH_OR_ID")
    p.add_argument("--config", dest="config_name", help="dataset configuration name (load_dataset's name)")
    p.add_argument("--audio-column", default="audio")
    p.add_argument("--text-column", help=f"default: first present of {', '.join(HF_TEXT_COLUMNS)}")
    p.add_argument("--speaker-column", help=f"default: first present of {', '.join(HF_SPEAKER_COLUMNS)}")
    p.add_argument("--language-column")
    p.add_argument("--language", help="language code where no --language-column value")
    p.add_argument("--id-column", help="default: <split>_<row index>")
    p.add_argument("--split-map", type=_parse_map, help="e.g. train=train,validation=dev,test=test (others dropped)")
    p.add_argument("--sample-rate", type=int, default=DEFAULT_SAMPLE_RATE)
    p.add_argument("--cache-dir", help="datasets cache folder for load_dataset (default: the HF cache)")
    p.add_argument("--fractions", type=_parse_fractions, default=None,
                   help="re-split a single-split release, e.g. train=0.8,dev=0.1,test=0.1 (MINDS-14)")
    p.add_argument("--speaker-disjoint", action="store_true", help="with --fractions: whole speakers to one split")
    p.add_argument("--seed", type=int, default=0, help="with --fractions: the split's seed")
    _common(p)

    p = sub.add_parser("folder", help="a folder of audio files described by a CSV/TSV")
    p.add_argument("audio_dir", type=Path, metavar="AUDIO_DIR")
    p.add_argument("--csv", required=True, type=Path, help="CSV (or .tsv) with one row per file")
    p.add_argument("--audio-column", help=f"default: first present of {', '.join(FOLDER_AUDIO_COLUMNS)}")
    p.add_argument("--text-column", default="text")
    p.add_argument("--speaker-column", default="speaker")
    p.add_argument("--language-column", default="language")
    p.add_argument("--language", help="language code where the CSV has no language value")
    p.add_argument("--id-column", default="id")
    p.add_argument("--split-column", default="split")
    p.add_argument("--fractions", type=_parse_fractions, default=dict(DEFAULT_FRACTIONS),
                   help="used when the CSV has no split column (default train=0.8,dev=0.1,test=0.1)")
    p.add_argument("--speaker-disjoint", action="store_true", help="whole speakers go to one split")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--delimiter", help="default: tab for .tsv, else comma")
    p.add_argument("--decode", action="store_true", help="decode every file, not only its header")
    _common(p)

    p = sub.add_parser("slurp", help="SLURP: dataset/slurp/*.jsonl + slurp_real/ (intent = scenario_action)")
    p.add_argument("root", type=Path, metavar="SLURP_DIR", help="holds dataset/slurp/ and slurp_real/")
    p.add_argument("--synthetic", action="store_true", help="add train_synthetic.jsonl (slurp_synth/) to train")
    _common(p)

    p = sub.add_parser("speechtaxi", help="SpeechTaxi: data/<bible>/.../Verse_<n>.mp3 + its split tables (label)")
    p.add_argument("root", type=Path, metavar="SPEECHTAXI_DIR", help="data.zip and tables.zip unpacked there")
    p.add_argument("--langs", default="", help="comma-separated language codes to keep, e.g. asm,eng (default all)")
    _common(p)


def run(args: argparse.Namespace) -> int:
    common = dict(on_error=args.on_error, force=args.force)
    try:
        if args.corpus == "common_voice":
            splits = [s for s in args.splits.split(",") if s]
            manifests = prepare_common_voice(
                args.cv_dir, args.out, language=args.language, splits=splits, decode=args.decode, **common
            )
        elif args.corpus == "slurp":
            manifests = prepare_slurp(args.root, args.out, synthetic=args.synthetic, **common)
        elif args.corpus == "speechtaxi":
            manifests = prepare_speechtaxi(args.root, args.out, langs=[c for c in args.langs.split(",") if c],
                                           **common)
        elif args.corpus == "hf":
            manifests = prepare_hf(
                args.source, args.out, config_name=args.config_name, audio_column=args.audio_column,
                text_column=args.text_column, speaker_column=args.speaker_column,
                language_column=args.language_column, language=args.language, id_column=args.id_column,
                split_map=args.split_map, sample_rate=args.sample_rate, cache_dir=args.cache_dir,
                fractions=args.fractions, by_speaker=args.speaker_disjoint, seed=args.seed, **common,
            )
        else:
            manifests = prepare_folder(
                args.audio_dir, args.csv, args.out, audio_column=args.audio_column, text_column=args.text_column,
                speaker_column=args.speaker_column, language_column=args.language_column, language=args.language,
                id_column=args.id_column, split_column=args.split_column, fractions=args.fractions,
                by_speaker=args.speaker_disjoint, seed=args.seed, delimiter=args.delimiter, decode=args.decode,
                **common,
            )
    except (CorpusError, AudioError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    for split, path in manifests.items():
        n = sum(1 for line in open(path, encoding="utf-8") if line.strip())
        print(f"{split}: {n} utterances -> {path}")
    report = next((r for r in (Path(args.out) / REPORT_NAME, Path(args.out) / SKIPPED_NAME) if r.exists()), None)
    skipped = sum(1 for line in open(report, encoding="utf-8") if line.strip()) if report else 0
    if skipped:
        print(f"skipped {skipped} row(s); reasons in {report}")
    return 0
