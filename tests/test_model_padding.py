"""Padding as the original's TensorFlow layers pad (SPEC section 2), against explicit F.pad +
convolution / averages written out here."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from voxsv.models import build_model
from voxsv.models.dpn import DPN
from voxsv.models.layers import TFSameConv2d
from voxsv.models.res2net import Bottle2neck


def tf_same(size: int, kernel: int, stride: int, dilation: int = 1) -> tuple[int, int]:
    """TF 'SAME': output ceil(size/stride), total padding max((out-1)s + (k-1)d + 1 - size, 0),
    the smaller half before."""
    out = math.ceil(size / stride)
    total = max((out - 1) * stride + (kernel - 1) * dilation + 1 - size, 0)
    return total // 2, total - total // 2


def test_tdnn_keeps_the_frame_count_with_tf_same_padding() -> None:
    """Every conv pads (k-1)*d frames, the smaller half before (a kernel-4 layer included)."""
    torch.manual_seed(0)
    spec = {"arch": "tdnn", "channels": [8, 8, 8, 8, 12], "kernels": [5, 3, 4, 1, 1],
            "dilations": [1, 2, 3, 1, 1], "embedding_dim": 6}
    model = build_model(spec, 10).eval()
    for frames in (3, 25, 61):
        x = torch.randn(2, 10, frames)
        h = x
        for layer in model.frames:
            if isinstance(layer, nn.Conv1d):
                k, d = layer.kernel_size[0], layer.dilation[0]
                ref = F.conv1d(F.pad(h, tf_same(frames, k, 1, d)), layer.weight, dilation=d)
                torch.testing.assert_close(layer(h), ref)
            h = layer(h)
        assert h.shape == (2, 12, frames)
        with torch.no_grad():
            assert model(x.transpose(1, 2)).shape == (2, 6)


def manual_avg_pool_with_zeros(x: torch.Tensor) -> torch.Tensor:
    """3x3 windows at stride 2 over x padded with one zero on each side, sum / 9 always."""
    padded = F.pad(x, (1, 1, 1, 1))
    rows, cols = math.ceil(x.shape[2] / 2), math.ceil(x.shape[3] / 2)
    out = torch.empty(x.shape[0], x.shape[1], rows, cols, dtype=x.dtype)
    for i in range(rows):
        for j in range(cols):
            out[:, :, i, j] = padded[:, :, 2 * i:2 * i + 3, 2 * j:2 * j + 3].sum(dim=(2, 3)) / 9
    return out


class ManualPool(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return manual_avg_pool_with_zeros(x)


@pytest.mark.parametrize("size", [(8, 6), (7, 5)])
def test_res2net_strided_pooling_counts_the_padded_zeros(size: tuple[int, int]) -> None:
    """The last split of a strided block: explicit padding then 'VALID' pooling (the original),
    so border windows divide by 9, not by the number of real pixels."""
    torch.manual_seed(0)
    block = Bottle2neck(16, 4, width=3, scale=4, stride=2, project=True).eval()
    x = torch.randn(2, 3, *size, dtype=torch.float64) + 1.0
    torch.testing.assert_close(block.pool(x), manual_avg_pool_with_zeros(x))
    # and the block's output comes from exactly that: replace the pool by the manual version
    inp = torch.randn(2, 16, *size)
    with torch.no_grad():
        out = block(inp)
        block.pool = ManualPool()
        torch.testing.assert_close(block(inp), out)


@pytest.mark.parametrize("size", [(8, 6), (7, 5), (6, 9), (1, 2)])
@pytest.mark.parametrize(("kernel", "stride", "dilation"), [(3, 2, 1), (3, 1, 1), (5, 3, 1),
                                                            (3, 2, 2), (1, 2, 1), (4, 2, 1)])
def test_tf_same_conv_matches_explicit_padding(size, kernel, stride, dilation) -> None:
    torch.manual_seed(0)
    conv = TFSameConv2d(4, 8, kernel, stride=stride, dilation=dilation, groups=2, bias=False)
    x = torch.randn(2, 4, *size)
    (top, bottom), (left, right) = (tf_same(n, kernel, stride, dilation) for n in size)
    ref = F.conv2d(F.pad(x, (left, right, top, bottom)), conv.weight, stride=stride,
                   dilation=dilation, groups=2)
    out = conv(x)
    assert out.shape[2:] == tuple(math.ceil(n / stride) for n in size)
    torch.testing.assert_close(out, ref)


def test_dpn_strided_grouped_conv_pads_zero_before_one_after_on_even_sizes() -> None:
    """DPN's downsampling 3x3 grouped convs: stride 2 on an even size pads 0 before, 1 after."""
    torch.manual_seed(0)
    model = DPN(20, stem_channels=4, blocks=(1, 1, 1, 1), increments=(4, 4, 4, 4),
                base_width=8, bottleneck=8, groups=4, embedding_dim=8).eval()
    strided = [m for m in model.modules() if isinstance(m, nn.Conv2d) and m.stride == (2, 2)
               and m.kernel_size == (3, 3)]
    assert len(strided) == 3 and all(m.groups == 4 for m in strided)
    for conv in strided:
        x = torch.randn(2, conv.in_channels, 10, 20)
        ref = F.conv2d(F.pad(x, (0, 1, 0, 1)), conv.weight, stride=2, groups=4)
        torch.testing.assert_close(conv(x), ref)
    with torch.no_grad():
        assert model(torch.randn(2, 33, 20)).shape == (2, 8)


def test_tf_same_padding_follows_the_length_in_onnx(tmp_path) -> None:
    """Exported with a dynamic time axis from an even length, the ONNX graph still pads odd
    lengths 1 before (the amount is computed from the input, not fixed at export)."""
    import onnxruntime
    from torch.export import Dim

    torch.manual_seed(0)
    conv = TFSameConv2d(2, 2, 3, stride=2, bias=False).eval()
    path = tmp_path / "conv.onnx"
    torch.onnx.export(conv, (torch.randn(1, 2, 200, 6),), str(path), dynamo=True,
                      external_data=False, input_names=["x"], output_names=["y"],
                      dynamic_shapes=({2: Dim("frames", min=25)},), verbose=False)
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    for frames in (57, 58):
        x = torch.randn(1, 2, frames, 6)
        (y,) = session.run(["y"], {"x": x.numpy()})
        with torch.no_grad():
            torch.testing.assert_close(torch.from_numpy(y), conv(x), rtol=1e-5, atol=1e-5)
