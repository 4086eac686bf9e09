"""The Gradio demo on tiny runs the tests train: run discovery, every tab through gradio_client against a launched
app, clear errors for bad uploads, and a real browser (Playwright driving Debian's headless Chromium) clicking
through the page, with a screenshot of each tab."""

import json
import shutil
import socket
from pathlib import Path

import numpy as np
import pytest

from polyvox.data.audio import save_audio
from polyvox.data.manifest import read_manifest
from polyvox.demo import find_runs, run_kind
from tests.recipes.test_asr_recipe import trained_run  # noqa: F401 (a module-scoped fixture: a tiny ASR run)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def runs_root(trained_run, tmp_path_factory):  # noqa: F811
    """work/runs-like folder: the tiny ASR run and an untrained tiny TTS run (enough to exercise the tab)."""
    import torch

    from polyvox.speech.asr.vocab import build_vocab
    from polyvox.speech.tts import task
    from polyvox.speech.tts.config import TtsConfig, TtsModelConfig
    from polyvox.speech.tts.run import save_run_files

    root = tmp_path_factory.mktemp("runs")
    shutil.copytree(trained_run, root / "asr_ctc" / "tiny")
    cfg = TtsConfig(model=TtsModelConfig(d_model=32, encoder_layers=1, decoder_layers=1, ffn_dim=64, conv_kernel=3,
                                         reference_channels=16, speaker_dim=16, duration_channels=16))
    vocab = build_vocab([["h", "ə", "l", "oʊ", "w", "ɜː", "d", "|"]])
    torch.manual_seed(0)
    save_run_files(root / "tts" / "tiny", cfg, vocab, ["en"], task.build_model(cfg, vocab, ["en"]))
    (root / "tts" / "tiny" / "checkpoints" / "step-1").mkdir(parents=True)  # never mistaken for a run
    # an (untrained) F5-style run: the Speak tab serves it too
    from polyvox.data.collate import VocoderMelOptions
    from polyvox.speech.f5tts.model import F5TTS, F5Config
    from polyvox.speech.f5tts.run import save_pretrained

    f5 = F5TTS(F5Config(dim=32, depth=1, heads=2, dim_head=16, mel_dim=20, text_num_embeds=8, text_dim=16,
                        conv_layers=1))
    save_pretrained(root / "tts" / "f5", f5, [" ", "h", "ə", "l", "oʊ", "w", "ɜː", "d"],
                    VocoderMelOptions(sample_rate=8000, n_mels=20, n_fft=256, hop_length=64, win_length=256),
                    frames_per_token=3.0, languages=["en"])
    (root / "tts" / "f5" / "config.yaml").write_text("recipe: ../f5.py\n", encoding="utf-8")
    # an (untrained) intent cascade: the tiny recognizer feeding a tiny text classifier
    from polyvox.multimodal.cascade import save_cascade
    from polyvox.speech.asr.config import AsrConfig
    from polyvox.text.classify.config import TextModelConfig
    from polyvox.text.classify.run import save_run
    from polyvox.text.classify.task import build_model
    from polyvox.text.tokenizer import train_tokenizer
    from polyvox.train.config import load_config

    form = "ipa" if load_config(AsrConfig, trained_run / "config.yaml").data.unit == "phoneme" else "native"
    tok = train_tokenizer(["turn on the light", "what time is it", "h a l o"] * 5, 40, root / "tok")
    text_run = root / "speech_classification" / "text-run"
    save_run(text_run, build_model(TextModelConfig(hidden_size=16, intermediate_size=32), tok, ["On", "Time"]), tok,
             text_form=form, label_key="intent")
    save_cascade(root / "speech_classification" / "cascade", root / "asr_ctc" / "tiny", text_run, form)
    # spoken QA: an (untrained) QA cascade and an end-to-end listener on the tiny recognizer
    from polyvox.multimodal.spoken_qa import RecordSelector, save_selector
    from polyvox.speech.asr.run import load_run as load_asr
    from polyvox.text.qa.run import save_run as save_qa
    from polyvox.text.qa.task import build_qa_model

    qa_run = root / "spoken_qa" / "text-qa"
    save_qa(qa_run, build_qa_model(TextModelConfig(hidden_size=16, intermediate_size=32), tok), tok, text_form=form)
    save_cascade(root / "spoken_qa" / "cascade", root / "asr_ctc" / "tiny", qa_run, form)
    dim = int(load_asr(root / "asr_ctc" / "tiny").model.hidden_size)
    save_selector(root / "spoken_qa" / "e2e", RecordSelector(dim, 8), root / "asr_ctc" / "tiny")
    return root


@pytest.fixture(scope="module")
def app_url(runs_root):
    from polyvox.demo import launch

    port = _free_port()
    app = launch(str(runs_root), port=port, block=False)
    yield f"http://127.0.0.1:{port}/"
    app.close()


@pytest.fixture(scope="module")
def clip(tiny_corpus):
    return next(u.audio for u in read_manifest(tiny_corpus["test"]) if u.duration > 1.2)


def test_runs_are_found_by_kind(runs_root, tmp_path):
    runs = find_runs(runs_root)
    assert runs["asr"] == [str(runs_root / "asr_ctc" / "tiny")] and runs["tts"] == [str(runs_root / "tts" / "f5"), str(runs_root / "tts" / "tiny")]
    assert runs["classify"] == [] and run_kind(tmp_path) is None
    assert runs["understand"] == [str(runs_root / "speech_classification" / "cascade")]
    assert runs["ask"] == [str(runs_root / "spoken_qa" / "cascade"), str(runs_root / "spoken_qa" / "e2e")]
    assert find_runs(tmp_path / "missing") == {"asr": [], "classify": [], "tts": [], "understand": [], "ask": []}


@pytest.mark.slow
def test_every_tab_answers_through_the_api(app_url, runs_root, clip, tmp_path):
    from gradio_client import Client, handle_file

    c = Client(app_url, verbose=False)
    asr = str(runs_root / "asr_ctc" / "tiny")
    text, plot = c.predict(asr, handle_file(clip), "greedy", api_name="/transcribe")
    assert isinstance(text, str) and text and plot  # "(nothing recognized)" when the tiny run emits nothing
    beam_text, _ = c.predict(asr, handle_file(clip), "beam + LM", api_name="/transcribe")
    assert isinstance(beam_text, str) and beam_text
    raw, restricted, mapped = c.predict(asr, handle_file(clip), "es", api_name="/phonemes")
    assert "inventory" not in restricted and "inventory" not in mapped  # all three modes ran
    probs, transcript, read = c.predict(str(runs_root / "speech_classification" / "cascade"), handle_file(clip), "en",
                                        api_name="/understand")
    assert {x["label"] for x in probs["confidences"]} == {"On", "Time"} and transcript and read
    qa = str(runs_root / "spoken_qa" / "cascade")
    said, question, heard = c.predict(qa, handle_file(clip), "", handle_file(clip), "en", api_name="/ask")
    assert said and question and heard  # "(nothing recognized)" when the tiny recognizer emits nothing
    said, question, _ = c.predict(qa, None, "what is the currency of japan", handle_file(clip), "en", api_name="/ask")
    assert isinstance(said, str) and said and question
    said, question, _ = c.predict(str(runs_root / "spoken_qa" / "e2e"), handle_file(clip), "", handle_file(clip), "",
                                  api_name="/ask")
    assert said.startswith("record ") and question == "(end-to-end: no transcript)"
    with pytest.raises(Exception, match="written ones need a cascade"):
        c.predict(str(runs_root / "spoken_qa" / "e2e"), None, "a typed question", handle_file(clip), "", api_name="/ask")
    with pytest.raises(Exception, match="no context"):
        c.predict(qa, handle_file(clip), "", None, "", api_name="/ask")
    ref = save_audio(tmp_path / "ref.wav", (0.3 * np.sin(np.arange(24000) / 8)).astype(np.float32))
    wav_path = c.predict(str(runs_root / "tts" / "tiny"), "hello world", "en", handle_file(str(ref)),
                         api_name="/speak")
    assert Path(wav_path).stat().st_size > 1000
    import soundfile as sf

    f5_wav = c.predict(str(runs_root / "tts" / "f5"), "hello world", "en", handle_file(str(ref)), api_name="/speak")
    audio, rate = sf.read(f5_wav)
    assert rate == 8000 and len(audio) > 1000  # "hello world": ~9 phones at 3 frames x 64 samples each
    with pytest.raises(Exception, match="trained on \\['en'\\]"):
        c.predict(str(runs_root / "tts" / "f5"), "hola", "es", handle_file(str(ref)), api_name="/speak")


@pytest.mark.slow
def test_bad_uploads_get_polyvox_messages(app_url, runs_root, tmp_path):
    from gradio_client import Client, handle_file

    c = Client(app_url, verbose=False)
    asr = str(runs_root / "asr_ctc" / "tiny")
    fake = tmp_path / "notes.wav"
    fake.write_text("this is not audio\n")
    with pytest.raises(Exception, match="notes.wav: not an audio file: it contains text"):
        c.predict(asr, handle_file(str(fake)), "greedy", api_name="/transcribe")
    with pytest.raises(Exception, match="no trained run chosen; train one with"):
        c.predict(None, handle_file(str(fake)), api_name="/classify")
    with pytest.raises(Exception, match="trained on \\['en'\\]"):
        c.predict(str(runs_root / "tts" / "tiny"), "hola", "es", None, api_name="/speak")
    big = tmp_path / "big.wav"
    big.write_bytes(b"RIFF" + b"\0" * (11 * 1024 * 1024))  # over the 10 MB upload limit
    with pytest.raises(Exception):
        c.predict(asr, handle_file(str(big)), "greedy", api_name="/transcribe")


def _chromium() -> str | None:
    from polyvox.doctor import find_chromium

    return find_chromium()


@pytest.mark.slow
@pytest.mark.skipif(_chromium() is None, reason="no chromium (make system-deps installs chromium-headless-shell)")
def test_in_a_real_browser(app_url, clip, tmp_path):
    from playwright.sync_api import expect, sync_playwright

    shots = tmp_path / "screenshots"
    shots.mkdir()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=_chromium(), headless=True)
        page = browser.new_page()
        page.goto(app_url)
        page.locator("#asr-audio input[type=file]").set_input_files(clip)
        page.locator("#asr-button").click()
        expect(page.locator("#asr-out textarea")).not_to_have_value("", timeout=30000)
        assert page.locator("#asr-out textarea").input_value().strip()
        page.screenshot(path=str(shots / "transcribe.png"), full_page=True)
        fake = tmp_path / "notes.wav"
        fake.write_text("this is not audio\n")
        page.locator("#asr-audio button[aria-label='Clear']").first.click()
        page.locator("#asr-audio input[type=file]").set_input_files(str(fake))
        page.locator("#asr-button").click()
        expect(page.get_by_text("not an audio file: it contains text").first).to_be_visible(timeout=30000)
        page.get_by_role("tab", name="Understand").click()
        page.locator("#und-audio input[type=file]").set_input_files(clip)
        page.locator("#und-button").click()
        expect(page.locator("#und-transcript textarea")).not_to_have_value("", timeout=30000)
        page.screenshot(path=str(shots / "understand.png"), full_page=True)
        page.get_by_role("tab", name="Ask").click()
        page.locator("#ask-context input[type=file]").set_input_files(clip)
        page.locator("#ask-text textarea").fill("what is the currency of japan")
        page.locator("#ask-button").click()
        expect(page.locator("#ask-heard textarea")).not_to_have_value("", timeout=30000)
        page.screenshot(path=str(shots / "ask.png"), full_page=True)
        for tab in ("Phonemes", "Classify"):
            page.get_by_role("tab", name=tab).click()
            page.screenshot(path=str(shots / f"{tab.lower()}.png"), full_page=True)
        # Speak: text + a reference voice -> audio comes back
        page.get_by_role("tab", name="Speak").click()
        page.locator("#tts-ref input[type=file]").set_input_files(clip)
        # fill once the tab is drawn (its language box shows its default): text typed into a tab still
        # mounting is reset when it mounts
        expect(page.locator("#tts-lang textarea")).to_have_value("en", timeout=30000)
        page.locator("#tts-text textarea").fill("hello world")
        expect(page.locator("#tts-text textarea")).to_have_value("hello world")
        page.locator("#tts-button").click()
        expect(page.locator("#tts-out audio, #tts-out [aria-label*='Download'], #tts-out a[download]").first
               ).to_be_attached(timeout=60000)
        page.screenshot(path=str(shots / "speak.png"), full_page=True)
        browser.close()
    assert len(list(shots.glob("*.png"))) == 6


def test_each_tab_offers_clips_of_its_built_in_corpus(tmp_path):
    from polyvox.demo import EXAMPLE_CORPORA, _examples

    wav = (0.1 * np.ones(1600)).astype(np.float32)
    for folder, name in (("corpus", "a"), ("synth_emotion", "e"), ("synth_facts", "q"), ("synth_facts", "ctx")):
        save_audio(tmp_path / folder / "x" / "wavs" / f"{name}.wav", wav)
    (tmp_path / "corpus" / "x" / "test.jsonl").write_text('{"audio": "wavs/a.wav"}\n')
    (tmp_path / "synth_emotion" / "x" / "test.jsonl").write_text('{"audio": "wavs/e.wav"}\n')
    facts = tmp_path / "synth_facts" / "x"
    (facts / "test.jsonl").write_text('{"id": "q1", "audio": "wavs/q.wav"}\n')
    (facts / "comprehension-test.jsonl").write_text(json.dumps({"question": "q1", "audio": str(facts / "wavs/ctx.wav")})
                                                   + "\n" + json.dumps({"question": "q1", "audio": ""}) + "\n")
    assert _examples("speech", work=tmp_path) == [str(tmp_path / "corpus" / "x" / "wavs" / "a.wav")]
    assert _examples("classify", work=tmp_path) == [str(tmp_path / "synth_emotion" / "x" / "wavs" / "e.wav")]
    assert _examples("ask", work=tmp_path) == [[str(facts / "wavs" / "ctx.wav"), str(facts / "wavs" / "q.wav")]]
    assert _examples("understand", work=tmp_path) == []  # no intent corpus built
    (tmp_path / "corpus" / "x" / "wavs" / "a.wav").unlink()
    assert _examples("speech", work=tmp_path) == []  # a clip gone: no broken examples
    assert set(EXAMPLE_CORPORA) == {"speech", "classify", "understand", "ask"}
