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

CONFIG_CLASS = {"asr_ctc": AsrConfig, "phoneme_recognition": PhonemeConfig,
                "utterance_classification": ClassificationConfig, "tts": TtsConfig,
                "text_classification": TextClassificationConfig, "speech_classification": SpeechClassificationConfig,
                "spoken_qa": SpokenQAConfig}


def test_every_recipe_script_is_covered():
    scripts = {p.parent.name for p in (ROOT / "recipes").glob("*/train.py")}
    assert scripts == set(CONFIG_CLASS)
    assert len(CONFIGS) >= 14


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: f"{p.parts[-3]}/{p.name}")
def test_config_loads_with_every_key_used(path):
    cls = CONFIG_CLASS[find_recipe(path).parent.name]
    check_all_keys_used(cls, path)
    train = "train" if "train" in cls.__dataclass_fields__ else "e2e.train"  # speech_classification: per system
    with pytest.raises(ConfigError, match=f"{train}.lrr: unknown key"):
        load_config(cls, path, [f"{train}.lrr=0.1"])
