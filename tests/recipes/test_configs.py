"""Every YAML under recipes/ loads into its recipe's dataclass with every key used (SpeechBrain's habit), and a
typo in any of them would be an error naming the key."""

from pathlib import Path

import pytest

from polyvox.speech.asr.config import AsrConfig
from polyvox.speech.classify.config import ClassificationConfig
from polyvox.speech.phones.task import PhonemeConfig
from polyvox.train.config import ConfigError, check_all_keys_used, load_config
from polyvox.train.recipes import find_recipe

ROOT = Path(__file__).resolve().parents[2]
CONFIGS = sorted((ROOT / "recipes").glob("*/configs/*.yaml"))
# the script a config runs -> the dataclass its main() loads it into
from polyvox.speech.tts.config import TtsConfig  # noqa: E402
from polyvox.multimodal.config import SpeechClassificationConfig, SpokenQAConfig  # noqa: E402
from polyvox.text.classify.config import TextClassificationConfig  # noqa: E402

from polyvox.speech.f5tts.config import F5RecipeConfig  # noqa: E402
from polyvox.speech.vocoder.config import VocoderConfig  # noqa: E402

CONFIG_CLASS = {"asr_ctc/train.py": AsrConfig, "phoneme_recognition/train.py": PhonemeConfig,
                "utterance_classification/train.py": ClassificationConfig, "tts/train.py": TtsConfig,
                "tts/f5.py": F5RecipeConfig, "tts/vocoder.py": VocoderConfig,
                "text_classification/train.py": TextClassificationConfig,
                "speech_classification/train.py": SpeechClassificationConfig, "spoken_qa/train.py": SpokenQAConfig}


def script_of(config: Path) -> str:
    return find_recipe(config).relative_to(ROOT / "recipes").as_posix()


def test_every_recipe_script_is_covered():
    scripts = {p.relative_to(ROOT / "recipes").as_posix() for p in (ROOT / "recipes").glob("*/*.py")
               if p.name != "__init__.py"}
    assert scripts == set(CONFIG_CLASS)
    assert {script_of(c) for c in CONFIGS} == scripts  # every script has a config
    assert len(CONFIGS) >= 19


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: f"{p.parts[-3]}/{p.name}")
def test_config_loads_with_every_key_used(path):
    cls = CONFIG_CLASS[script_of(path)]
    check_all_keys_used(cls, path)
    train = "train" if "train" in cls.__dataclass_fields__ else "e2e.train"  # speech_classification: per system
    with pytest.raises(ConfigError, match=f"{train}.lrr: unknown key"):
        load_config(cls, path, [f"{train}.lrr=0.1"])
