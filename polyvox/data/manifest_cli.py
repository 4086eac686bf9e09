"""``polyvox manifest validate|stats``: check a manifest and its audio, or print its statistics.

``validate`` does not stop at the first bad row: every problem is printed as
``FILE:LINE id=ID: reason`` and the command exits 1 if there was any, 0 if the manifest is clean.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Iterator

from polyvox.data.audio import DEFAULT_SAMPLE_RATE, AudioError, audio_info, load_audio
from polyvox.data.manifest import (ManifestError, format_stats, manifest_lines, manifest_stats, read_manifest,
                                   row_to_utterance)


def validate_manifest(
    path: str | Path,
    *,
    sample_rate: int = DEFAULT_SAMPLE_RATE,
    duration_tolerance: float = 0.1,
    check_audio: bool = True,
) -> Iterator[tuple[str, str]]:
    """Yield every problem of a manifest as a ``(location, reason)`` pair.

    ``location`` is ``FILE:LINE id=ID``; every row is checked (schema, duplicate ids, and unless
    ``check_audio`` is False, that its audio decodes at ``sample_rate`` with the row's duration and
    sample rate). Raises ManifestError only if the file itself is missing.
    """
    root = Path(path).resolve().parent
    seen: dict[str, int] = {}
    for lineno, where, row in manifest_lines(path):
        if isinstance(row, json.JSONDecodeError):
            yield f"{where} id=?", f"not valid JSON ({row.msg} at column {row.colno})"
            continue
        uid = row.get("id", "?") if isinstance(row, dict) else "?"
        loc = f"{where} id={uid}"
        try:
            utt = row_to_utterance(row, where, root)
        except ManifestError as e:
            msg = str(e)
            yield loc, msg[len(where) + 2 :] if msg.startswith(where + ": ") else msg
            continue
        if utt.id in seen:
            yield loc, f"duplicate id '{utt.id}' (first on line {seen[utt.id]})"
            continue
        seen[utt.id] = lineno
        if not check_audio:
            continue
        try:
            info = audio_info(utt.audio)
            if info.sample_rate != utt.sample_rate:
                yield loc, f"{utt.audio}: file is {info.sample_rate} Hz but the row says sample_rate {utt.sample_rate}"
            load_audio(utt.audio, sample_rate, expected_duration=utt.duration, duration_tolerance=duration_tolerance)
        except AudioError as e:
            yield loc, str(e)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    p = sub.add_parser("validate", help="check every row and its audio; exit 1 if any problem")
    p.add_argument("manifest", type=Path)
    p.add_argument("--sample-rate", type=int, default=DEFAULT_SAMPLE_RATE, help="rate the audio is decoded at")
    p.add_argument("--duration-tolerance", type=float, default=0.1, help="seconds the decoded duration may differ")
    p.add_argument("--no-audio", action="store_true", help="check the rows only, do not decode the audio")
    p = sub.add_parser("stats", help="print utterances, hours, languages and speakers as a markdown table")
    p.add_argument("manifests", type=Path, nargs="+")
    p.add_argument("--json", action="store_true", help="print the statistics as JSON instead")


def run(args: argparse.Namespace) -> int:
    return _validate(args) if args.action == "validate" else _stats(args)


def _validate(args: argparse.Namespace) -> int:
    rows_with_problems, problems = set(), 0
    try:
        for loc, reason in validate_manifest(
            args.manifest,
            sample_rate=args.sample_rate,
            duration_tolerance=args.duration_tolerance,
            check_audio=not args.no_audio,
        ):
            print(f"{loc}: {reason}")
            rows_with_problems.add(loc)
            problems += 1
    except ManifestError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    with open(args.manifest, encoding="utf-8") as f:
        rows = sum(1 for line in f if line.strip())
    if problems:
        print(f"{args.manifest}: {problems} problem(s) in {len(rows_with_problems)} of {rows} rows")
        return 1
    what = "rows and audio" if not args.no_audio else "rows (audio not checked)"
    print(f"{args.manifest}: OK, {rows} {what} valid")
    return 0


def _stats(args: argparse.Namespace) -> int:
    out = {}
    for path in args.manifests:
        try:
            out[str(path)] = manifest_stats(read_manifest(path))
        except ManifestError as e:
            print(f"error: {e}", file=sys.stderr)
            return 1
    if args.json:
        print(json.dumps(out, indent=1))
    else:
        print("\n\n".join(format_stats(s, title=name) for name, s in out.items()))
    return 0
