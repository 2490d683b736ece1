# SPDX-License-Identifier: MIT
"""clmse.mse_loss and its gradients against torch.nn.functional.mse_loss on the CPU: every
reduction, broadcasting, dtypes, empty and 0-d tensors, NaN and Inf, numpy layouts."""
import warnings

import pytest
from _support import require, ulps

np = require("numpy")
torch = require("torch")
F = torch.nn.functional
import clmse  # noqa: E402

REDUCTIONS = ["none", "mean", "sum"]
SAME_SHAPES = [(), (0,), (1,), (7,), (4, 5), (2, 3, 4), (3, 0, 2), (1000,), (65, 129)]
# (input, target) pairs whose shapes differ (PYTORCH_SEMANTICS.md's table, and a few more).
BROADCAST = [((3, 1), (3,)), ((3,), (2, 3)), ((), (4,)), ((5,), (1,)), ((0,), (1,)),
             ((2, 3, 4), (3, 1)), ((4, 1, 5), (1, 6, 1))]
TORCH_DTYPES = {"float16": torch.float16, "bfloat16": torch.bfloat16,
                "float32": torch.float32, "float64": torch.float64}


def data(shape, dtype, seed):
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(shape, generator=g, dtype=torch.float64) * 3).to(dtype)


def torch_loss(x, y, reduction):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return F.mse_loss(x, y, reduction=reduction)


def torch_grads(x, y, reduction, g):
    x = x.detach().requires_grad_()
    y = y.detach().requires_grad_()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        loss = F.mse_loss(x, y, reduction=reduction)
    return torch.autograd.grad(loss, (x, y), g)


def assert_bits(got, want):
    """Same dtype, shape and bits (NaN where NaN)."""
    assert got.dtype == want.dtype and got.shape == want.shape
    torch.testing.assert_close(got, want, rtol=0, atol=0, equal_nan=True)


def assert_sum_close(got, want, dtype):
    """A reduced loss within 2 ulp of torch's (torch's own sum is not always within 1 ulp of
    the exact value; clmse's is)."""
    assert got.dtype == want.dtype and got.shape == want.shape == ()
    g, w = got.item(), want.item()
    if np.isnan(w) or np.isinf(w):
        assert g == w or (np.isnan(g) and np.isnan(w))
        return
    assert ulps(g, w, {torch.float32: np.float32, torch.float64: np.float64}[dtype]) <= 2, (g, w)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("shape", SAME_SHAPES, ids=str)
def test_same_shape_exact(shape, dtype, reduction):
    x, y = data(shape, dtype, 1), data(shape, dtype, 2)
    got, want = clmse.mse_loss(x, y, reduction), torch_loss(x, y, reduction)
    if reduction == "none":
        assert_bits(got, want)
    else:
        assert_sum_close(got, want, dtype)
    g = data(want.shape, dtype, 3) if reduction == "none" else torch.tensor(1.5, dtype=dtype)
    gx, gy = clmse.mse_loss_backward(x, y, g, reduction)
    wx, wy = torch_grads(x, y, reduction, g)
    assert_bits(gx, wx)
    assert_bits(gy, wy)
    loss, fx, fy = clmse.mse_loss_fused(x, y, g, reduction)
    assert_bits(loss, got)
    assert_bits(fx, gx)
    assert_bits(fy, gy)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("shapes", BROADCAST, ids=str)
def test_broadcast(shapes, reduction):
    x, y = data(shapes[0], torch.float64, 4), data(shapes[1], torch.float64, 5)
    with pytest.warns(UserWarning, match="different to the input size"):
        got = clmse.mse_loss(x, y, reduction)
    want = torch_loss(x, y, reduction)
    if reduction == "none":
        assert_bits(got, want)
    else:
        assert_sum_close(got, want, torch.float64)
    g = data(want.shape, torch.float64, 6)
    gx, gy = clmse.mse_loss_backward(x, y, g, reduction)
    wx, wy = torch_grads(x, y, reduction, g)
    # A broadcast operand's gradient is a sum: clmse's rounds once, torch's in steps.
    torch.testing.assert_close(gx, wx, rtol=1e-13, atol=1e-13)
    torch.testing.assert_close(gy, wy, rtol=1e-13, atol=1e-13)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_narrow_dtypes(dtype, reduction):
    """float16 and bfloat16 are computed in float and rounded once: torch's float32 result,
    rounded to the dtype, within one step of it (torch's CPU has no bfloat16 kernel)."""
    dt = TORCH_DTYPES[dtype]
    x, y = data((33, 3), dt, 7), data((33, 3), dt, 8)
    got = clmse.mse_loss(x, y, reduction)
    want = torch_loss(x.float(), y.float(), reduction).to(dt)
    assert got.dtype == dt and got.shape == want.shape
    rtol = 2.0 ** -10 if dt == torch.float16 else 2.0 ** -7
    torch.testing.assert_close(got.float(), want.float(), rtol=rtol, atol=1e-6)
    gx, gy = clmse.mse_loss_backward(x, y, None, reduction)
    ones = torch.ones(want.shape)
    wx, wy = torch_grads(x.float(), y.float(), reduction, ones)
    assert gx.dtype == gy.dtype == dt
    torch.testing.assert_close(gx.float(), wx, rtol=rtol, atol=1e-6)
    torch.testing.assert_close(gy.float(), wy, rtol=rtol, atol=1e-6)


@pytest.mark.parametrize("pair,promoted", [
    (("float16", "float32"), torch.float32), (("float32", "float64"), torch.float64),
    (("bfloat16", "float16"), torch.float32), (("bfloat16", "float64"), torch.float64)])
def test_promotion(pair, promoted):
    x, y = data((10,), TORCH_DTYPES[pair[0]], 9), data((10,), TORCH_DTYPES[pair[1]], 10)
    for reduction in REDUCTIONS:
        got = clmse.mse_loss(x, y, reduction)
        want = torch_loss(x.to(promoted), y.to(promoted), reduction)
        assert got.dtype == promoted
        torch.testing.assert_close(got, want, rtol=1e-6, atol=0)
    gx, gy = clmse.mse_loss_backward(x, y)
    assert (gx.dtype, gy.dtype) == (x.dtype, y.dtype)  # each operand's own dtype


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_nan_and_inf(reduction):
    inf, nan = float("inf"), float("nan")
    x = torch.tensor([1.0, nan, inf, inf, -inf, 2.0, 0.0])
    y = torch.tensor([1.0, 1.0, 1.0, inf, 3.0, -inf, 0.0])
    got, want = clmse.mse_loss(x, y, reduction), torch_loss(x, y, reduction)
    assert_bits(got, want)
    gx, gy = clmse.mse_loss_backward(x, y, torch.ones(want.shape), reduction)
    wx, wy = torch_grads(x, y, reduction, torch.ones(want.shape))
    assert_bits(gx, wx)
    assert_bits(gy, wy)


def test_empty_and_zero_d():
    e = torch.empty(0)
    assert clmse.mse_loss(e, e, "sum").item() == 0.0
    assert torch.isnan(clmse.mse_loss(e, e, "mean"))
    assert clmse.mse_loss(e, e, "none").shape == (0,)
    x, y = torch.tensor(3.0), torch.tensor(1.0)
    for reduction in REDUCTIONS:
        loss, gx, gy = clmse.mse_loss_fused(x, y, reduction=reduction)
        assert loss.shape == gx.shape == gy.shape == ()
        assert (loss.item(), gx.item(), gy.item()) == (4.0, 4.0, -4.0)


def numpy_layouts(rng):
    """(name, input, target) numpy views of every kind clmse meets."""
    base = rng.standard_normal((8, 12)).astype(np.float32)
    other = rng.standard_normal((8, 12)).astype(np.float32)
    yield "contiguous", base, other
    yield "negative strides", base[::-1, ::-2], other[::-1, 1::2]
    yield "transposed", base.T, other.T.copy()
    yield "fortran", np.asfortranarray(base), other
    yield "sliced", base[1:7, 2:11:3], other[:6, :3]
    yield "broadcast_to", np.broadcast_to(base[0], (8, 12)), other
    yield "big-endian", base.astype(">f4"), other
    yield "misaligned", np.frombuffer(b"\0" + base.tobytes(), np.float32, base.size, 1)\
        .reshape(8, 12), other
    yield "float16 and float64", base.astype(np.float16), other.astype(np.float64)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_numpy_layouts(reduction):
    """numpy views give torch's results on the same values (torch copies what it cannot view)."""
    for name, x, y in numpy_layouts(np.random.default_rng(11)):
        loss, gx, gy = clmse.mse_loss_fused(x, y, np.float64(0.5) if reduction != "none" else
                                            None, reduction)
        tx, ty = torch.from_numpy(np.array(x, x.dtype.newbyteorder("="))), torch.from_numpy(
            np.array(y))
        want = torch_loss(tx.to(torch.promote_types(tx.dtype, ty.dtype)),
                          ty.to(torch.promote_types(tx.dtype, ty.dtype)), reduction)
        assert isinstance(loss, np.ndarray) and loss.dtype == want.numpy().dtype, name
        np.testing.assert_allclose(loss, want.numpy(), rtol=1e-6, err_msg=name)
        assert gx.shape == x.shape and gy.shape == y.shape, name
        assert gx.dtype == x.dtype.newbyteorder("=") and gy.dtype == y.dtype, name


def test_numpy_matches_torch_bitwise():
    rng = np.random.default_rng(12)
    x, y = rng.standard_normal((300, 7)), rng.standard_normal((300, 7))
    for reduction in REDUCTIONS:
        for a, b in zip(clmse.mse_loss_fused(x, y, reduction=reduction),
                        clmse.mse_loss_fused(torch.from_numpy(x), torch.from_numpy(y),
                                             reduction=reduction)):
            assert np.array_equal(a, b.numpy())


def test_non_contiguous_torch():
    x = data((6, 10), torch.float32, 13)
    y = data((10, 6), torch.float32, 14)
    views = [(x.t(), y), (x[:, ::3], y.t()[:, ::3]), (x.expand(2, 6, 10)[1], y.t())]
    for a, b in views:
        for reduction in REDUCTIONS:
            assert not (a.is_contiguous() and b.is_contiguous())
            want = torch_loss(a.contiguous(), b.contiguous(), reduction)
            got = clmse.mse_loss(a, b, reduction)
            if reduction == "none":
                assert_bits(got, want)
            else:
                assert_sum_close(got, want, torch.float32)


LEGACY = [  # (size_average, reduce) -> reduction, as torch.nn._reduction.legacy_get_string
    ((None, None), None), ((True, None), "mean"), ((False, None), "sum"),
    ((None, False), "none"), ((True, True), "mean"), ((False, True), "sum"),
    ((False, False), "none"), ((True, False), "none")]


@pytest.mark.parametrize("legacy,reduction", LEGACY, ids=str)
def test_legacy_arguments(legacy, reduction):
    x, y = data((5,), torch.float32, 15), data((5,), torch.float32, 16)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        got = clmse.mse_loss(x, y, "sum", size_average=legacy[0], reduce=legacy[1])
    want = torch_loss(x, y, reduction or "sum")
    assert_bits(got, want) if (reduction or "sum") == "none" else assert_sum_close(
        got, want, torch.float32)
    texts = [str(w.message) for w in caught]
    if reduction is None:
        assert texts == []
    else:
        assert texts == [f"size_average and reduce args will be deprecated, please use "
                         f"reduction='{reduction}' instead."]


def test_reduction_names():
    x = torch.ones(3)
    with pytest.warns(UserWarning, match="elementwise_mean"):
        assert clmse.mse_loss(x, x, "elementwise_mean").item() == 0.0
    with pytest.raises(ValueError, match="^ERROR_INVALID_REDUCTION .*: avg is not a valid value"
                                         " for reduction$"):
        clmse.mse_loss(x, x, "avg")
