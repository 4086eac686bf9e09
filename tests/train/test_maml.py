"""MAML on torch.func: meta-gradients match closed forms for linear regression tasks (second
order includes the Hessian term, first order drops it), a meta-step lowers the query loss, and
the fine-tuning baseline trains a copy."""

import pytest
import torch
from torch import nn

from polyvox.train.maml import MAMLConfig, Task, adapt, finetune, meta_loss, meta_step, split_params


def mse(model_fn, batch):
    x, y = batch
    return 0.5 * ((model_fn(x).squeeze(-1) - y) ** 2).mean()


def linear_tasks(n_tasks=4, n=8, seed=0):
    g = torch.Generator().manual_seed(seed)
    tasks = []
    for i in range(n_tasks):
        a = torch.tensor([1.0, -2.0]) + 0.5 * torch.randn(2, generator=g)  # task family around a mean
        xs, xq = torch.randn(n, 2, generator=g), torch.randn(n, 2, generator=g)
        tasks.append(Task(f"lang{i}", (xs, xs @ a), (xq, xq @ a)))
    return tasks


def closed_form_meta_grad(w, task, lr, first_order):
    (xs, ys), (xq, yq) = task.support, task.query
    n = xs.shape[0]
    g_s = xs.T @ (xs @ w - ys) / n
    w1 = w - lr * g_s
    g_q = xq.T @ (xq @ w1 - yq) / n
    if first_order:
        return g_q
    return (torch.eye(2) - lr * xs.T @ xs / n) @ g_q


@pytest.mark.parametrize("first_order", [False, True])
def test_meta_gradient_matches_closed_form(first_order):
    model = nn.Linear(2, 1, bias=False)
    with torch.no_grad():
        model.weight.copy_(torch.tensor([[0.3, 0.1]]))
    tasks = linear_tasks()
    cfg = MAMLConfig(inner_lr=0.3, inner_steps=1, first_order=first_order)
    meta_loss(model, tasks, mse, cfg).backward()
    w = model.weight.detach()[0]
    expected = torch.stack([closed_form_meta_grad(w, t, 0.3, first_order) for t in tasks]).mean(0)
    assert torch.allclose(model.weight.grad[0], expected, atol=1e-5)


def test_first_and_second_order_differ_by_the_hessian_term():
    tasks = linear_tasks()
    grads = {}
    for fo in (False, True):
        model = nn.Linear(2, 1, bias=False)
        nn.init.zeros_(model.weight)
        meta_loss(model, tasks, mse, MAMLConfig(inner_lr=0.3, first_order=fo)).backward()
        grads[fo] = model.weight.grad.clone()
    assert (grads[False] - grads[True]).norm() > 1e-2
    # with a vanishing inner learning rate both reduce to the plain multi-task gradient
    g0 = []
    for fo in (False, True):
        model = nn.Linear(2, 1, bias=False)
        nn.init.zeros_(model.weight)
        meta_loss(model, tasks, mse, MAMLConfig(inner_lr=0.0, first_order=fo)).backward()
        g0.append(model.weight.grad.clone())
    assert torch.allclose(g0[0], g0[1])


@pytest.mark.parametrize("first_order", [False, True])
def test_one_meta_step_reduces_query_loss(first_order):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(2, 8), nn.Tanh(), nn.Linear(8, 1))
    tasks = linear_tasks(seed=1)
    cfg = MAMLConfig(inner_lr=0.05, inner_steps=2, first_order=first_order)
    opt = torch.optim.SGD(model.parameters(), lr=0.05)
    before = meta_step(model, opt, tasks, mse, cfg)
    after = float(meta_loss(model, tasks, mse, cfg).detach())
    assert after < before


def test_adapt_prefixes_and_inner_loop_lowers_support_loss():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(2, 8), nn.Tanh(), nn.Linear(8, 1))
    fast, rest = split_params(model, ("2.",))
    assert set(fast) == {"2.weight", "2.bias"} and "0.weight" in rest
    task = linear_tasks(1)[0]
    cfg = MAMLConfig(inner_lr=0.1, inner_steps=3, adapt=("2.",))
    new = adapt(model, task.support, mse, cfg)
    assert set(new) == {"2.weight", "2.bias"}
    from polyvox.train.maml import functional_loss

    f = functional_loss(model, rest, mse)
    with torch.no_grad():
        assert float(f(new, task.support)) < float(f(fast, task.support))
    with pytest.raises(ValueError, match="adapt prefixes"):
        split_params(model, ("nope.",))


def test_finetune_baseline_trains_a_copy():
    torch.manual_seed(0)
    model = nn.Linear(2, 1)
    task = linear_tasks(1)[0]
    w0 = model.weight.detach().clone()
    tuned = finetune(model, [task.support], lambda m, b: mse(m, b), lr=0.05, steps=30)
    assert torch.equal(model.weight, w0)
    with torch.no_grad():
        assert mse(tuned, task.query) < mse(model, task.query)


@pytest.mark.parametrize("first_order", [False, True])
def test_maml_on_utterance_classifier_head(first_order):
    """Languages as tasks on the real classifier: only the head adapts (ANIL), the encoder still
    receives a meta-gradient through the query loss."""
    import torch.nn.functional as F

    from polyvox.speech.classify.model import build_classifier

    torch.manual_seed(0)
    model = build_classifier({"num_classes": 2, "encoder": "fbank", "n_mels": 16, "encoder_dim": 8,
                              "encoder_layers": 1, "pooling": "stats", "head_hidden": 8, "dropout": 0.0})

    def batch(seed):
        g = torch.Generator().manual_seed(seed)
        return {"wavs": 0.1 * torch.randn(4, 3200, generator=g), "wav_lens": torch.tensor([3200, 3000, 2800, 3200]),
                "labels": torch.tensor([0, 1, 0, 1])}

    def loss_fn(model_fn, b):
        return F.cross_entropy(model_fn(b["wavs"], b["wav_lens"]), b["labels"])

    tasks = [Task("en", batch(0), batch(1)), Task("hi", batch(2), batch(3))]
    loss = meta_loss(model, tasks, loss_fn, MAMLConfig(inner_lr=0.5, first_order=first_order, adapt=("head.",)))
    loss.backward()
    assert torch.isfinite(loss)
    assert model.encoder.proj.weight.grad is not None and model.encoder.proj.weight.grad.abs().sum() > 0
