"""Classification heads against direct formulas, sub-centres, margin 0, fp16/bf16 edges."""

from __future__ import annotations

import math

import pytest
import torch

from voxsv.heads import HEAD_KINDS, MARGIN_KINDS, build_head

DIM, CLASSES, BATCH = 16, 10, 7


def direct_logits(kind: str, x: torch.Tensor, w: torch.Tensor, labels: torch.Tensor, s: float,
                  m: float, k: int) -> torch.Tensor:
    """SPEC section 3 written out in float64, one row and class at a time."""
    x = x.double() / x.double().norm(dim=1, keepdim=True)
    w = w.double() / w.double().norm(dim=1, keepdim=True)
    out = torch.empty(len(x), CLASSES, dtype=torch.float64)
    for i in range(len(x)):
        for c in range(CLASSES):
            cos = max(float(x[i] @ w[c * k + j]) for j in range(k))
            if c == int(labels[i]):
                theta = math.acos(min(max(cos, -1.0), 1.0))
                cos = {
                    "am": cos - m,
                    "sc_am": cos - m,
                    "aam": math.cos(theta + m),
                    "cm": math.cos(theta + m) - m * m / 2,
                    "sc_cm": math.cos(theta + m) - m * m / 2,
                    "cm_voxsrc2020": math.cos(theta + m) - m / 2,
                }[kind]
            out[i, c] = s * cos
    return out


@pytest.mark.parametrize("kind", MARGIN_KINDS)
@pytest.mark.parametrize("margin", [0.0, 0.2, 0.4])
def test_margin_heads_match_direct_formula(kind: str, margin: float) -> None:
    torch.manual_seed(0)
    head = build_head(kind, DIM, CLASSES, scale=30.0, margin=margin, subcenters=3)
    k = 3 if kind.startswith("sc_") else 1
    assert head.weight.shape == (CLASSES * k, DIM)
    x, labels = torch.randn(BATCH, DIM), torch.randint(0, CLASSES, (BATCH,))
    expected = direct_logits(kind, x, head.weight.detach(), labels, 30.0, margin, k)
    torch.testing.assert_close(head(x, labels).double(), expected, rtol=1e-5, atol=1e-4)
    plain = direct_logits(kind, x, head.weight.detach(), labels, 30.0, 0.0, k)
    torch.testing.assert_close(head(x, None).double(), plain, rtol=1e-5, atol=1e-4)


def test_subcenter_takes_the_best_centre_per_class() -> None:
    head = build_head("sc_cm", 2, 2, scale=1.0, margin=0.0, subcenters=2)
    with torch.no_grad():  # class 0: centres at 0 and 90 degrees; class 1: at 180 and 270
        head.weight.copy_(torch.tensor([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0], [0.0, -1.0]]))
    logits = head(torch.tensor([[0.2, 1.0], [-1.0, -0.2]]), None)
    c = 1 / math.hypot(1.0, 0.2)
    torch.testing.assert_close(logits, torch.tensor([[c, -0.2 * c], [-0.2 * c, c]]))


def test_target_logit_stays_monotonic_past_pi() -> None:
    head = build_head("aam", 2, 1, scale=1.0, margin=0.5)
    with torch.no_grad():
        head.weight.copy_(torch.tensor([[1.0, 0.0]]))
    angles = torch.linspace(2.0, math.pi, 50)
    x = torch.stack([torch.cos(angles), torch.sin(angles)], dim=1)
    logits = head(x, torch.zeros(50, dtype=torch.long))[:, 0]
    assert (logits.diff() < 0).all()
    past = angles + 0.5 > math.pi  # cos(theta + m) would rise again here: c - m sin(m) instead
    torch.testing.assert_close(logits[past], torch.cos(angles[past]) - 0.5 * math.sin(0.5))


def test_linear_head_is_a_plain_dense_layer() -> None:
    head = build_head("linear", DIM, CLASSES)
    x = torch.randn(BATCH, DIM)
    torch.testing.assert_close(head(x, torch.zeros(BATCH, dtype=torch.long)),
                               x @ head.weight.detach().t())


@pytest.mark.parametrize("kind", HEAD_KINDS)
def test_head_weights_start_orthogonal(kind: str) -> None:
    head = build_head(kind, 64, 20, subcenters=2)
    w = head.weight.detach()
    torch.testing.assert_close(w @ w.t(), torch.eye(len(w)), atol=1e-5, rtol=0)


def test_scale_and_margin_are_settable_per_step() -> None:
    head = build_head("sc_cm", DIM, CLASSES, scale=32.0, margin=0.2)
    x, labels = torch.randn(BATCH, DIM), torch.randint(0, CLASSES, (BATCH,))
    before = head(x, labels)
    head.margin, head.scale = 0.0, 16.0
    assert (head.margin, head.scale) == (0.0, 16.0)
    torch.testing.assert_close(head(x, labels), head(x, None))
    torch.testing.assert_close(head(x, None), before.new_tensor(16.0) * head.cosine(x))
    assert list(head.state_dict()) == ["weight"]


@pytest.mark.parametrize("kind", HEAD_KINDS)
@pytest.mark.parametrize("precision", ["bf16-autocast", "fp16-half"])
def test_no_nan_at_the_clip_edges(kind: str, precision: str) -> None:
    torch.manual_seed(0)
    head = build_head(kind, DIM, CLASSES, margin=0.4)
    w = head.weight.detach()[:: 2 if kind.startswith("sc_") else 1]  # one centre per class
    labels = torch.arange(CLASSES).repeat(2)
    x = torch.cat([w, -w])  # cos = +1 with the target, -1 with it for the negatives
    if precision == "fp16-half":
        head, x = head.half(), x.half()
    x.requires_grad_(True)
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=precision == "bf16-autocast"):
        logits = head(x, labels)
    loss = torch.nn.functional.cross_entropy(logits.float(), labels)
    loss.backward()
    assert torch.isfinite(logits).all() and torch.isfinite(loss)
    assert torch.isfinite(x.grad).all() and torch.isfinite(head.weight.grad).all()


def test_unknown_head_is_an_error() -> None:
    with pytest.raises(ValueError, match="unknown margin head 'arcface'"):
        build_head("arcface", DIM, CLASSES)
