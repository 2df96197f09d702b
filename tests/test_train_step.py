"""One optimizer step against SPEC section 4 written out in numpy; fp16 loss scaling on CPU."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from test_train_support import make_archive, settings
from torch import nn

from voxsv.heads import build_head
from voxsv.models import build_model
from voxsv.train import checkpoint
from voxsv.train.loop import Classifier, run
from voxsv.train.settings import RunSettings
from voxsv.train.step import OptimizerStep, decayed_weights

FEATS, DIM, CLASSES, MICRO = 6, 5, 4, 3


def _net(seed: int = 0) -> Classifier:
    torch.manual_seed(seed)
    extractor = nn.Linear(FEATS, DIM, bias=False)
    nn.init.normal_(extractor.weight, std=1.0)
    return Classifier(extractor, build_head("linear", DIM, CLASSES))


def _batches(seed: int, count: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
    g = torch.Generator().manual_seed(seed)
    return [(3 * torch.randn(MICRO, FEATS, generator=g), torch.randint(0, CLASSES, (MICRO,),
                                                                       generator=g))
            for _ in range(count)]


def ce_gradients(a: np.ndarray, b: np.ndarray, x: np.ndarray, y: np.ndarray):
    """d/dA, d/dB of the mean cross-entropy of logits x A^T B^T (softmax - one-hot)."""
    h = x @ a.T
    z = h @ b.T
    p = np.exp(z - z.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    p[np.arange(len(y)), y] -= 1.0
    dz = p / len(y)
    return (dz @ b).T @ x, dz.T @ h


def spec_steps(a, b, micro_batches, lr, decay, clip, decay_after_clip=False):
    """SPEC: g = mean over micro-batches of the CE gradient + decay * w (the L2 term's
    gradient), clipped to global norm `clip`, then SGD momentum 0.9 (buf = 0.9 buf + g)."""
    bufs = None
    for step in micro_batches:
        grads = [np.zeros_like(a), np.zeros_like(b)]
        for x, y in step:
            for g, d in zip(grads, ce_gradients(a, b, x, y), strict=True):
                g += d / len(step)
        if not decay_after_clip:
            grads = [g + decay * w for g, w in zip(grads, (a, b), strict=True)]
        norm = np.sqrt(sum((g**2).sum() for g in grads))
        grads = [g * min(1.0, clip / norm) for g in grads]
        if decay_after_clip:  # what SGD(weight_decay=...) does; not the recipe
            grads = [g + decay * w for g, w in zip(grads, (a, b), strict=True)]
        bufs = grads if bufs is None else [0.9 * m + g for m, g in zip(bufs, grads, strict=True)]
        a, b = a - lr * bufs[0], b - lr * bufs[1]
    return a, b, norm


def test_l2_gradient_is_averaged_then_clipped_with_the_rest() -> None:
    """Two steps of 2 accumulated micro-batches with clipping active match SPEC by hand."""
    net = _net()
    a0 = net.extractor.weight.detach().double().numpy().copy()
    b0 = net.head.weight.detach().double().numpy().copy()
    lr, decay, clip = 0.3, 0.05, 1.0
    optimizer = torch.optim.SGD(net.parameters(), lr=lr, momentum=0.9)
    step = OptimizerStep(net, net, optimizer, torch.amp.GradScaler("cpu", enabled=False), None,
                         torch.device("cpu"), accumulation=2, clip_norm=clip, weight_decay=decay)
    data = _batches(1, 4)
    batches = iter(data)
    for _ in range(2):
        assert step(batches)[2]

    micro = [[(x.double().numpy(), y.numpy()) for x, y in data[i:i + 2]] for i in (0, 2)]
    a, b, norm = spec_steps(a0, b0, micro, lr, decay, clip)
    assert norm > 3 * clip  # clipping is active in this case
    np.testing.assert_allclose(net.extractor.weight.detach().numpy(), a, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(net.head.weight.detach().numpy(), b, rtol=1e-5, atol=1e-6)
    # decay added after clipping (torch.optim.SGD's weight_decay) lands elsewhere
    a_alt, _, _ = spec_steps(a0, b0, micro, lr, decay, clip, decay_after_clip=True)
    assert np.abs(a_alt - a).max() > 1e-2


def test_fp16_overflow_skips_the_step_and_lowers_the_scale() -> None:
    """fp16 autocast + GradScaler on CPU: an inf gradient leaves weights and momentum alone
    and halves the scale; the next, finite step updates at an unchanged scale."""
    net = _net()
    seen: list[torch.dtype] = []
    net.extractor.register_forward_hook(lambda m, i, out: seen.append(out.dtype))
    poison = [True]
    net.extractor.weight.register_hook(lambda g: g * float("inf") if poison[0] else g)
    optimizer = torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9)
    scaler = torch.amp.GradScaler("cpu", init_scale=2.0**10)
    step = OptimizerStep(net, net, optimizer, scaler, torch.float16, torch.device("cpu"),
                         accumulation=2, clip_norm=1.0, weight_decay=1e-3)
    before = {k: v.detach().clone() for k, v in net.named_parameters()}
    batches = iter(_batches(2, 4))

    loss, _, applied = step(batches)
    assert not applied and torch.isfinite(loss)
    assert seen == [torch.float16] * 2  # the forward ran under fp16 autocast
    assert all(torch.equal(v, before[k]) for k, v in net.named_parameters())
    assert not optimizer.state  # no momentum buffer was written either
    assert scaler.get_scale() == 2.0**9

    poison[0] = False
    assert step(batches)[2]
    assert all(not torch.equal(v, before[k]) for k, v in net.named_parameters())
    assert scaler.get_scale() == 2.0**9


def test_sgd_has_no_decoupled_weight_decay(tmp_path: Path) -> None:
    """The training loop's optimizer is plain SGD with momentum 0.9: decay is in the gradient."""
    archive = make_archive(tmp_path / "fbank" / "shard0.jsonl.gz")[0]
    run(RunSettings.from_dict(settings(tmp_path, archive, epochs=1)))
    groups = checkpoint.load(tmp_path / "exp/tiny/pretrain/model.pt")["optimizer"]["param_groups"]
    assert [(g["weight_decay"], g["momentum"], g["nesterov"]) for g in groups] == [(0, 0.9, False)]


def test_decayed_weights_are_every_parameter() -> None:
    """Every parameter of the extractors and heads is a conv/dense/head kernel (ndim > 1)."""
    net = Classifier(build_model({"arch": "tdnn"}, 40), build_head("sc_cm", 256, 3))
    assert len(decayed_weights(net)) == len(list(net.parameters()))
