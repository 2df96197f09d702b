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
                    "aam": math.cos(theta + m) - m * m / 2,
                    "arcface": math.cos(theta + m),
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
    head = build_head("arcface", 2, 1, scale=1.0, margin=0.5)
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


@pytest.mark.parametrize("kind", [k for k in HEAD_KINDS if not k.startswith("sc_")])
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
    with pytest.raises(ValueError, match="unknown margin head 'sphereface'"):
        build_head("sphereface", DIM, CLASSES)


def tf_kernel(head: torch.nn.Module, k: int, dim: int, classes: int) -> torch.Tensor:
    """The original's kernel [K, D, C] flattened to (K*D) x C, read back out of voxsv's layout
    (weight row c*K + k is centre k of class c), element by element."""
    w = head.weight.detach().double()
    m = torch.empty(k * dim, classes, dtype=torch.float64)
    for c in range(classes):
        for j in range(k):
            for d in range(dim):
                m[j * dim + d, c] = w[c * k + j, d]
    return m


@pytest.mark.parametrize(("dim", "classes"), [(64, 20), (16, 40)])
@pytest.mark.parametrize("kind", ["sc_cm", "sc_am"])
def test_subcenter_init_is_tf_orthogonal_on_k_d_c(kind: str, dim: int, classes: int) -> None:
    """TF's orthogonal initializer on [K, D, C]: the (K*D) x C matrix has orthonormal columns
    when K*D >= C (here 128 >= 20) and orthonormal rows otherwise (32 < 40, as 512 < 5,994)."""
    torch.manual_seed(0)
    m = tf_kernel(build_head(kind, dim, classes, subcenters=2), 2, dim, classes)
    gram = m.t() @ m if 2 * dim >= classes else m @ m.t()
    torch.testing.assert_close(gram, torch.eye(len(gram), dtype=torch.float64), atol=1e-5,
                               rtol=0)


def test_aam_is_cm_and_arcface_has_no_extra_term() -> None:
    """The original's aam_linear subtracts m^2/2 like cm; `arcface` is s cos(theta + m)."""
    torch.manual_seed(0)
    x, labels = torch.randn(BATCH, DIM), torch.randint(0, CLASSES, (BATCH,))
    heads = {kind: build_head(kind, DIM, CLASSES, scale=32.0, margin=0.3)
             for kind in ("aam", "cm", "arcface")}
    for head in heads.values():
        head.load_state_dict(heads["cm"].state_dict())
    cm = heads["cm"](x, labels)
    torch.testing.assert_close(heads["aam"](x, labels), cm)
    diff = heads["arcface"](x, labels) - cm
    onehot = torch.nn.functional.one_hot(labels, CLASSES).float()
    torch.testing.assert_close(diff, 32.0 * 0.3**2 / 2 * onehot)
