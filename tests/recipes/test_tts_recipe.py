"""A debug run of recipes/tts on the tiny built-in corpus: a tiny phoneme run as the aligner, a few TTS steps, the
run directory, the judged test table, a resumed run that trains nothing twice, and a missing aligner named."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from polyvox.cli import main as cli
from polyvox.data.manifest import read_manifest
from tests.recipes.test_asr_recipe import debug_overrides

ROOT = Path(__file__).resolve().parents[2]
TTS_CONFIG = ROOT / "recipes" / "tts" / "configs" / "base.yaml"
TINY_TTS = ["model.d_model=32", "model.encoder_layers=1", "model.decoder_layers=1", "model.ffn_dim=64",
            "model.reference_channels=16", "model.speaker_dim=16", "model.duration_channels=16"]


def tts_overrides(corpus, run_dir, aligner, steps=4):
    return [f"run_dir={run_dir}", f"data.train_manifests=[{corpus['train']}]", f"data.dev_manifests=[{corpus['dev']}]",
            f"data.test_manifests=[{corpus['test']}]", f"data.aligner={aligner}", f"train.max_steps={steps}",
            "train.eval_every=2", "train.warmup_steps=1", "train.log_every=1", "data.max_batch_seconds=15",
            "eval.utts_per_lang=1", "eval.griffin_lim_iters=4", *TINY_TTS]


@pytest.mark.slow
def test_tts_recipe_trains_judges_and_resumes(tiny_corpus, tmp_path, capsys):
    aligner = tmp_path / "aligner"
    assert cli(["train", str(ROOT / "recipes/asr_ctc/configs/base.yaml"),
                *debug_overrides(tiny_corpus, aligner), "decode.method=greedy", "decode.lm_order=0"]) == 0
    run_dir = tmp_path / "tts"
    assert cli(["train", str(TTS_CONFIG), *tts_overrides(tiny_corpus, run_dir, aligner)]) == 0
    for name in ("config.yaml", "vocab.json", "languages.json", "model.safetensors", "alignments.jsonl",
                 "results.md", "results.json", "predictions.jsonl", "metrics.jsonl"):
        assert (run_dir / name).exists(), name
    results = json.loads((run_dir / "results.json").read_text())
    assert results["steps"] == 4 and results["judge"] == str(aligner)
    assert {"per", "judge_per_real", "per_cross", "secs", "secs_cross", "rtf", "dnsmos", "dnsmos_real"} <= set(
        results["summary"]["all"])
    assert "judge PER % (synthesized)" in (run_dir / "results.md").read_text()
    aligned = (run_dir / "alignments.jsonl").read_text().count("\n")
    # again: the finished run resumes at its last checkpoint, trains nothing and aligns nothing twice
    capsys.readouterr()
    assert cli(["train", str(TTS_CONFIG), *tts_overrides(tiny_corpus, run_dir, aligner)]) == 0
    assert (run_dir / "alignments.jsonl").read_text().count("\n") == aligned
    assert json.loads((run_dir / "results.json").read_text())["steps"] == 4
    # the trained run speaks through the CLI
    wav = tmp_path / "out.wav"
    ref = next(u.audio for u in read_manifest(tiny_corpus["test"]) if u.duration > 1.0)
    text = next(json.loads(l)["text"] for l in Path(tiny_corpus["train"]).read_text().splitlines()
                if json.loads(l)["language"] == "es")  # words whose phonemes the tiny run has seen
    assert cli(["tts", str(run_dir), "--text", text, "--lang", "es", "--reference", ref, "--out", str(wav)]) == 0
    assert wav.stat().st_size > 1000
    assert cli(["eval-tts", str(run_dir), "--judge", str(aligner), "--utts-per-lang", "1", "--threads", "1",
                "--other-engines", "flite"]) == 0
    md = (run_dir / "eval_predictor.md").read_text()
    assert "judge PER % (synthesized)" in md and "| slt | flite | en |" in md
    other = json.loads((run_dir / "eval_predictor.json").read_text())["other_voices"]
    assert {o["voice"] for o in other.values()} == {"awb", "kal16", "rms", "slt"}  # Debian flite's voices
    assert all(o["utterances"] >= 1 and -1 <= o["secs"] <= 1 for o in other.values())
    # the error-source benchmark reads the run: the judge's PER of the real, vocoded, teacher-forced and spoken clips
    out = subprocess.run([sys.executable, str(ROOT / "benchmarks/tts_error_sources.py"), str(run_dir), "--split",
                          "test", "--per-lang", "1"], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    assert all(f"| {signal} | " in out.stdout for signal in ("real", "vocoded", "tf_durs", "predicted"))


def test_missing_aligner_is_named(tiny_corpus, tmp_path):
    with pytest.raises(FileNotFoundError, match="data.aligner: .* is not a trained run; train one first"):
        cli(["train", str(TTS_CONFIG), *tts_overrides(tiny_corpus, tmp_path / "tts", tmp_path / "no-aligner")])
