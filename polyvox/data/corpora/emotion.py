"""Loaders for speech emotion corpora: CREMA-D, RAVDESS, EmoDB, IEMOCAP (ADIMA, for abuse detection, is in
:mod:`polyvox.data.corpora.adima`; both are listed in :data:`PREPARERS`).

Each ``prepare_<corpus>(root, out_dir, ...) -> {"train"|"dev"|"test": manifest path}`` reads
the corpus in its distributed layout under ``root`` (nothing is downloaded) and writes polyvox
manifests with the label in ``custom["emotion"]`` (emotion corpora) or ``custom["label"]``
(ADIMA: "abusive" / "clean"). Emotion names are shared across corpora: neutral, calm, happy,
sad, angry, fearful, disgust, surprised, boredom, frustrated, other.

Splits are speaker-independent by default: whole speakers (actors) go to one split, chosen
by the seed or given explicitly; IEMOCAP is leave-one-session-out. Calls are idempotent:
when ``out_dir`` already holds the manifests of a call with the same arguments, they are
returned without rescanning. Files that cannot be read are left out and listed in
``out_dir/skipped.jsonl`` (path and reason), never silently.
"""

from __future__ import annotations

import logging
import os
import random
import re
from collections import defaultdict
from pathlib import Path
from typing import Sequence

from polyvox.data.audio import AudioError, audio_info
from polyvox.data.manifest import Utterance, split_manifest

from polyvox.data.corpora.common import SPLITS, CorpusError, finish, reuse

log = logging.getLogger(__name__)

FRACTIONS = {"train": 0.8, "dev": 0.1, "test": 0.1}
AUDIO_EXTS = (".wav", ".flac", ".mp3", ".ogg")
SKIPPED_NAME = "skipped.jsonl"


def finish_splits(out_dir: Path, params: dict, parts: dict[str, list[Utterance]], skipped: list[dict]) -> dict[str, Path]:
    if skipped:
        log.warning("%s: left out %d unreadable file(s), listed in %s", params["corpus"], len(skipped),
                    out_dir / SKIPPED_NAME)
    parts = {name: sorted(parts.get(name, []), key=lambda u: u.id) for name in SPLITS}
    return finish(out_dir, params, parts, skipped, report_name=SKIPPED_NAME)


def file_utterance(path: Path, uid: str, language: str, speaker: str, custom: dict, skipped: list[dict],
               text: str = "") -> Utterance | None:
    """A manifest row for one file (header read only), or None + a skipped entry."""
    try:
        info = audio_info(path)
    except AudioError as e:
        skipped.append({"audio": str(path), "reason": e.reason})
        return None
    return Utterance(id=uid, audio=str(path.resolve()), duration=round(info.duration, 6),
                     sample_rate=info.sample_rate, language=language, speaker=speaker, text=text, custom=custom)


def _glob(root: Path, pattern: str, what: str) -> list[Path]:
    if not root.is_dir():
        raise CorpusError(f"{root}: corpus folder not found")
    files = sorted(root.glob(pattern))
    if not files:
        raise CorpusError(f"{root}: no files match {pattern!r}; expected {what}")
    return files


def speaker_split(utts: Sequence[Utterance], *, seed: int = 0, test_speakers: Sequence[str] = (),
                  dev_speakers: Sequence[str] = (), fractions: dict[str, float] = FRACTIONS) -> dict[str, list[Utterance]]:
    """Speaker-disjoint train/dev/test. With ``test_speakers`` (and optionally
    ``dev_speakers``) those speakers form the test (dev) split; otherwise whole speakers are
    assigned by the seed in the proportions of ``fractions``."""
    speakers = {u.speaker for u in utts}
    for name, given in (("test_speakers", test_speakers), ("dev_speakers", dev_speakers)):
        unknown = sorted(set(given) - speakers)
        if unknown:
            raise ValueError(f"{name}: unknown speaker(s) {unknown}; the corpus has {sorted(speakers)}")
    if not test_speakers:
        if dev_speakers:
            raise ValueError("dev_speakers needs test_speakers too")
        return split_manifest(utts, fractions, seed=seed, by_speaker=True)
    test, dev = set(test_speakers), set(dev_speakers)
    if test & dev:
        raise ValueError(f"speakers {sorted(test & dev)} are in both test_speakers and dev_speakers")
    rest = [u for u in utts if u.speaker not in test]
    if not dev:  # pick dev speakers from the rest by the seed
        rest_spk = sorted({u.speaker for u in rest})
        n_dev = max(1, round(len(rest_spk) * fractions["dev"] / (fractions["train"] + fractions["dev"])))
        dev = set(random.Random(seed).sample(rest_spk, min(n_dev, len(rest_spk) - 1)))
    return {"train": [u for u in rest if u.speaker not in dev], "dev": [u for u in rest if u.speaker in dev],
            "test": [u for u in utts if u.speaker in test]}  # fmt: skip


def prepare_params(corpus: str, root: Path, **kw) -> dict:
    return {"corpus": corpus, "root": str(root.resolve()),
            **{k: (list(v) if isinstance(v, (tuple, list)) else v) for k, v in kw.items()}}  # fmt: skip



# ----------------------------------------------------------------------------- CREMA-D

CREMA_EMOTIONS = {"ANG": "angry", "DIS": "disgust", "FEA": "fearful", "HAP": "happy", "NEU": "neutral", "SAD": "sad"}
CREMA_LEVELS = {"LO": "low", "MD": "medium", "HI": "high", "XX": "unspecified"}
_CREMA_RE = re.compile(r"^(\d{4})_([A-Z]{3})_([A-Z]{3})_([A-Z]{2})$")


def prepare_crema_d(root: str | os.PathLike, out_dir: str | os.PathLike, *, seed: int = 0,
                    test_speakers: Sequence[str] = (), dev_speakers: Sequence[str] = ()) -> dict[str, Path]:
    """CREMA-D: ``root/AudioWAV/1001_DFA_ANG_XX.wav`` = actor_sentence_emotion_level (91 actors,
    English, 6 emotions). Speakers are actor ids ("1001")."""
    root, out_dir = Path(root), Path(out_dir)
    params = prepare_params("crema_d", root, seed=seed, test_speakers=test_speakers, dev_speakers=dev_speakers)
    if (hit := reuse(out_dir, params)) is not None:
        return hit
    utts, skipped = [], []
    for path in _glob(root, "AudioWAV/*.wav", "AudioWAV/<actor>_<sentence>_<EMO>_<level>.wav, e.g. AudioWAV/1001_DFA_ANG_XX.wav"):
        m = _CREMA_RE.match(path.stem)
        if not m or m.group(3) not in CREMA_EMOTIONS:
            skipped.append({"audio": str(path), "reason": "file name is not <actor>_<sentence>_<ANG|DIS|FEA|HAP|NEU|SAD>_<level>"})
            continue
        actor, sentence, emo, level = m.groups()
        custom = {"emotion": CREMA_EMOTIONS[emo], "sentence": sentence, "intensity": CREMA_LEVELS.get(level, level.lower())}
        u = file_utterance(path, f"crema-{path.stem}", "en", actor, custom, skipped)
        if u:
            utts.append(u)
    parts = speaker_split(utts, seed=seed, test_speakers=test_speakers, dev_speakers=dev_speakers)
    return finish_splits(out_dir, params, parts, skipped)


# ----------------------------------------------------------------------------- RAVDESS

RAVDESS_EMOTIONS = {"01": "neutral", "02": "calm", "03": "happy", "04": "sad", "05": "angry", "06": "fearful",
                    "07": "disgust", "08": "surprised"}  # fmt: skip
_RAVDESS_RE = re.compile(r"^(\d{2})-(\d{2})-(\d{2})-(\d{2})-(\d{2})-(\d{2})-(\d{2})$")


def prepare_ravdess(root: str | os.PathLike, out_dir: str | os.PathLike, *, seed: int = 0, include_song: bool = False,
                    test_speakers: Sequence[str] = (), dev_speakers: Sequence[str] = ()) -> dict[str, Path]:
    """RAVDESS audio: ``root/Actor_12/03-01-05-01-01-01-12.wav`` = modality (03 audio-only) -
    vocal channel (01 speech, 02 song) - emotion (01-08) - intensity (01 normal, 02 strong) -
    statement - repetition - actor (odd male, even female). 24 actors, English. Speakers are
    "actor12"; songs are left out unless ``include_song``."""
    root, out_dir = Path(root), Path(out_dir)
    params = prepare_params("ravdess", root, seed=seed, include_song=include_song, test_speakers=test_speakers,
                     dev_speakers=dev_speakers)  # fmt: skip
    if (hit := reuse(out_dir, params)) is not None:
        return hit
    utts, skipped = [], []
    for path in _glob(root, "Actor_*/*.wav", "Actor_XX/03-01-05-01-01-01-XX.wav files"):
        m = _RAVDESS_RE.match(path.stem)
        if not m or m.group(3) not in RAVDESS_EMOTIONS:
            skipped.append({"audio": str(path), "reason": "file name is not MM-VV-EE-II-SS-RR-AA (7 two-digit fields)"})
            continue
        modality, channel, emo, intensity, statement, rep, actor = m.groups()
        if modality != "03" or (channel == "02" and not include_song):
            continue
        custom = {"emotion": RAVDESS_EMOTIONS[emo], "intensity": "strong" if intensity == "02" else "normal",
                  "statement": statement, "vocal_channel": "song" if channel == "02" else "speech",
                  "gender": "male" if int(actor) % 2 else "female"}  # fmt: skip
        u = file_utterance(path, f"ravdess-{path.stem}", "en", f"actor{actor}", custom, skipped)
        if u:
            utts.append(u)
    parts = speaker_split(utts, seed=seed, test_speakers=test_speakers, dev_speakers=dev_speakers)
    return finish_splits(out_dir, params, parts, skipped)


# ----------------------------------------------------------------------------- EmoDB

EMODB_EMOTIONS = {"W": "angry", "L": "boredom", "E": "disgust", "A": "fearful", "F": "happy", "T": "sad", "N": "neutral"}
EMODB_MALE = {"03", "10", "11", "12", "15"}
_EMODB_RE = re.compile(r"^(\d{2})([ab]\d{2})([WLEAFTN])([a-z])$")


def prepare_emodb(root: str | os.PathLike, out_dir: str | os.PathLike, *, seed: int = 0,
                  test_speakers: Sequence[str] = (), dev_speakers: Sequence[str] = ()) -> dict[str, Path]:
    """Berlin EmoDB: ``root/wav/03a01Fa.wav`` = speaker (2 digits) + text (a01-b10) + emotion
    letter (German initials: W Ärger/angry, L Langeweile/boredom, E Ekel/disgust, A Angst/fearful,
    F Freude/happy, T Trauer/sad, N neutral) + version. 10 speakers, German."""
    root, out_dir = Path(root), Path(out_dir)
    params = prepare_params("emodb", root, seed=seed, test_speakers=test_speakers, dev_speakers=dev_speakers)
    if (hit := reuse(out_dir, params)) is not None:
        return hit
    utts, skipped = [], []
    for path in _glob(root, "wav/*.wav", "wav/<speaker><text><emotion><version>.wav, e.g. wav/03a01Fa.wav"):
        m = _EMODB_RE.match(path.stem)
        if not m:
            skipped.append({"audio": str(path), "reason": "file name is not <2-digit speaker><a|b + 2 digits><WLEAFTN><version>"})
            continue
        spk, text_id, emo, _ = m.groups()
        custom = {"emotion": EMODB_EMOTIONS[emo], "text_id": text_id, "gender": "male" if spk in EMODB_MALE else "female"}
        u = file_utterance(path, f"emodb-{path.stem}", "de", spk, custom, skipped)
        if u:
            utts.append(u)
    parts = speaker_split(utts, seed=seed, test_speakers=test_speakers, dev_speakers=dev_speakers)
    return finish_splits(out_dir, params, parts, skipped)


# ----------------------------------------------------------------------------- IEMOCAP

IEMOCAP_EMOTIONS = {"neu": "neutral", "hap": "happy", "exc": "excited", "sad": "sad", "ang": "angry",
                    "fru": "frustrated", "sur": "surprised", "fea": "fearful", "dis": "disgust", "oth": "other"}  # fmt: skip
IEMOCAP_4CLASS = {"neu": "neutral", "hap": "happy", "exc": "happy", "sad": "sad", "ang": "angry"}
_IEMO_EVAL_RE = re.compile(r"^\[\s*([\d.]+)\s*-\s*([\d.]+)\s*\]\s+(Ses\d\d[FM]\S+)\s+(\w+)\s+\[")
_IEMO_TRANS_RE = re.compile(r"^(Ses\d\d[FM]\S+)\s+\[[^\]]*\]:\s*(.*)$")


def _iemocap_rows(root: Path) -> list[tuple[int, str, str]]:
    """(session, utterance id, raw label) for every evaluated turn of Session1-5."""
    rows = []
    sessions = sorted(p for p in root.glob("Session[1-5]") if p.is_dir())
    if not sessions:
        raise CorpusError(f"{root}: no Session1..Session5 folders; expected the IEMOCAP_full_release layout "
                          "Session<N>/dialog/EmoEvaluation/*.txt and Session<N>/sentences/wav/<dialog>/<utt>.wav")
    for sdir in sessions:
        for txt in sorted((sdir / "dialog" / "EmoEvaluation").glob("*.txt")):
            for line in txt.read_text(encoding="utf-8", errors="replace").splitlines():
                m = _IEMO_EVAL_RE.match(line)
                if m:
                    rows.append((int(sdir.name[-1]), m.group(3), m.group(4)))
    if not rows:
        raise CorpusError(f"{root}: no '[start - end]<TAB>utt<TAB>label<TAB>[v, a, d]' lines in Session*/dialog/EmoEvaluation/*.txt")
    return rows


def _iemocap_texts(root: Path) -> dict[str, str]:
    texts = {}
    for txt in root.glob("Session[1-5]/dialog/transcriptions/*.txt"):
        for line in txt.read_text(encoding="utf-8", errors="replace").splitlines():
            m = _IEMO_TRANS_RE.match(line.strip())
            if m:
                texts[m.group(1)] = m.group(2).strip()
    return texts


def prepare_iemocap(root: str | os.PathLike, out_dir: str | os.PathLike, *, test_session: int = 5,
                    dev_session: int | None = None, four_class: bool = True, dev_fraction: float = 0.1,
                    seed: int = 0) -> dict[str, Path]:
    """IEMOCAP (``IEMOCAP_full_release``), leave-one-session-out.

    Labels come from ``Session<N>/dialog/EmoEvaluation/<dialog>.txt``, audio from
    ``Session<N>/sentences/wav/<dialog>/<utt>.wav``, text (if present) from
    ``dialog/transcriptions``. ``four_class`` keeps the usual 4 classes with excited merged
    into happy (neutral, happy, sad, angry); otherwise every label but "xxx" (no agreement)
    is kept. Session ``test_session`` is the test split. Dev: session ``dev_session`` if
    given (fully speaker-independent), else a seeded ``dev_fraction`` of the training
    sessions' utterances (the SUPERB ER convention; dev then shares speakers with train).
    Speakers are "Ses01F" / "Ses01M" (session + the speaking actor's gender).
    """
    root, out_dir = Path(root), Path(out_dir)
    if test_session not in range(1, 6) or (dev_session is not None and dev_session not in range(1, 6)):
        raise ValueError(f"sessions are 1-5, got test_session={test_session}, dev_session={dev_session}")
    if dev_session == test_session:
        raise ValueError(f"dev_session and test_session are both {test_session}")
    params = prepare_params("iemocap", root, test_session=test_session, dev_session=dev_session, four_class=four_class,
                     dev_fraction=dev_fraction, seed=seed)  # fmt: skip
    if (hit := reuse(out_dir, params)) is not None:
        return hit
    texts = _iemocap_texts(root)
    mapping = IEMOCAP_4CLASS if four_class else IEMOCAP_EMOTIONS
    parts: dict[str, list[Utterance]] = defaultdict(list)
    train_pool, skipped = [], []
    for session, uid, raw in _iemocap_rows(root):
        if raw not in mapping:
            continue
        dialog = uid.rsplit("_", 1)[0]
        wav = root / f"Session{session}" / "sentences" / "wav" / dialog / f"{uid}.wav"
        speaker = uid[:5] + uid.rsplit("_", 1)[1][0]  # Ses01 + F/M of the speaking actor
        custom = {"emotion": mapping[raw], "emotion_raw": raw, "session": session,
                  "improvised": "_impro" in dialog}  # fmt: skip
        u = file_utterance(wav, uid, "en", speaker, custom, skipped, texts.get(uid, ""))
        if u is None:
            continue
        if session == test_session:
            parts["test"].append(u)
        elif session == dev_session:
            parts["dev"].append(u)
        else:
            train_pool.append(u)
    if dev_session is None:
        rng = random.Random(seed)
        idx = set(rng.sample(range(len(train_pool)), round(dev_fraction * len(train_pool))))
        parts["dev"] = [u for i, u in enumerate(train_pool) if i in idx]
        parts["train"] = [u for i, u in enumerate(train_pool) if i not in idx]
    else:
        parts["train"] = train_pool
    return finish_splits(out_dir, params, parts, skipped)


def prepare_iemocap_folds(root: str | os.PathLike, out_dir: str | os.PathLike, **kwargs) -> dict[int, dict[str, Path]]:
    """All five leave-one-session-out folds: ``out_dir/fold<N>/{train,dev,test}.jsonl``."""
    return {s: prepare_iemocap(root, Path(out_dir) / f"fold{s}", test_session=s, **kwargs) for s in range(1, 6)}

