"""Zero-shot decoding modes (polyvox.speech.phones.zeroshot) and the `polyvox phonemes` CLI.

Modes are checked on random CTC posteriors over a small phone vocabulary; the CLI on a tiny
untrained Conformer whose blank is suppressed, so it always emits phones."""

import json

import numpy as np
import pytest
import torch

from polyvox.data import articulatory
from polyvox.speech.phones import inventory
from polyvox.speech.phones import mapping as phone_mapping
from polyvox.speech.phones import zeroshot as zs
from polyvox.speech.asr.vocab import SPECIALS, Vocab

# training tokens in corpus spelling: untied affricate, diphthongs, phones the target lacks
TRAIN = ("a", "aɪ", "b", "e", "i", "k", "p", "s", "t", "tʃ", "u", "y", "ð", "θ", "ɛ", "ɪ", "ʁ")
TARGET = ["a", "e", "i", "k", "o", "p", "s", "t", "t͡ʃ", "u", "ɾ"]


@pytest.fixture(scope="module")
def vocab():
    return Vocab(SPECIALS + TRAIN)


def random_log_probs(vocab, b=3, t=40, seed=0, blank_bias=0.0):
    g = torch.Generator().manual_seed(seed)
    logits = torch.randn(b, t, len(vocab), generator=g) * 3
    logits[..., 0] += blank_bias
    logits[..., 1] -= 100  # <unk> is never trained
    return torch.log_softmax(logits, -1), torch.tensor([t, t - 5, t // 2])


def test_token_segments_are_spelling_independent():
    assert zs.token_segments("tʃ") == zs.token_segments("t͡ʃ") == ("t͡ʃ",)
    assert zs.token_segments("aɪ") == ("a", "ɪ")
    assert zs.token_segments("aɪɚ") == ("a", "ɪ", "ə˞")  # en "fire": ɚ inside a corpus token
    assert zs.to_segments("h aɪ | tʃ <pad>") == ["h", "a", "ɪ", "|", "t͡ʃ"]


def test_three_modes_stay_in_their_symbol_sets(vocab):
    lp, lens = random_log_probs(vocab)
    out = zs.decode_modes(lp, lens, zs.build_modes(vocab, TARGET))
    assert set(out) == {"raw", "restrict", "map"}
    train_segs = {s for t in TRAIN for s in zs.token_segments(t)}
    for mode, hyps in out.items():
        assert len(hyps) == 3 and all(hyps), mode  # random posteriors: every utterance has phones
        used = {p for h in hyps for p in h}
        allowed = (set(TARGET) if mode != "raw" else train_segs) | {"|"}
        assert used <= allowed, (mode, used - allowed)
    raw_used = {p for h in out["raw"] for p in h}
    assert raw_used - set(TARGET) - {"|"}  # raw decoding does produce phones outside the target
    assert "t͡ʃ" in {p for h in out["map"] for p in h}  # "tʃ" reaches the target's "t͡ʃ"


def test_restrict_masks_and_renormalizes(vocab):
    lp, lens = random_log_probs(vocab)
    mode = zs.restrict_mode(vocab, TARGET)
    kept = {t for t, m in zip(vocab.tokens, mode.mask) if m}
    # "aɪ" needs ɪ, θ/ð/y/ɛ/ʁ/b are not in the target; "tʃ" is (as t͡ʃ)
    assert kept == {"<pad>", "|", "a", "e", "i", "k", "p", "s", "t", "tʃ", "u"}
    out = mode.log_probs(lp)
    assert torch.allclose(out.exp().sum(-1), torch.ones(3, 40), atol=1e-5)
    assert torch.isinf(out[..., [vocab.tokens.index(t) for t in ("θ", "aɪ", "<unk>")]]).all()


def test_mapping_sums_posteriors(vocab):
    lp, _ = random_log_probs(vocab)
    mode = zs.map_mode(vocab, TARGET)
    mapping = zs.phone_mapping(vocab, TARGET)
    assert mapping["tʃ"] == ("t͡ʃ",) and mapping["a"] == ("a",)  # shared phones map to themselves
    assert mapping["θ"][0] != "θ" and mapping["y"][0] in {"i", "u", "e", "o", "a"}  # vowel -> vowel
    assert mapping["ʁ"][0] not in {"a", "e", "i", "o", "u"}  # consonant -> consonant
    assert len(mapping["aɪ"]) == 2 and mapping["aɪ"][0] == "a"  # mapped segment by segment
    probs = lp.exp()
    out = mode.log_probs(lp).exp()
    assert out.shape == (3, 40, len(mode.vocab))
    for j, target in enumerate(mode.vocab.tokens):
        sources = [i for i, t in enumerate(vocab.tokens) if " ".join(mapping.get(t, ())) == target or
                   (t == target and t in ("<pad>", "<unk>", "|"))]
        expected = probs[..., sources].sum(-1) if sources else torch.zeros(3, 40)
        assert torch.allclose(out[..., j], expected, atol=1e-5), target
    assert torch.allclose(out.sum(-1), probs.sum(-1), atol=1e-5)  # nothing lost, nothing added
    # the numpy path of the same matrix agrees
    np.testing.assert_allclose(np.exp(phone_mapping.map_log_probs(lp.numpy().astype(np.float64), mode.matrix)),
                               out.numpy(), atol=1e-5)


def test_build_modes_needs_an_inventory_for_b_and_c(vocab):
    assert set(zs.build_modes(vocab, None, ["raw"])) == {"raw"}
    with pytest.raises(ValueError, match="needs a target inventory"):
        zs.build_modes(vocab, None)
    with pytest.raises(ValueError, match="unknown zero-shot mode"):
        zs.build_modes(vocab, TARGET, ["mapped"])


def test_tables_have_a_row_per_language_and_columns_per_mode():
    s = lambda per: {"per": per, "pfer": per / 2}  # noqa: E731
    summary = {lang: {"utterances": 10, "oov": oov, "inventory": 30, "raw": s(0.5), "restrict": s(0.4), "map": s(0.3)}
               for lang, oov in (("en", 0.0), ("es", 0.0), ("nl", 0.1), ("lt", 0.2))}
    table = zs.zeroshot_table(summary, seen=["en", "es"])
    lines = table.splitlines()
    assert "PER (a) raw" in lines[0] and "PFER (c) feature-mapped" in lines[0] and "OOV %" in lines[0]
    assert [l.split("|")[1].strip() for l in lines[2:6]] == ["en", "es", "lt", "nl"]
    assert "| nl | no | 10 | 10.0 | 50.0 | 40.0 | 30.0 | 25.0 | 20.0 | 15.0 |" in table
    assert "**mean unseen** |  | 20 | 15.0 |" in table
    gains = zs.gain_table(summary, seen=["en", "es"])
    assert "| lt | no | 50.0 | 30.0 | -20.0 | -10.0 |" in gains


# ----------------------------------------------------------------------------------- CLI


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    """An untrained tiny Conformer run over a real phone vocabulary, blank suppressed."""
    from safetensors.torch import save_model

    from polyvox.speech.asr import AsrConfig, save_run_files
    from polyvox.speech.asr.model import ModelConfig, build_model

    torch.manual_seed(0)
    run_dir = tmp_path_factory.mktemp("phonemes") / "run"
    cfg = AsrConfig(run_dir=str(run_dir), model=ModelConfig(d_model=32, num_layers=1, num_heads=2, ffn_dim=64, n_mels=40))
    vocab = Vocab(SPECIALS + TRAIN)
    model = build_model(cfg.model, len(vocab))
    with torch.no_grad():
        model.head.bias[0] = -20.0  # no blank: every frame emits a phone
        model.head.bias[1] = -20.0
    save_run_files(run_dir, cfg, vocab, model)
    save_model(model, str(run_dir / "model.safetensors"))
    return run_dir


@pytest.fixture()
def wavs(tmp_path):
    from polyvox.data.audio import save_audio

    rng = np.random.default_rng(0)
    paths = []
    for i, seconds in enumerate((1.0, 1.6)):
        path = tmp_path / f"a{i}.wav"
        save_audio(path, (0.1 * rng.standard_normal(int(16000 * seconds))).astype(np.float32), 16000)
        paths.append(str(path))
    return paths


def _phones(out: str, n: int) -> list[list[str]]:
    lines = out.strip().splitlines()
    assert len(lines) == n
    return [line.split("\t")[-1].split() for line in lines]


def test_cli_prints_ipa_for_an_espeak_language(tiny_run, wavs, capsys, tmp_path, monkeypatch):
    from polyvox.cli import main as cli

    monkeypatch.setenv("POLYVOX_CACHE", str(tmp_path / "cache"))
    # Lithuanian: a language no config or corpus of the project trains on
    assert cli(["phonemes", str(tiny_run), *wavs, "--lang", "lt"]) == 0
    out = capsys.readouterr().out
    lt_phones = set(inventory.espeak_inventory("lt", cache_dir=tmp_path / "cache"))
    phones = _phones(out, 2)
    assert out.startswith(wavs[0] + "\t") and all(phones)
    assert {p for h in phones for p in h} <= lt_phones | {"|"}
    assert all(articulatory.is_known(p) for h in phones for p in h if p != "|")  # IPA segments panphon knows

    assert cli(["phonemes", str(tiny_run), wavs[0], "--lang", "lt", "--mode", "all", "--json"]) == 0
    rows = [json.loads(l) for l in capsys.readouterr().out.splitlines()]
    assert [r["mode"] for r in rows] == ["raw", "restrict", "map"] and all(r["audio"] == wavs[0] for r in rows)


def test_cli_inventory_file_and_raw(tiny_run, wavs, capsys, tmp_path):
    from polyvox.cli import main as cli

    inv = tmp_path / "inv.txt"
    inv.write_text("# a five-vowel language\na\ne\ni\no\nu\np\nt\nk\nm\nn\ns\nl\n", encoding="utf-8")
    assert cli(["phonemes", str(tiny_run), *wavs, "--inventory", str(inv)]) == 0
    phones = _phones(capsys.readouterr().out, 2)
    assert all(phones) and {p for h in phones for p in h} <= set("aeioiuptkmnsl") | {"|"}

    assert cli(["phonemes", str(tiny_run), *wavs]) == 0  # no target: the run's own phones
    raw = _phones(capsys.readouterr().out, 2)
    assert {p for h in raw for p in h} <= {s for t in TRAIN for s in zs.token_segments(t)} | {"|"}

    assert cli(["phonemes", str(tiny_run), wavs[0], "--mode", "map"]) == 2
    assert "needs a target" in capsys.readouterr().err
    assert cli(["phonemes", str(tiny_run), wavs[0], "--inventory", str(tmp_path / "nope.txt")]) == 2
    assert "nope.txt: inventory file not found" in capsys.readouterr().err


class _FixedModel(torch.nn.Module):
    """Emits the same frame sequence for every input: (B, T, V) log-probs, lengths (B,)."""

    def __init__(self, frames: list[int], vocab_size: int):
        super().__init__()
        lp = torch.full((len(frames), vocab_size), -30.0)
        lp[torch.arange(len(frames)), torch.tensor(frames)] = 0.0
        self.register_buffer("lp", torch.log_softmax(lp, -1))

    def forward(self, wavs, wav_lens):
        b = wavs.shape[0]
        return self.lp.expand(b, -1, -1), torch.full((b,), self.lp.shape[0])


def test_evaluation_scores_segments_not_spellings(tmp_path):
    """An inventory in corpus spelling ("ts") prints "ts" but scores as the segment t͡s."""
    from polyvox.data.audio import save_audio
    from polyvox.data.manifest import Utterance
    from polyvox.speech.asr import AsrConfig, AsrRun

    vocab = Vocab(SPECIALS + ("a", "ts", "θ"))
    ids = {t: i for i, t in enumerate(vocab.tokens)}
    frames = [ids[t] for t in ("a", "<pad>", "ts", "ts", "<pad>", "θ", "|", "a")]
    run = AsrRun(AsrConfig(), vocab, _FixedModel(frames, len(vocab)), tmp_path)
    save_audio(tmp_path / "x.wav", 0.1 * np.random.default_rng(0).standard_normal(16000).astype(np.float32), 16000)
    utt = Utterance("x", str(tmp_path / "x.wav"), 1.0, 16000, "xx", phonemes="a t͡s s | a")
    summary, rows = zs.evaluate_zero_shot(run, [utt], {"xx": ["a", "ts", "s"]})
    assert rows[0]["raw"] == "a t͡s θ | a" and rows[0]["restrict"] == "a ts | a" and rows[0]["map"] == "a ts s | a"
    s = summary["xx"]
    assert s["raw"]["per"] == pytest.approx(1 / 4)  # θ for s
    assert s["restrict"]["per"] == pytest.approx(1 / 4)  # s deleted; "ts" == t͡s is no error
    assert s["map"]["per"] == 0.0 and s["map"]["pfer"] == 0.0  # θ -> s: the nearest target phone
    assert s["raw"]["pfer"] < s["raw"]["per"]  # θ/s is a near miss
    assert s["oov"] == pytest.approx(1 / 4) and s["utterances"] == 1
