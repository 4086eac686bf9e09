"""``polyvox phonemes``: transcribe audio into IPA with a trained phone-recognition run, for any
espeak-ng language, including languages the run never saw.

    polyvox phonemes RUN a.wav b.flac --lang sw            # mapped onto espeak-ng's Swahili phones
    polyvox phonemes RUN a.wav --inventory phones.txt      # onto a user inventory (one phone a line)
    polyvox phonemes RUN a.wav                             # raw: the run's own phones
    polyvox phonemes RUN a.wav --lang nl --mode restrict   # or --mode all: one line per mode

Prints ``path<TAB>phones`` (IPA segments separated by spaces, ``|`` between words) or JSON lines.
Modes are described in :mod:`polyvox.speech.phones.zeroshot`.
"""

from __future__ import annotations

import json
import sys

from polyvox.speech.phones.zeroshot import MODES


def add_arguments(p) -> None:
    p.add_argument("run", help="trained phoneme run directory (config.yaml, vocab.json, model.safetensors)")
    p.add_argument("audio", nargs="+", help="audio files (wav, flac, ogg, mp3); resampled to 16 kHz")
    target = p.add_mutually_exclusive_group()
    target.add_argument("--lang", help="target language: any espeak-ng language code or name (e.g. sw, nl, Tamil)")
    target.add_argument("--inventory", help="target phone inventory: text file, one phone per line (or a JSON list)")
    p.add_argument("--mode", choices=MODES + ("all",), default=None,
                   help="map (default with a target): training phones mapped to the nearest target phone by "
                        "articulatory features; restrict: only training phones in the target inventory; "
                        "raw (default without a target); all: one output per mode")
    p.add_argument("--json", action="store_true", help="print JSON lines {audio, mode, phones}")
    p.add_argument("--device", default=None, help="cpu / cuda (default: cuda if available)")
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads (default: torch's choice)")
    p.add_argument("--batch-seconds", type=float, default=None, help="padded audio per batch (default 10 on CPU)")


def run(args) -> int:
    import torch

    from polyvox.data.audio import AudioError, load_audio
    from polyvox.speech.phones import zeroshot
    from polyvox.speech.asr.run import load_run

    has_target = bool(args.lang or args.inventory)
    mode = args.mode or ("map" if has_target else "raw")
    modes = list(MODES) if mode == "all" else [mode]
    if not has_target and modes != ["raw"]:
        print(f"polyvox phonemes: error: --mode {mode} needs a target (--lang or --inventory)", file=sys.stderr)
        return 2
    if args.threads:
        torch.set_num_threads(args.threads)
    try:
        run_ = load_run(args.run, device=args.device)
        if run_.unit != "phoneme":
            raise ValueError(f"{args.run}: this run was trained on {run_.unit} targets, not phonemes")
        inventory = None
        if has_target:
            inventory = zeroshot.target_inventory(lang=args.lang, path=args.inventory)
        decode_modes = zeroshot.build_modes(run_.vocab, inventory, modes)
        wavs = [load_audio(path, 16000, allow_silence=True)[0] for path in args.audio]
    except (FileNotFoundError, AudioError, ValueError) as e:
        print(f"polyvox phonemes: error: {e}", file=sys.stderr)
        return 2
    out = zeroshot.transcribe_phones(run_, wavs, decode_modes, max_batch_seconds=args.batch_seconds)
    for i, path in enumerate(args.audio):
        for m in modes:
            text = " ".join(out[m][i])
            if args.json:
                print(json.dumps({"audio": path, "mode": m, "phones": text}, ensure_ascii=False))
            else:
                print(f"{path}\t{m}\t{text}" if len(modes) > 1 else f"{path}\t{text}")
    return 0
