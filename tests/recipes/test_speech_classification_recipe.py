"""recipes/speech_classification and recipes/text_classification end to end on a tiny intent corpus: every system
and protocol, the recognizers trained by the recipe through `polyvox train asr_ctc...`, saved cascades and end-to-end
runs answering through `polyvox understand`, and a finished run reused.

What these tests can tell: the systems are wired to the same splits, the tables have every column and the zero-shot
language marked, the saved runs load without the recipe. What they cannot: which system is better (a few steps)."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from polyvox.data.manifest import read_manifest
from polyvox.multimodal.cascade import load_cascade, save_cascade, understand
from polyvox.multimodal.cli import load_understanding
from polyvox.train.recipes import load_recipe

RECIPES = Path(__file__).resolve().parents[2] / "recipes"


@pytest.fixture(scope="module")
def debug_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("sc")
    main = load_recipe(RECIPES / "speech_classification" / "train.py").main
    overrides = [f"run_dir={tmp / 'run'}", f"data.intents.dir={tmp / 'corpus'}"]
    assert main(str(RECIPES / "speech_classification" / "configs" / "debug.yaml"), overrides) == 0
    return tmp, overrides


@pytest.mark.slow
def test_every_system_and_protocol_in_the_tables(debug_run):
    tmp, _ = debug_run
    run = tmp / "run"
    md = (run / "results.md").read_text()
    for column in ("end-to-end", "cascade native", "gold native", "cascade romanized", "gold romanized",
                   "cascade ipa", "gold ipa"):
        assert column in md
    assert "| el (zero-shot) |" in md and "## inlanguage: accuracy" in md and "## What this run says" in md
    scores = json.loads((run / "results.json").read_text())["scores"]
    assert set(scores) == {"multilingual", "inlanguage"}
    assert set(scores["multilingual"]["accuracy"]["end-to-end"]) == {"en", "ru", "el"}
    assert set(scores["inlanguage"]["accuracy"]["cascade ipa"]) == {"en", "ru"}  # no zero-shot rows in-language
    for unit in ("char", "phone"):
        assert (run / f"asr-{unit}" / "model.safetensors").exists()
    # asr.char_init: phone: the phone recognizer was trained first and its encoder started the char recognizer
    import yaml

    char_config = yaml.safe_load((run / "asr-char" / "config.yaml").read_text())
    assert char_config["init_from"] == str(run / "asr-phone")
    assert char_config["train"]["max_steps"] == 20  # the debug config's steps, not base.yaml's char_max_steps
    transcripts = json.loads((run / "transcripts-phone.json").read_text())["texts"]
    rows = {s: read_manifest(tmp / "corpus" / f"{s}.jsonl") for s in ("train", "dev", "test")}
    used = [u.id for s in ("train", "dev") for u in rows[s] if u.language != "el"] + [u.id for u in rows["test"]]
    assert set(transcripts) == set(used)  # the training-language rows of train/dev, every test row


@pytest.mark.slow
def test_saved_runs_understand_audio(debug_run):
    tmp, _ = debug_run
    run = tmp / "run"
    utt = read_manifest(tmp / "corpus" / "test.jsonl")[0]
    cascade = load_cascade(run / "multilingual" / "multilingual" / "cascade-romanized" / "seed-0")
    out = understand(cascade, [__import__("polyvox.data.audio", fromlist=["x"]).load_audio(utt.audio)[0]],
                     [utt.language])[0]
    assert out["label"] in cascade.labels and abs(sum(out["probs"].values()) - 1) < 1e-6
    assert out["text"].isascii()  # romanized
    predict, labels = load_understanding(str(run / "multilingual" / "multilingual" / "e2e" / "seed-0"))
    assert sorted(labels) == ["HassGetWeather", "HassTurnOff", "HassTurnOn"]
    cli = subprocess.run([sys.executable, "-m", "polyvox", "understand",
                          str(run / "multilingual" / "multilingual" / "cascade-native" / "seed-0"), utt.audio,
                          "/no/such.wav", "--json"], capture_output=True, text=True)
    assert cli.returncode == 1 and "/no/such.wav" in cli.stderr
    row = json.loads(cli.stdout.splitlines()[0])
    assert row["file"] == utt.audio and row["label"] in labels and row["transcript"] is not None
    bad = subprocess.run([sys.executable, "-m", "polyvox", "understand", str(tmp), utt.audio], capture_output=True,
                         text=True)
    assert bad.returncode == 2 and "neither a cascade" in bad.stderr


@pytest.mark.slow
def test_a_finished_run_is_reused(debug_run):
    tmp, overrides = debug_run
    run = tmp / "run"
    before = (run / "multilingual" / "multilingual" / "scores-seed0.json").stat().st_mtime
    main = load_recipe(RECIPES / "speech_classification" / "train.py").main
    assert main(str(RECIPES / "speech_classification" / "configs" / "debug.yaml"), overrides) == 0
    assert (run / "multilingual" / "multilingual" / "scores-seed0.json").stat().st_mtime == before


def test_a_cascade_refuses_a_recognizer_of_the_wrong_unit(debug_run, tmp_path):
    tmp, _ = debug_run
    with pytest.raises(ValueError, match="char ASR run cannot feed the ipa text form"):
        save_cascade(tmp_path / "c", tmp / "run" / "asr-char", tmp / "run" / "x", "ipa")
    save_cascade(tmp_path / "c", tmp / "run" / "asr-phone", tmp_path / "gone", "ipa")
    with pytest.raises(FileNotFoundError, match="text_run .*gone does not exist"):
        load_cascade(tmp_path / "c")


@pytest.mark.slow
def test_text_classification_recipe_on_the_same_corpus(debug_run, tmp_path):
    tmp, _ = debug_run
    main = load_recipe(RECIPES / "text_classification" / "train.py").main
    rc = main(str(RECIPES / "text_classification" / "configs" / "base.yaml"),
              [f"run_dir={tmp_path / 'run'}", f"data.intents.dir={tmp / 'corpus'}", "data.intents.langs=[en,ru,el]",
               "data.intents.utts_per_lang=36", "data.intents.speakers=3",
               "data.intents.intents=[HassTurnOn,HassTurnOff,HassGetWeather]", "data.train_langs=[en,ru]",
               "data.text_form=ipa", "seeds=[0,1]", "train.max_steps=30", "train.eval_every=30",
               "tokenizer.vocab_size=80"])
    assert rc == 0
    md = (tmp_path / "run" / "results.md").read_text()
    assert "gold ipa" in md and "| el (zero-shot) |" in md and " ± " in md
    preds = [json.loads(l) for l in (tmp_path / "run" / "seed-1" / "predictions.jsonl").read_text().splitlines()]
    assert {p["language"] for p in preds} == {"en", "ru", "el"}


@pytest.mark.slow
def test_the_recipe_on_a_slurp_folder(tmp_path):
    """SLURP's released layout, spoken by espeak-ng voices, prepared by `polyvox prepare slurp`, then every non-IPA
    system of the recipe on it (its recognizer trained by the recipe on the SLURP manifests)."""
    from polyvox.data.audio import load_audio, save_audio
    from polyvox.data.corpora.slu import prepare_slurp

    root = tmp_path / "slurp"
    ann = root / "dataset" / "slurp"
    ann.mkdir(parents=True)
    sentences = {"alarm_set": ["wake me up at five", "set an alarm for six"],
                 "weather_query": ["what is the weather", "will it rain today"],
                 "iot_hue_lightoff": ["turn the lights off", "switch off the lamp"]}
    voices = ["en-us+m1", "en-us+f2", "en-us+m3", "en-us+f4"]
    split_of = {0: "train", 1: "train", 2: "devel", 3: "test"}
    lines = {s: [] for s in ("train", "devel", "test")}
    meta, sid = {}, 0
    for intent, texts in sentences.items():
        scenario, action = intent.split("_", 1)
        for text in texts:
            for v, voice in enumerate(voices):
                sid += 1
                wav = root / "slurp_real" / f"audio-{sid}-{v}.flac"
                wav.parent.mkdir(parents=True, exist_ok=True)
                subprocess.run(["espeak-ng", "-v", voice, "-w", str(wav.with_suffix(".wav")), text], check=True)
                save_audio(wav, load_audio(wav.with_suffix(".wav"))[0])
                wav.with_suffix(".wav").unlink()
                lines[split_of[v]].append(json.dumps({"slurp_id": sid, "sentence": text, "scenario": scenario,
                                                      "action": action, "recordings": [{"file": wav.name}]}))
                meta[str(sid)] = {"recordings": {wav.name: {"usrid": f"speaker{v}"}}}
    for split, rows in lines.items():
        (ann / f"{split}.jsonl").write_text("\n".join(rows) + "\n")
    (ann / "metadata.json").write_text(json.dumps(meta))
    m = prepare_slurp(root, tmp_path / "manifests")
    main = load_recipe(RECIPES / "speech_classification" / "train.py").main
    overrides = [f"run_dir={tmp_path / 'run'}", f"data.train_manifest={m['train']}", f"data.dev_manifest={m['dev']}",
                 f"data.test_manifest={m['test']}", "data.train_langs=[]", "systems=[e2e,native,romanized]",
                 "protocols=[multilingual]"]
    with pytest.raises(SystemExit, match="the training rows have no phonemes"):  # asr.char_init: phone cannot be
        main(str(RECIPES / "speech_classification" / "configs" / "debug.yaml"), overrides)
    assert main(str(RECIPES / "speech_classification" / "configs" / "debug.yaml"), overrides + ["asr.char_init="]) == 0
    scores = json.loads((tmp_path / "run" / "results.json").read_text())["scores"]["multilingual"]["accuracy"]
    assert set(scores) == {"end-to-end", "cascade native", "gold native", "cascade romanized", "gold romanized"}
    assert set(scores["end-to-end"]) == {"en"} and len(scores["end-to-end"]["en"]) == 1


@pytest.mark.slow
def test_the_recipe_on_a_speechtaxi_folder(tmp_path):
    """SpeechTaxi's released layout (mp3 verses + split tables), the verses spoken by espeak-ng, prepared by
    `polyvox prepare speechtaxi`, then the recipe with label_key=label: English trained, Russian zero-shot."""
    from polyvox.data.audio import load_audio
    from tests.data.corpora.test_speechtaxi import write_speechtaxi

    verses = {"Faith": [("now faith is the substance", "вера же есть осуществление"),
                        ("by faith we understand", "верою познаем"), ("have faith in god", "имейте веру божию")],
              "Sin": [("the wages of sin is death", "возмездие за грех смерть"),
                      ("all have sinned", "все согрешили"), ("go and sin no more", "иди и впредь не греши")]}
    splits = {0: "train", 1: "dev", 2: "test"}
    rows = {s: [] for s in splits.values()}
    for label, pairs in verses.items():
        for i, (en, ru) in enumerate(pairs):
            for lang, text in (("eng", en), ("rus", ru)):
                for chapter in (1, 2) if i == 0 else (3,):  # two training verses per label and language
                    rows[splits[i]].append((f"ROM {chapter + 3 * i}:{len(label)}", en, lang, text, "", label))

    def speak(lang, text):
        wav = tmp_path / "say.wav"
        subprocess.run(["espeak-ng", "-v", {"eng": "en", "rus": "ru"}[lang], "-w", str(wav), text], check=True)
        return load_audio(wav)[0]

    write_speechtaxi(tmp_path / "SpeechTaxi", rows, wav_of=speak)
    m = tmp_path / "manifests"
    assert subprocess.run([sys.executable, "-m", "polyvox", "prepare", "speechtaxi", str(tmp_path / "SpeechTaxi"),
                           "--out", str(m)], check=True).returncode == 0
    main = load_recipe(RECIPES / "speech_classification" / "train.py").main
    overrides = [f"run_dir={tmp_path / 'run'}", f"data.train_manifest={m / 'train.jsonl'}",
                 f"data.dev_manifest={m / 'dev.jsonl'}", f"data.test_manifest={m / 'test.jsonl'}",
                 "data.label_key=label", "data.train_langs=[eng]", "systems=[e2e,native,romanized]",
                 "protocols=[multilingual]", "asr.char_init="]
    assert main(str(RECIPES / "speech_classification" / "configs" / "debug.yaml"), overrides) == 0
    scores = json.loads((tmp_path / "run" / "results.json").read_text())["scores"]["multilingual"]["accuracy"]
    assert set(scores["cascade romanized"]) == {"eng", "rus"}
    assert "| rus (zero-shot) |" in (tmp_path / "run" / "results.md").read_text()


@pytest.mark.slow
def test_the_gpu_config_runs_from_local_checkpoints(debug_run, tmp_path):
    """configs/gpu.yaml (XLS-R recognizers, frozen XLS-R end-to-end, XLM-R text classifiers by name_or_path), every
    name pointed at a tiny checkpoint this test saves, on the debug corpus: the GPU path runs here, with no hub."""
    import yaml
    from transformers import Wav2Vec2Config, Wav2Vec2Model, XLMRobertaConfig, XLMRobertaModel

    from polyvox.text.tokenizer import train_tokenizer

    tmp, _ = debug_run
    rows = read_manifest(tmp / "corpus" / "train.jsonl")
    w2v2 = tmp_path / "tiny-xlsr"
    Wav2Vec2Model(Wav2Vec2Config(
        hidden_size=16, num_hidden_layers=2, num_attention_heads=2, intermediate_size=32, conv_dim=(8, 8),
        conv_stride=(5, 4), conv_kernel=(10, 4), num_conv_pos_embeddings=8, num_conv_pos_embedding_groups=2,
        feat_extract_norm="layer", do_stable_layer_norm=True)).save_pretrained(w2v2)
    tok_dir, xlmr = tmp_path / "tiny-xlmr-tok", tmp_path / "tiny-xlmr"
    tok = train_tokenizer([u.text for u in rows], vocab_size=120, out_dir=tok_dir)
    XLMRobertaModel(XLMRobertaConfig(vocab_size=len(tok), hidden_size=24, num_hidden_layers=1,
                                     num_attention_heads=2, intermediate_size=48, max_position_embeddings=80)
                    ).save_pretrained(xlmr)
    debug = yaml.safe_load((RECIPES / "speech_classification" / "configs" / "debug.yaml").read_text())
    config = tmp_path / "gpu-tiny.yaml"
    config.write_text(yaml.safe_dump({
        "base": str(RECIPES / "speech_classification" / "configs" / "gpu.yaml"), "seeds": [0],
        "protocols": ["multilingual"], "data": debug["data"],
        "asr": {"max_steps": 2, "overrides": [f"model.name_or_path={w2v2}", "data.num_workers=0",
                                              "decode.method=greedy", "decode.lm_order=0"]},
        "e2e": {"model": {"name_or_path": str(w2v2)}, "train": {"max_steps": 2, "eval_every": 2, "warmup_steps": 0}},
        "text": {"tokenizer": {"name_or_path": str(tok_dir)}, "model": {"name_or_path": str(xlmr), "max_length": 64},
                 "train": {"max_steps": 2, "eval_every": 2, "warmup_steps": 0}}}))
    main = load_recipe(RECIPES / "speech_classification" / "train.py").main
    assert main(str(config), [f"run_dir={tmp_path / 'run'}", f"data.intents.dir={tmp / 'corpus'}"]) == 0
    run = tmp_path / "run"
    scores = json.loads((run / "results.json").read_text())["scores"]["multilingual"]["accuracy"]
    assert {"end-to-end", "cascade native", "cascade ipa"} <= set(scores)
    for unit in ("char", "phone"):  # both recognizers are XLS-R CTC runs
        assert yaml.safe_load((run / f"asr-{unit}" / "config.yaml").read_text())["model"]["backbone"] == "hf"
    text_run = run / "multilingual" / "multilingual" / "text-romanized" / "seed-0"
    assert json.loads((text_run / "config.json").read_text())["hidden_size"] == 24  # the checkpoint, not the config
