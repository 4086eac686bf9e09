"""Batch samplers that fill batches by seconds of padded audio.

:class:`DurationBucketSampler` groups utterances of similar duration (quantile buckets) so a
batch padded to its longest member wastes little compute, shuffles by ``seed + epoch``, splits
batches over distributed ranks, supports weighted sampling with replacement (e.g.
language-balanced, see :func:`language_balanced_weights`) and resumes mid-epoch from
:meth:`~DurationBucketSampler.state_dict`. Use it as ``DataLoader(ds, batch_sampler=sampler)``.

:func:`random_batch_sampler` is the baseline (same budget, no buckets) and :func:`padding_waste`
measures the difference.
"""

from __future__ import annotations

import os

import math
from collections import Counter
from typing import Iterator, Sequence

import numpy as np
from torch.utils.data import Sampler


def padding_waste(batches: Sequence[Sequence[int]], durations: Sequence[float]) -> float:
    """Fraction of padded seconds that is padding: 1 - sum(durations) / sum(len(b) * max(b)).

    Each batch is padded to its longest member. Returns 0.0 for no batches.
    """
    padded = real = 0.0
    for b in batches:
        if not len(b):
            continue
        d = [durations[i] for i in b]
        padded += len(d) * max(d)
        real += sum(d)
    return 0.0 if padded == 0 else 1.0 - real / padded


def language_balanced_weights(languages: Sequence[str], alpha: float) -> list[float]:
    """Per-utterance sampling weights for temperature (alpha) language sampling.

    A language with ``n_l`` of the ``N`` utterances is drawn with probability
    ``p_l = (n_l / N) ** alpha / sum_k (n_k / N) ** alpha``, spread evenly over its utterances,
    so utterance ``i`` of language ``l`` gets weight ``p_l / n_l`` (the weights sum to 1).
    ``alpha = 1`` keeps the natural distribution (every utterance equally likely), ``alpha = 0``
    makes every language equally likely; values in between (e.g. 0.3-0.7, as in XLS-R / mBERT)
    up-sample rare languages. Pass the result as ``weights`` to :class:`DurationBucketSampler`.
    """
    if not math.isfinite(alpha) or alpha < 0:
        raise ValueError(f"alpha must be a finite number >= 0, got {alpha!r}")
    counts = Counter(languages)
    n = len(languages)
    if n == 0:
        return []
    mass = {lang: (c / n) ** alpha for lang, c in counts.items()}
    total = sum(mass.values())
    return [mass[lang] / total / counts[lang] for lang in languages]


def duration_buckets(durations: np.ndarray, num_buckets: int) -> np.ndarray:
    """Inner bucket boundaries (ascending, unique) at duration quantiles: ``num_buckets - 1`` or fewer."""
    if num_buckets <= 1 or len(durations) == 0:
        return np.zeros(0)
    qs = np.linspace(0.0, 1.0, num_buckets + 1)[1:-1]
    return np.unique(np.quantile(durations, qs))


def fill_batches(indices: Sequence[int], durations: np.ndarray, max_seconds: float) -> list[list[int]]:
    """Greedily cut ``indices`` (in order) into batches with ``len(batch) * max(dur) <= max_seconds``.

    An utterance longer than ``max_seconds`` gets a batch of its own (it is never dropped).
    """
    batches: list[list[int]] = []
    cur: list[int] = []
    cur_max = 0.0
    for i in indices:
        d = float(durations[i])
        m = max(cur_max, d)
        if cur and (len(cur) + 1) * m > max_seconds:
            batches.append(cur)
            cur, m = [], d
        cur.append(int(i))
        cur_max = m
    if cur:
        batches.append(cur)
    return batches


def _default_dist(rank: int | None, world_size: int | None) -> tuple[int, int]:
    import torch.distributed as dist

    # torchrun / accelerate launch set RANK and WORLD_SIZE before the process group exists, and
    # recipes may build their sampler first: fall back to those so every rank gets its own shard.
    on = dist.is_available() and dist.is_initialized()
    if world_size is None:
        world_size = dist.get_world_size() if on else int(os.environ.get("WORLD_SIZE", 1))
    if rank is None:
        rank = dist.get_rank() if on else int(os.environ.get("RANK", 0))
    if world_size < 1 or not 0 <= rank < world_size:
        raise ValueError(f"need 0 <= rank < world_size, got rank={rank}, world_size={world_size}")
    return rank, world_size


class DurationBucketSampler(Sampler[list[int]]):
    """Yields lists of dataset indices whose padded length fits ``max_seconds``.

    Per epoch (all ranks compute the same plan from ``seed`` and the epoch):

    1. the epoch's items: every index once, or, with ``weights`` / ``num_samples``,
       ``num_samples`` (default ``len(durations)``) indices drawn with replacement with
       probability proportional to ``weights`` (uniform if only ``num_samples`` is given);
    2. items go to ``num_buckets`` buckets at duration quantiles; each bucket is shuffled
       (sorted by duration when ``shuffle=False``) and cut greedily into batches with
       ``len(batch) * max duration <= max_seconds``; the part-filled last batches of the
       buckets are pooled in duration order and cut again, so few small batches remain.
       An utterance longer than ``max_seconds`` forms a batch of its own;
    3. the batch order is shuffled across buckets (kept when ``shuffle=False``);
    4. with ``world_size > 1``, rank ``r`` takes batches ``r, r + world_size, ...``. Every rank
       gets the same number: with ``drop_last=False`` the list is padded by repeating batches
       from its start (a few utterances are seen twice), with ``drop_last=True`` the last
       ``len % world_size`` batches are dropped (their utterances are not seen this epoch).

    Epochs and resuming: the iterator hands out the epoch's batches from ``batches_done`` on,
    counting each batch as it is yielded; when the epoch is exhausted it moves to the next
    epoch and ``batches_done`` goes back to 0. ``set_epoch(e)`` selects an epoch (keeping
    ``batches_done`` if ``e`` is the current epoch, so calling it after :meth:`load_state_dict`
    is harmless). The sampler is consumed ahead of the training loop when a DataLoader
    prefetches (``num_workers > 0``); then save ``state_dict(batches_done=steps_taken)`` with
    the number of batches the loop actually used in this epoch.

    ``len(sampler)`` is the number of batches per epoch for this rank.
    """

    def __init__(
        self,
        durations: Sequence[float],
        max_seconds: float,
        *,
        num_buckets: int = 30,
        shuffle: bool = True,
        seed: int = 0,
        drop_last: bool = False,
        rank: int | None = None,
        world_size: int | None = None,
        weights: Sequence[float] | None = None,
        num_samples: int | None = None,
    ):
        durs = np.asarray(durations, dtype=np.float64)
        if durs.ndim != 1:
            raise ValueError(f"durations must be a flat sequence of seconds, got shape {durs.shape}")
        bad = np.flatnonzero(~(np.isfinite(durs) & (durs > 0)))
        if len(bad):
            raise ValueError(f"durations must be positive finite seconds; index {bad[0]} is {durs[bad[0]]!r}")
        if not (max_seconds > 0 and math.isfinite(max_seconds)):
            raise ValueError(f"max_seconds must be a positive number, got {max_seconds!r}")
        if num_buckets < 1:
            raise ValueError(f"num_buckets must be >= 1, got {num_buckets}")
        self.durations = durs
        self.max_seconds = float(max_seconds)
        self.num_buckets = int(num_buckets)
        self.shuffle = bool(shuffle)
        self.seed = int(seed)
        self.drop_last = bool(drop_last)
        self.rank, self.world_size = _default_dist(rank, world_size)
        self.weights = None
        if weights is not None:
            w = np.asarray(weights, dtype=np.float64)
            if w.shape != durs.shape:
                raise ValueError(f"weights has {w.size} entries but there are {durs.size} durations")
            if not (np.isfinite(w).all() and (w >= 0).all() and w.sum() > 0):
                raise ValueError("weights must be finite, >= 0 and not all zero")
            self.weights = w / w.sum()
        if num_samples is not None and num_samples < 0:
            raise ValueError(f"num_samples must be >= 0, got {num_samples}")
        self.num_samples = num_samples
        self._boundaries = duration_buckets(durs, self.num_buckets)
        self.epoch = 0
        self.batches_done = 0
        self._plan_cache: tuple[int, list[list[int]]] | None = None

    # -- the plan ---------------------------------------------------------------------------

    def _epoch_items(self, rng: np.random.Generator) -> np.ndarray:
        n = len(self.durations)
        if self.weights is None and self.num_samples is None:
            return np.arange(n)
        k = n if self.num_samples is None else self.num_samples
        if n == 0:
            return np.zeros(0, dtype=np.int64)
        return rng.choice(n, size=k, replace=True, p=self.weights)

    def global_batches(self, epoch: int) -> list[list[int]]:
        """All batches of ``epoch`` before the split over ranks (same on every rank)."""
        rng = np.random.default_rng([self.seed, epoch])
        items = self._epoch_items(rng)
        bucket_of = np.searchsorted(self._boundaries, self.durations[items], side="right")
        batches: list[list[int]] = []
        leftovers: list[int] = []
        for b in range(len(self._boundaries) + 1):
            members = items[bucket_of == b]
            if self.shuffle:
                members = rng.permutation(members)
            else:
                members = members[np.argsort(self.durations[members], kind="stable")]
            cut = fill_batches(members, self.durations, self.max_seconds)
            if cut and self._is_partial(cut[-1]):
                leftovers.extend(cut.pop())
            batches.extend(cut)
        if leftovers:
            leftovers.sort(key=lambda i: self.durations[i])
            batches.extend(fill_batches(leftovers, self.durations, self.max_seconds))
        if self.shuffle:
            order = rng.permutation(len(batches))
            batches = [batches[i] for i in order]
        return batches

    def _is_partial(self, batch: list[int]) -> bool:
        # Another copy of its longest member would still fit: the batch was cut short by the bucket end.
        return (len(batch) + 1) * float(self.durations[batch].max()) <= self.max_seconds

    def rank_batches(self, epoch: int) -> list[list[int]]:
        """This rank's batches for ``epoch`` (equal count on every rank)."""
        if self._plan_cache is not None and self._plan_cache[0] == epoch:
            return self._plan_cache[1]
        batches = self.global_batches(epoch)
        ws = self.world_size
        if ws > 1:
            if self.drop_last:
                batches = batches[: len(batches) // ws * ws]
            elif batches and len(batches) % ws:
                extra = ws - len(batches) % ws
                batches = batches + [batches[i % len(batches)] for i in range(extra)]
            batches = batches[self.rank :: ws]
        self._plan_cache = (epoch, batches)
        return batches

    # -- Sampler protocol -------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self.rank_batches(self.epoch))

    def __iter__(self) -> Iterator[list[int]]:
        epoch = self.epoch
        batches = self.rank_batches(epoch)
        for i in range(self.batches_done, len(batches)):
            self.batches_done = i + 1
            yield list(batches[i])
        if self.epoch == epoch:  # not moved by set_epoch/load_state_dict meanwhile
            self.epoch = epoch + 1
            self.batches_done = 0

    def set_epoch(self, epoch: int) -> None:
        """Use ``epoch``'s shuffle; restarts the epoch unless ``epoch`` is the current one."""
        if epoch != self.epoch:
            self.epoch = int(epoch)
            self.batches_done = 0

    # -- resume ----------------------------------------------------------------------------

    def state_dict(self, batches_done: int | None = None) -> dict:
        """``{"epoch", "batches_done", "seed", "world_size", "num_items"}``.

        ``batches_done`` overrides the sampler's own count, for loaders that prefetch.
        """
        return {
            "epoch": self.epoch,
            "batches_done": self.batches_done if batches_done is None else int(batches_done),
            "seed": self.seed,
            "world_size": self.world_size,
            "num_items": len(self.durations),
        }

    def load_state_dict(self, state: dict) -> None:
        """Continue from ``state``: the next batch yielded is batch ``batches_done`` of ``epoch``."""
        missing = {"epoch", "batches_done", "seed"} - set(state)
        if missing:
            raise ValueError(f"sampler state is missing {sorted(missing)}")
        if "num_items" in state and state["num_items"] != len(self.durations):
            raise ValueError(
                f"sampler state was saved for {state['num_items']} utterances, this sampler has "
                f"{len(self.durations)}; the batch plan would differ"
            )
        if "world_size" in state and state["world_size"] != self.world_size:
            raise ValueError(
                f"sampler state was saved with world_size={state['world_size']}, now {self.world_size}; "
                "cannot continue the same epoch (load it with batches_done=0 to restart the epoch)"
            )
        self.seed = int(state["seed"])
        self.epoch = int(state["epoch"])
        self.batches_done = int(state["batches_done"])
        self._plan_cache = None


def random_batch_sampler(durations: Sequence[float], max_seconds: float, **kwargs) -> DurationBucketSampler:
    """Baseline: random order filled to the same padded ``max_seconds`` budget, no duration buckets.

    Same options, epochs, distribution and resume as :class:`DurationBucketSampler`
    (it is one with ``num_buckets=1``).
    """
    kwargs["num_buckets"] = 1
    return DurationBucketSampler(durations, max_seconds, **kwargs)


def fixed_size_batches(n: int, batch_size: int, *, seed: int = 0) -> list[list[int]]:
    """Baseline: indices ``0..n-1`` in random order cut into batches of ``batch_size`` (last may be smaller)."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    order = np.random.default_rng(seed).permutation(n).tolist()
    return [order[i : i + batch_size] for i in range(0, n, batch_size)]
