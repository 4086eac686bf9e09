"""Model-agnostic meta-learning (MAML) with languages as tasks, on ``torch.func``.

A *task* is one language: a support batch to adapt on and a query batch to score the adapted
weights. One meta-step, for each task: start from the shared weights theta, take
``inner_steps`` SGD steps on the support loss (``theta' = theta - inner_lr * grad``), compute
the query loss at theta'; the meta-loss is the mean query loss over tasks, and its gradient
w.r.t. theta updates the shared weights.

* Second order (``first_order=False``): the gradient flows through the inner updates,
  ``d L_q(theta') / d theta = (I - inner_lr * H_support) grad L_q(theta')`` for one step.
* First order (FOMAML, ``first_order=True``): inner gradients are treated as constants, so the
  meta-gradient is just ``grad L_q(theta')`` -- cheaper, no Hessian-vector products.

The model is called functionally (``torch.func.functional_call``) with the adapted weights;
the inner gradient is ``torch.func.grad``, whose result stays differentiable for the outer
``backward()``. Any optimizer then applies the meta-gradient, so a meta-step is an ordinary
``loss.backward(); optimizer.step()``.

Losses are written as ``loss_fn(model_fn, batch) -> scalar``, where ``model_fn(*args)``
calls the model with whichever weights are current, e.g.::

    def loss_fn(model_fn, batch):
        return F.cross_entropy(model_fn(batch["wavs"], batch["wav_lens"]), batch["labels"])

The plain baseline, :func:`finetune`, takes the same loss: ordinary gradient steps on the
target language's support data from (jointly pre-trained) weights.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Sequence

import torch
from torch import nn
from torch.func import functional_call, grad

LossFn = Callable[[Callable[..., Any], Any], torch.Tensor]


@dataclass
class MAMLConfig:
    inner_lr: float = 0.01
    inner_steps: int = 1
    first_order: bool = False
    # Parameter-name prefixes adapted in the inner loop (e.g. ["head."] adapts only the head,
    # "ANIL"); empty = every trainable parameter.
    adapt: tuple[str, ...] = ()


@dataclass(frozen=True)
class Task:
    """One language: ``support`` to adapt on, ``query`` to evaluate; batches are whatever
    ``loss_fn`` takes."""

    name: str
    support: Any
    query: Any


def split_params(model: nn.Module, adapt: Sequence[str] = ()) -> tuple[dict, dict]:
    """(fast, rest): trainable parameters adapted in the inner loop, and everything else that
    ``functional_call`` needs (other parameters and buffers). Tensors are the model's own, so
    gradients reach ``model.parameters()``."""
    fast, rest = {}, {}
    for name, p in model.named_parameters():
        chosen = p.requires_grad and (not adapt or any(name.startswith(a) for a in adapt))
        (fast if chosen else rest)[name] = p
    if not fast:
        raise ValueError(f"no trainable parameter matches the adapt prefixes {list(adapt)}")
    rest.update(dict(model.named_buffers()))
    return fast, rest


def functional_loss(model: nn.Module, rest: dict, loss_fn: LossFn) -> Callable[[dict, Any], torch.Tensor]:
    """``f(fast, batch)``: the loss with the model's weights replaced by ``fast`` (+ ``rest``)."""

    def f(fast: dict, batch: Any) -> torch.Tensor:
        weights = {**rest, **fast}
        return loss_fn(lambda *a, **k: functional_call(model, weights, a, k), batch)

    return f


def adapt(model: nn.Module, support: Any, loss_fn: LossFn, cfg: MAMLConfig,
          fast: dict | None = None, rest: dict | None = None) -> dict:
    """Inner loop: ``cfg.inner_steps`` SGD steps on the support loss. Returns the adapted
    weights (a dict name -> tensor), differentiable w.r.t. the starting weights unless
    ``cfg.first_order``."""
    if fast is None or rest is None:
        fast, rest = split_params(model, cfg.adapt)
    f = functional_loss(model, rest, loss_fn)
    g_f = grad(f)
    for _ in range(cfg.inner_steps):
        g = g_f(fast, support)
        if cfg.first_order:
            g = {k: v.detach() for k, v in g.items()}
        fast = {k: fast[k] - cfg.inner_lr * g[k] for k in fast}
    return fast


def meta_loss(model: nn.Module, tasks: Sequence[Task], loss_fn: LossFn, cfg: MAMLConfig) -> torch.Tensor:
    """Mean over tasks of the query loss after adapting on the task's support batch. Calling
    ``.backward()`` on it leaves the (first- or second-order) meta-gradient in ``.grad``."""
    if not tasks:
        raise ValueError("meta_loss needs at least one task")
    fast, rest = split_params(model, cfg.adapt)
    f = functional_loss(model, rest, loss_fn)
    losses = [f(adapt(model, t.support, loss_fn, cfg, fast, rest), t.query) for t in tasks]
    return torch.stack(losses).mean()


def meta_step(model: nn.Module, optimizer: torch.optim.Optimizer, tasks: Sequence[Task], loss_fn: LossFn,
              cfg: MAMLConfig) -> float:
    """One outer update of the shared weights; returns the meta-loss before the update."""
    optimizer.zero_grad(set_to_none=True)
    loss = meta_loss(model, tasks, loss_fn, cfg)
    loss.backward()
    optimizer.step()
    return float(loss.detach())


def finetune(model: nn.Module, batches: Iterable[Any], loss_fn: LossFn, *, lr: float = 1e-3, steps: int = 10,
             adapt: Sequence[str] = (), optimizer: str = "adam") -> nn.Module:
    """Baseline: a copy of ``model`` fine-tuned with plain gradient steps on ``batches``
    (cycled until ``steps`` updates), e.g. the target language's few labelled examples.
    Only parameters whose names start with one of ``adapt`` change (all if empty)."""
    tuned = copy.deepcopy(model).train()
    params = [p for n, p in tuned.named_parameters()
              if p.requires_grad and (not adapt or any(n.startswith(a) for a in adapt))]
    if not params:
        raise ValueError(f"no trainable parameter matches the adapt prefixes {list(adapt)}")
    opt = torch.optim.Adam(params, lr=lr) if optimizer == "adam" else torch.optim.SGD(params, lr=lr)
    batches = list(batches)
    if not batches:
        raise ValueError("finetune needs at least one batch")
    for step in range(steps):
        batch = batches[step % len(batches)]
        opt.zero_grad(set_to_none=True)
        loss_fn(tuned, batch).backward()
        opt.step()
    return tuned
