"""read_splits: the given manifests or the built-in corpus, filtered, with errors that name what is missing."""

from dataclasses import dataclass, field

import pytest

from polyvox.data.manifest import Utterance, write_manifest
from polyvox.data.synth.spec import CorpusConfig, read_splits


@dataclass
class Data:
    train_manifests: list = field(default_factory=list)
    dev_manifests: list = field(default_factory=list)
    test_manifests: list = field(default_factory=list)
    corpus: CorpusConfig = field(default_factory=CorpusConfig)


def manifest(path, durations):
    rows = [Utterance(id=f"u{i}", audio=f"/x/u{i}.wav", duration=d, sample_rate=16000, language="en",
                      speaker="s") for i, d in
            enumerate(durations)]
    write_manifest(path, rows)
    return str(path)


def test_given_manifests_are_read_and_filtered(tmp_path):
    d = Data([manifest(tmp_path / "t.jsonl", [0.2, 1.0, 30.0])], [manifest(tmp_path / "d.jsonl", [1.0])],
             [manifest(tmp_path / "e.jsonl", [2.0])])
    out = read_splits(d, min_duration=0.3, max_duration=20.0)
    assert [u.id for u in out["train"]] == ["u1"] and len(out["dev"]) == len(out["test"]) == 1


def test_missing_or_emptied_splits_are_named(tmp_path):
    train = manifest(tmp_path / "t.jsonl", [1.0])
    with pytest.raises(ValueError, match="data.dev_manifests is needed"):
        read_splits(Data([train]))
    short = manifest(tmp_path / "short.jsonl", [0.1])
    with pytest.raises(ValueError, match=r"the dev split has no rows of at least 0.5 s \(\[.*short.jsonl"):
        read_splits(Data([train], [short], [train]), min_duration=0.5, requirement="of at least 0.5 s")
