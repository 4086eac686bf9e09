from collections import Counter

import numpy as np
import pytest
import torch

from polyvox.data.sampler import (
    DurationBucketSampler,
    fill_batches,
    fixed_size_batches,
    language_balanced_weights,
    padding_waste,
    random_batch_sampler,
)


def speech_durations(n=600, seed=0):
    """Log-normal around 4 s, 0.5-20 s: the shape of read-speech corpora."""
    rng = np.random.default_rng(seed)
    return np.clip(rng.lognormal(np.log(4.0), 0.5, n), 0.5, 20.0).tolist()


def flat(batches):
    return [i for b in batches for i in b]


def test_batches_respect_max_seconds_and_cover_every_index_once():
    d = speech_durations()
    s = DurationBucketSampler(d, 40.0, seed=1)
    n = len(s)  # batches in the current epoch; the count can differ a little between epochs
    batches = list(s)
    assert len(batches) == n > 0
    for b in batches:
        assert len(b) * max(d[i] for i in b) <= 40.0
    assert sorted(flat(batches)) == list(range(len(d)))


def test_long_utterance_gets_its_own_batch():
    d = [1.0] * 20 + [50.0, 2.0]
    batches = list(DurationBucketSampler(d, 10.0, num_buckets=3))
    assert [20] in batches
    assert sorted(flat(batches)) == list(range(len(d)))
    assert all(len(b) * max(d[i] for i in b) <= 10.0 for b in batches if b != [20])


def test_fill_batches_is_greedy_on_padded_length():
    d = np.array([1.0, 1.0, 3.0, 1.0, 1.0])
    # [1,1] -> adding 3 would pad to 3*3=9 > 6; [3,1] -> 3*3=9 > 6 again.
    assert fill_batches(range(5), d, 6.0) == [[0, 1], [2, 3], [4]]


def test_same_seed_same_batches_other_epoch_or_seed_differs():
    d = speech_durations()
    a = DurationBucketSampler(d, 40.0, seed=3)
    b = DurationBucketSampler(d, 40.0, seed=3)
    first = list(a)
    assert first == list(b)
    assert a.epoch == 1 and a.batches_done == 0  # exhausting an epoch moves to the next
    second = list(a)
    assert second != first and sorted(flat(second)) == sorted(flat(first))
    a.set_epoch(0)
    assert list(a) == first
    assert list(DurationBucketSampler(d, 40.0, seed=4)) != first


def test_no_shuffle_is_stable_across_epochs():
    d = speech_durations(200)
    s = DurationBucketSampler(d, 30.0, shuffle=False)
    assert list(s) == list(s)


@pytest.mark.parametrize("drop_last", [False, True])
@pytest.mark.parametrize("world_size", [2, 3])
def test_distributed_ranks_have_equal_counts_and_cover_the_data(world_size, drop_last):
    d = speech_durations(301)
    samplers = [
        DurationBucketSampler(d, 37.0, seed=5, rank=r, world_size=world_size, drop_last=drop_last)
        for r in range(world_size)
    ]
    per_rank = [list(s) for s in samplers]
    counts = {len(b) for b in per_rank}
    assert len(counts) == 1 and counts == {len(samplers[0])}
    global_batches = samplers[0].global_batches(0)
    handed_out = Counter(tuple(b) for b in flat(per_rank))
    if drop_last:
        kept = global_batches[: len(global_batches) // world_size * world_size]
        assert handed_out == Counter(tuple(b) for b in kept)  # each kept batch on exactly one rank
        assert len(global_batches) - len(kept) < world_size
    else:
        assert set(flat(flat(per_rank))) == set(range(len(d)))  # every utterance on some rank
        padded = global_batches + global_batches[: -len(global_batches) % world_size]
        assert handed_out == Counter(tuple(b) for b in padded)  # padding repeats leading batches


def test_defaults_to_single_process_without_torch_distributed():
    assert not torch.distributed.is_initialized()
    s = DurationBucketSampler([1.0, 2.0], 10.0)
    assert (s.rank, s.world_size) == (0, 1)
    with pytest.raises(ValueError, match="rank"):
        DurationBucketSampler([1.0], 10.0, rank=2, world_size=2)


def test_resume_mid_epoch_continues_with_the_identical_batches():
    d = speech_durations()
    s = DurationBucketSampler(d, 40.0, seed=7)
    s.set_epoch(2)
    full = list(s)
    s.set_epoch(2)
    it = iter(s)
    head = [next(it) for _ in range(5)]
    state = s.state_dict()
    assert state["epoch"] == 2 and state["batches_done"] == 5 and state["seed"] == 7
    fresh = DurationBucketSampler(d, 40.0, seed=0)  # seed comes from the state
    fresh.load_state_dict(state)
    fresh.set_epoch(2)  # a trainer's usual call must not restart the epoch
    rest = list(fresh)
    assert head + rest == full
    assert fresh.state_dict()["epoch"] == 3 and fresh.state_dict()["batches_done"] == 0


def test_state_dict_override_for_prefetching_loaders_and_mismatch_errors():
    d = speech_durations(100)
    s = DurationBucketSampler(d, 30.0)
    assert s.state_dict(batches_done=4)["batches_done"] == 4
    with pytest.raises(ValueError, match="utterances"):
        DurationBucketSampler(d[:50], 30.0).load_state_dict(s.state_dict())
    with pytest.raises(ValueError, match="world_size"):
        DurationBucketSampler(d, 30.0, rank=0, world_size=2).load_state_dict(s.state_dict())


def test_works_as_dataloader_batch_sampler():
    d = speech_durations(50)
    ds = torch.utils.data.TensorDataset(torch.arange(len(d)))
    s = DurationBucketSampler(d, 20.0, seed=2)
    loader = torch.utils.data.DataLoader(ds, batch_sampler=s)
    n = len(loader)
    got = [sorted(int(x) for x in batch) for (batch,) in loader]
    assert sorted(flat(got)) == list(range(len(d))) and len(got) == n


def test_language_balanced_weights():
    langs = ["en"] * 80 + ["es"] * 15 + ["de"] * 5
    for alpha in (0.0, 0.5, 1.0):
        w = language_balanced_weights(langs, alpha)
        assert sum(w) == pytest.approx(1.0)
        mass = {l: sum(x for x, m in zip(w, langs) if m == l) for l in set(langs)}
        expect = {l: (n / 100) ** alpha for l, n in Counter(langs).items()}
        z = sum(expect.values())
        assert mass == pytest.approx({l: v / z for l, v in expect.items()})
    assert len(set(language_balanced_weights(langs, 1.0))) == 1  # natural: uniform per utterance
    with pytest.raises(ValueError):
        language_balanced_weights(langs, -1.0)


def test_weighted_sampling_shifts_language_proportions_as_alpha_predicts():
    langs = ["en"] * 400 + ["es"] * 80 + ["de"] * 20
    d = speech_durations(len(langs))
    for alpha in (1.0, 0.0):
        w = language_balanced_weights(langs, alpha)
        s = DurationBucketSampler(d, 40.0, weights=w, num_samples=4000, seed=1)
        drawn = Counter(langs[i] for b in s for i in b)
        total = sum(drawn.values())
        assert total == 4000
        share = {l: drawn[l] / total for l in ("en", "es", "de")}
        if alpha == 1.0:
            assert share == pytest.approx({"en": 0.8, "es": 0.16, "de": 0.04}, abs=0.03)
        else:
            assert share == pytest.approx({"en": 1 / 3, "es": 1 / 3, "de": 1 / 3}, abs=0.03)
    for b in DurationBucketSampler(d, 40.0, weights=w, num_samples=4000):
        assert len(b) * max(d[i] for i in b) <= 40.0


def test_weighted_draws_differ_by_epoch_and_resume_exactly():
    langs = ["en"] * 50 + ["de"] * 10
    d = speech_durations(60)
    s = DurationBucketSampler(d, 30.0, weights=language_balanced_weights(langs, 0.3), seed=9)
    e0, e1 = list(s), list(s)
    assert e0 != e1
    s.load_state_dict({"epoch": 1, "batches_done": 2, "seed": 9})
    assert list(s) == e1[2:]


def test_bucketed_padding_waste_is_small_and_below_random():
    d = speech_durations(1000)
    bucketed = padding_waste(list(DurationBucketSampler(d, 60.0)), d)
    random = padding_waste(list(random_batch_sampler(d, 60.0)), d)
    fixed = padding_waste(fixed_size_batches(len(d), 12), d)
    assert bucketed < 0.06
    assert random > 3 * bucketed and fixed > 3 * bucketed


def test_padding_waste_arithmetic():
    assert padding_waste([[0, 1]], [1.0, 3.0]) == pytest.approx(1 - 4 / 6)
    assert padding_waste([], [1.0]) == 0.0
    assert padding_waste([[0], [1]], [1.0, 3.0]) == 0.0


def test_bad_inputs_are_named():
    with pytest.raises(ValueError, match="index 1"):
        DurationBucketSampler([1.0, 0.0], 10.0)
    with pytest.raises(ValueError, match="max_seconds"):
        DurationBucketSampler([1.0], 0)
    with pytest.raises(ValueError, match="weights"):
        DurationBucketSampler([1.0, 2.0], 10.0, weights=[1.0])


def test_rank_and_world_size_come_from_torchrun_env_before_process_group(monkeypatch):
    """torchrun sets RANK/WORLD_SIZE before any process group exists; shards must still differ."""
    from polyvox.data.sampler import DurationBucketSampler

    durations = [1.0 + 0.1 * (i % 7) for i in range(40)]
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "1")
    s = DurationBucketSampler(durations, max_seconds=4.0, seed=0)
    assert (s.rank, s.world_size) == (1, 2)
    monkeypatch.setenv("RANK", "0")
    s0 = DurationBucketSampler(durations, max_seconds=4.0, seed=0)
    assert list(s) != list(s0)
