"""``polyvox eval``, ``polyvox transcribe`` and ``polyvox export`` for trained CTC runs.

    polyvox eval RUN --manifest test.jsonl [--langs en,es] [--beam 16 --lm]   per-language table
    polyvox eval RUN --manifest dev.jsonl --tune-lm                            LM weight grid on dev
    polyvox transcribe RUN a.wav b.flac ...                                    one line per file
    polyvox export RUN OUT                                                     Hugging Face directory
"""

from __future__ import annotations

import json
import sys


def _add_common(p) -> None:
    p.add_argument("run", help="trained run directory (holds config.yaml, vocab.json, model.safetensors)")
    p.add_argument("--beam", type=int, default=0, help="beam search with this width (default: the run's decoding)")
    p.add_argument("--greedy", action="store_true", help="greedy decoding regardless of the run's config")
    p.add_argument("--lm", action="store_true", help="with --beam: use the run's n-gram LM (lm.arpa)")
    p.add_argument("--lm-alpha", type=float, default=None, help="LM weight")
    p.add_argument("--lm-beta", type=float, default=None, help="word insertion bonus")
    p.add_argument("--device", default=None, help="cpu / cuda (default: cuda if available)")
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads (default: torch's choice)")
    p.add_argument("--batch-seconds", type=float, default=None,
                   help="padded audio per batch (default: 10 on CPU, 240 on GPU)")


def _load(args):
    import dataclasses
    from pathlib import Path

    import torch

    from polyvox.speech.asr.config import AsrConfig
    from polyvox.speech.asr.run import CONFIG_FILE, LM_FILE, load_run
    from polyvox.train.config import load_config

    if args.threads:
        torch.set_num_threads(args.threads)
    decode = load_config(AsrConfig, Path(args.run) / CONFIG_FILE).decode if (Path(args.run) / CONFIG_FILE).exists() else None
    if decode is not None:
        if args.greedy:
            decode = dataclasses.replace(decode, method="greedy")
        elif args.beam:
            decode = dataclasses.replace(decode, method="beam", beam_width=args.beam)
        if args.lm:
            if not (Path(args.run) / LM_FILE).exists():
                raise FileNotFoundError(f"{Path(args.run) / LM_FILE}: no LM in this run (train with decode.lm_order=3)")
            decode = dataclasses.replace(decode, lm_path=str(Path(args.run) / LM_FILE))
        if args.lm_alpha is not None:
            decode = dataclasses.replace(decode, lm_alpha=args.lm_alpha)
        if args.lm_beta is not None:
            decode = dataclasses.replace(decode, lm_beta=args.lm_beta)
    return load_run(args.run, decode=decode, device=args.device)


def _fail(cmd: str, e: Exception) -> int:
    print(f"polyvox {cmd}: error: {e}", file=sys.stderr)
    return 2


# ----------------------------------------------------------------------------------- eval


def add_eval_arguments(p) -> None:
    _add_common(p)
    p.add_argument("--manifest", required=True, help="JSONL manifest to score")
    p.add_argument("--langs", default="", help="comma-separated languages to keep (default: all)")
    p.add_argument("--out", default="", help="also write the summary (JSON) and predictions (.predictions.jsonl) here")
    p.add_argument("--on-error", choices=["skip", "raise"], default="skip",
                   help="an unusable clip: skip it and list it in --report (default), or stop with an error")
    p.add_argument("--report", default="", help="where skipped clips are listed (default: MANIFEST.skipped.jsonl)")
    p.add_argument("--tune-lm", action="store_true",
                   help="grid-search the LM weight (alpha) and word bonus (beta) of beam + LM decoding on this "
                        "manifest (a dev set) and print the best pair; the acoustic model runs once")
    p.add_argument("--alphas", default="0,0.25,0.5,1,2", help="with --tune-lm: LM weights to try")
    p.add_argument("--betas", default="-1,0,1,2", help="with --tune-lm: word insertion bonuses to try")
    p.add_argument("--tune-metric", default="wer", help="with --tune-lm: the metric to minimize (wer, cer, per)")


def run_eval(args) -> int:
    from polyvox.data.manifest import ManifestError, filter_manifest, read_manifest
    from polyvox.speech.asr.run import evaluate_utterances
    from polyvox.speech.asr.task import nan_to_none
    from polyvox.eval.error_rates import results_table

    try:
        run = _load(args)
        utts = read_manifest(args.manifest)
        langs = [l for l in args.langs.split(",") if l]
        utts = filter_manifest(utts, languages=langs or None)
        if not utts:
            raise ValueError(f"{args.manifest}: no utterances for languages {langs}")
        report = args.report or f"{args.manifest}.skipped.jsonl"
        if args.tune_lm:
            return _tune_lm(args, run, utts, report)
        summary, rows = evaluate_utterances(run, utts, max_batch_seconds=args.batch_seconds,
                                            on_error=args.on_error, report_path=report)
    except (FileNotFoundError, ManifestError, ValueError) as e:  # AudioError is a ValueError
        return _fail("eval", e)
    if len(rows) < len(utts):
        print(f"{len(utts) - len(rows)} unusable clip(s) skipped and not scored; listed in {report}", file=sys.stderr)
    seen = json.loads((run.run_dir / "results.json").read_text())["train_langs"] if (run.run_dir / "results.json").exists() else None
    print(f"{args.run} on {args.manifest} ({run.unit} targets, {run.config.decode.method} decoding)\n")
    print(results_table(summary, seen=seen))
    if args.out:
        from pathlib import Path

        out = Path(args.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps({l: {k: nan_to_none(v) for k, v in s.items()} for l, s in summary.items()}, indent=1))
        with open(out.with_suffix(".predictions.jsonl"), "w", encoding="utf-8") as f:
            for r in rows:
                f.write(json.dumps({k: r[k] for k in ("id", "language", "ref", "hyp")}, ensure_ascii=False) + "\n")
    return 0


def _floats(text: str, flag: str) -> list[float]:
    try:
        values = [float(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise ValueError(f"{flag}: expected comma-separated numbers, got {text!r}") from None
    if not values:
        raise ValueError(f"{flag}: no values given")
    return values


def _tune_lm(args, run, utts, report) -> int:
    from polyvox.speech.asr.run import tune_lm_weights
    from polyvox.eval.error_rates import METRICS

    if args.tune_metric not in METRICS:
        raise ValueError(f"--tune-metric: expected one of {sorted(METRICS)}, got {args.tune_metric!r}")
    if run.decoder is None and not args.lm:
        raise ValueError("--tune-lm needs beam search with an LM: add --beam 16 --lm (or train with decode.lm_order > 0)")
    grid = tune_lm_weights(run, utts, _floats(args.alphas, "--alphas"), _floats(args.betas, "--betas"),
                           max_batch_seconds=args.batch_seconds, on_error=args.on_error, report_path=report)
    metric, primary = args.tune_metric, "per" if run.unit == "phoneme" else "cer"
    if metric not in grid[0]["summary"]["all"]:
        raise ValueError(f"--tune-metric {metric}: not measured for {run.unit} targets; use wer or {primary}")
    print(f"{args.run} on {args.manifest}: beam {run.config.decode.beam_width} + LM, all rows, %\n")
    print(f"| alpha | beta | {metric.upper()} |" + (f" {primary.upper()} |" if primary != metric else ""))
    print("|---:|---:|---:|" + ("---:|" if primary != metric else ""))
    for g in grid:
        s = g["summary"]["all"]
        print(f"| {g['alpha']:g} | {g['beta']:g} | {100 * s[metric]:.2f} |"
              + (f" {100 * s[primary]:.2f} |" if primary != metric else ""))
    best = min(grid, key=lambda g: g["summary"]["all"][metric])
    print(f"\nbest {metric.upper()} {100 * best['summary']['all'][metric]:.2f} %: "
          f"--lm-alpha {best['alpha']:g} --lm-beta {best['beta']:g}")
    if args.out:
        from pathlib import Path

        out = Path(args.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps({"metric": metric, "best": {"alpha": best["alpha"], "beta": best["beta"]},
                                   "grid": grid}, indent=1, default=float))
    return 0


# ----------------------------------------------------------------------------------- transcribe


def add_transcribe_arguments(p) -> None:
    _add_common(p)
    p.add_argument("audio", nargs="+", help="audio files (wav, flac, ogg, mp3); resampled to 16 kHz")
    p.add_argument("--json", action="store_true", help="print JSON lines {audio, text} instead of 'path<TAB>text'")


def run_transcribe(args) -> int:
    from polyvox.data.audio import AudioError, load_audio
    from polyvox.speech.asr.run import transcribe

    try:
        run = _load(args)
        wavs = [load_audio(path, 16000, allow_silence=True)[0] for path in args.audio]
    except (FileNotFoundError, AudioError, ValueError) as e:
        return _fail("transcribe", e)
    for path, text in zip(args.audio, transcribe(run, wavs, max_batch_seconds=args.batch_seconds)):
        print(json.dumps({"audio": path, "text": text}, ensure_ascii=False) if args.json else f"{path}\t{text}")
    return 0


# ----------------------------------------------------------------------------------- export


def add_export_arguments(p) -> None:
    p.add_argument("run", help="trained run directory")
    p.add_argument("out", help="output directory for the Hugging Face model + processor")


def run_export(args) -> int:
    from polyvox.speech.asr.export import ExportError, export_run

    try:
        out = export_run(args.run, args.out)
    except (ExportError, FileNotFoundError) as e:
        return _fail("export", e)
    print(f"exported {args.run} -> {out}\n"
          f"  transformers.pipeline('automatic-speech-recognition', model='{out}')")  # fmt: skip
    return 0
