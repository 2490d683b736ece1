# SPDX-License-Identifier: MIT
"""Partial results (#17): clmse.Partial's round-trips, fold against the integer encoding,
mean_count on shards (gradients bitwise equal to one call's, with autograd too), rounding to
each dtype within 1 ulp of one call's loss, pyopencl arrays, and the errors."""
import ctypes
import pickle
import warnings

import pytest
from _support import require, ulps

np = require("numpy")
import clmse  # noqa: E402
from clmse import _lib  # noqa: E402

# Uneven shards of 1003 elements, and of a (23, 7) matrix's rows.
CUTS = [0, 100, 450, 1003]
ROW_CUTS = [0, 5, 6, 23]


def operands(shape, dtype, seed=0):
    rng = np.random.default_rng(seed)
    return ((rng.standard_normal(shape) * 3).astype(dtype),
            (rng.standard_normal(shape) * 3).astype(dtype))


def shards(a, cuts):
    return [a[lo:hi] for lo, hi in zip(cuts, cuts[1:])]


def same_bits(a, b):
    a, b = np.asarray(a), np.asarray(b)
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


def test_struct_size_check_covers_partial():
    assert _lib.MIRRORS["clmse_partial"] is _lib.PartialStruct
    assert ctypes.sizeof(_lib.PartialStruct) == 32
    assert _lib.lib.clmse_struct_size(b"clmse_partial") == 32
    assert clmse.PARTIAL_WORDS == 73


def test_round_trips():
    x, y = operands(1003, np.float32)
    p = clmse.mse_partial(x, y)[0]
    assert p.count == 1003 and p.flags == 0 and p.exponent == 0 and p.sum > 0
    b = p.to_bytes()
    assert isinstance(b, bytes) and len(b) == 32
    assert clmse.Partial.from_bytes(b) == p
    assert clmse.Partial.from_bytes(bytearray(b)) == p
    assert clmse.Partial.from_bytes(memoryview(b)) == p
    assert pickle.loads(pickle.dumps(p)) == p
    assert hash(clmse.Partial.from_bytes(b)) == hash(p)
    words = p.encode()
    assert words.dtype == np.int64 and words.shape == (73,)
    assert words[0] == 1003 and words[1] == 0 and words[2] == 0 and words[3] == 0
    d = clmse.Partial.decode(words)
    # decode's pair is canonical: it may split the value differently, never change it
    assert d.count == p.count and d.flags == 0 and d.sum + d.sum_low == p.sum + p.sum_low
    assert clmse.Partial.decode(d.encode()) == d
    assert clmse.Partial.decode(list(words)) == d
    assert clmse.Partial.decode(words.astype(">i8")) == d
    assert d.round(dtype=np.float64) == p.round(dtype=np.float64)
    torch = pytest.importorskip("torch")
    assert clmse.Partial.decode(torch.from_numpy(words)) == d
    assert clmse.Partial.decode(torch.from_numpy(words).numpy()) == d


def test_properties_repr_and_equality():
    empty = clmse.Partial()
    assert (empty.sum, empty.sum_low, empty.count, empty.flags, empty.exponent) == (0, 0, 0, 0, 0)
    assert clmse.fold_partials([]) == empty
    assert repr(empty) == "clmse.Partial(sum=0.0, sum_low=0.0, count=0, flags=0)"
    p = clmse.Partial(sum=1.5, sum_low=2.0 ** -60, count=3)
    assert repr(p) == ("clmse.Partial(sum=1.5, sum_low=8.673617379884035e-19, count=3, "
                       "flags=0)")
    assert repr(clmse.Partial(count=2, flags=3)) == \
        "clmse.Partial(sum=0.0, sum_low=0.0, count=2, flags=NAN|INF)"
    assert "exponent=64" in repr(clmse.Partial(sum=1.0, count=1, exponent=64))
    assert p == clmse.Partial(sum=1.5, sum_low=2.0 ** -60, count=3) and p != empty
    assert p != p.to_bytes()  # a Partial equals Partials only
    with pytest.raises(AttributeError):
        p.sum = 2.0
    assert p.round("sum", np.float64) == 1.5 and p.round() == np.float32(0.5)


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.float16])
def test_fold_agrees_with_encoding_sum(dtype):
    x, y = operands(1003, dtype, 1)
    parts = [clmse.mse_partial(a, b)[0] for a, b in zip(shards(x, CUTS), shards(y, CUTS))]
    folded = clmse.fold_partials(parts)
    words = sum(p.encode() for p in parts)
    assert np.array_equal(words, sum(p.encode() for p in reversed(parts)))  # any order
    decoded = clmse.Partial.decode(words)
    assert folded.count == decoded.count == 1003 and folded.flags == decoded.flags == 0
    for reduction in ("mean", "sum"):
        assert folded.round(reduction, np.float32) == decoded.round(reduction, np.float32)
        assert ulps(folded.round(reduction, np.float64), decoded.round(reduction, np.float64),
                    np.float64) <= 1


def test_fold_is_in_index_order_and_flags_combine():
    x, y = operands(1003, np.float32, 2)
    parts = [clmse.mse_partial(a, b)[0] for a, b in zip(shards(x, CUTS), shards(y, CUTS))]
    assert clmse.fold_partials(iter(parts)) == clmse.fold_partials(parts)
    assert clmse.fold_partials(parts[:1]) == parts[0]
    nan = clmse.mse_partial(np.float32([1, np.nan]), np.float32([0, 0]))[0]
    inf = clmse.mse_partial(np.float32([np.inf, 1]), np.float32([0, 0]))[0]
    assert nan.flags == 1 and inf.flags == 2 and nan.count == inf.count == 2
    assert np.isnan(clmse.fold_partials(parts + [nan]).round())
    assert clmse.fold_partials([inf] + parts).round() == np.inf
    assert np.isnan(clmse.fold_partials([inf, nan]).round())
    assert clmse.Partial.decode(sum(p.encode() for p in parts + [inf])).round() == np.inf
    assert np.isnan(clmse.Partial().round())  # a mean over no elements


SHARD_CASES = [("1-d", (1003,), CUTS), ("rows of a matrix", (23, 7), ROW_CUTS)]


@pytest.mark.parametrize("dtype", [np.float32, np.float16, np.float64])
@pytest.mark.parametrize("name,shape,cuts", SHARD_CASES, ids=[c[0] for c in SHARD_CASES])
def test_shards_with_mean_count_match_one_call(name, shape, cuts, dtype):
    """Each element's gradient depends on its own operands and 2/N alone: the shards'
    gradients put together are one call's, bit for bit, by every route."""
    x, y = operands(shape, dtype, 3)
    n = x.size
    loss, gx, gy = clmse.mse_loss_fused(x, y)
    g = np.float32(0.75) if dtype != np.float64 else 0.75
    ux, uy = clmse.mse_loss_backward(x, y, g)
    parts, pgx, pgy, bgx, fgx, fgy = [], [], [], [], [], []
    for a, b in zip(shards(x, cuts), shards(y, cuts)):
        p, ga, gb = clmse.mse_partial(a, b, wrt=("input", "target"), mean_count=n)
        assert p.count == a.size and ga.dtype == dtype and gb.dtype == dtype
        parts.append(p)
        pgx.append(ga)
        pgy.append(gb)
        bgx.append(clmse.mse_loss_backward(a, b, g, wrt="input", mean_count=n)[0])
        shard_loss, fa, fb = clmse.mse_loss_fused(a, b, mean_count=n)
        fgx.append(fa)
        fgy.append(fb)
        assert shard_loss.dtype == loss.dtype
    assert same_bits(np.concatenate(pgx), gx) and same_bits(np.concatenate(pgy), gy)
    assert same_bits(np.concatenate(fgx), gx) and same_bits(np.concatenate(fgy), gy)
    assert same_bits(np.concatenate(bgx), ux)
    assert clmse.fold_partials(parts).count == n
    got = clmse.fold_partials(parts).round(dtype=loss.dtype)
    assert isinstance(got, np.generic) and got.dtype == loss.dtype
    assert ulps(got, loss, loss.dtype.type) <= 1


def test_mean_count_scales_the_loss_and_the_upstream_gradient():
    x, y = operands(100, np.float64, 4)
    whole = clmse.mse_loss(x, y, reduction="sum")
    assert clmse.mse_loss(x, y, mean_count=400) == whole / 400
    assert clmse.mse_loss(x, y, mean_count=0) == clmse.mse_loss(x, y)  # 0: the local count
    assert clmse.mse_loss(x, y, "sum", mean_count=400) == whole  # sum ignores it
    p, gx, _ = clmse.mse_partial(x, y, wrt="input", grad_output=3.0, mean_count=400)
    assert same_bits(gx, ((2.0 / 400) * (x - y)) * 3.0)
    p2, sx, _ = clmse.mse_partial(x, y, "sum", wrt="input")
    assert p2 == p and same_bits(sx, 2.0 * (x - y))


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_round_to_each_dtype_within_one_ulp(dtype, reduction):
    """Shards' partials folded and rounded once: within 1 ulp of one call's loss."""
    x, y = operands(1003, dtype, 5)
    want = clmse.mse_loss(x, y, reduction)
    parts = [clmse.mse_partial(a, b, reduction)[0] for a, b in zip(shards(x, CUTS),
                                                                     shards(y, CUTS))]
    folded = clmse.fold_partials(parts)
    for out in (dtype, np.dtype(dtype), np.dtype(dtype).name):
        got = folded.round(reduction, out)
        assert type(got) is dtype
        assert np.isfinite(got) and ulps(got, want, dtype) <= 1
    decoded = clmse.Partial.decode(sum(p.encode() for p in parts))
    assert ulps(decoded.round(reduction, dtype), want, dtype) <= 1


def test_round_to_torch_dtypes():
    torch = require("torch")
    g = torch.Generator().manual_seed(6)
    for dtype in (torch.bfloat16, torch.float16, torch.float32, torch.float64):
        x, y = (torch.randn(1003, generator=g) * 3).to(dtype), torch.randn(1003, generator=g).to(
            dtype)
        parts = [clmse.mse_partial(a, b)[0] for a, b in zip(shards(x, CUTS), shards(y, CUTS))]
        got = clmse.fold_partials(parts).round(dtype=dtype)
        want = clmse.mse_loss(x, y)
        assert isinstance(got, torch.Tensor) and got.dtype == dtype and got.shape == ()
        bits = {torch.bfloat16: torch.int16, torch.float16: torch.int16,
                torch.float32: torch.int32, torch.float64: torch.int64}[dtype]
        # positive values: their bits are monotonic
        assert abs(int(got.view(bits)) - int(want.view(bits))) <= 1, dtype


def test_torch_autograd_with_mean_count():
    """clmse.torch with mean_count: the shards' backward() gives one call's gradients."""
    torch = require("torch")
    import clmse.torch as ct
    g = torch.Generator().manual_seed(7)
    for dtype in (torch.float32, torch.float64, torch.float16):
        x = torch.randn(23, 7, generator=g).to(dtype).requires_grad_()
        y = torch.randn(23, 7, generator=g).to(dtype).requires_grad_()
        ct.mse_loss(x, y).backward()
        want_x, want_y = x.grad, y.grad
        if dtype != torch.float16:
            tx = x.detach().requires_grad_()
            torch.nn.functional.mse_loss(tx, y.detach()).backward()
            assert torch.equal(tx.grad, want_x)
        xs = [x.detach()[lo:hi].requires_grad_() for lo, hi in zip(ROW_CUTS, ROW_CUTS[1:])]
        ys = [y.detach()[lo:hi].requires_grad_() for lo, hi in zip(ROW_CUTS, ROW_CUTS[1:])]
        fn = ct.MSELoss(mean_count=x.numel())
        assert repr(fn) == "MSELoss(reduction='mean', mean_count=161)"
        for a, b in zip(xs, ys):
            fn(a, b).backward()
        assert torch.equal(torch.cat([a.grad for a in xs]), want_x)
        assert torch.equal(torch.cat([b.grad for b in ys]), want_y)
        # an upstream gradient other than 1 runs the backward with mean_count too
        for a in xs:
            a.grad = None
        for a, b in zip(xs, ys):
            (ct.mse_loss(a, b.detach(), mean_count=x.numel()) * 3).backward()
        x3 = x.detach().requires_grad_()
        (ct.mse_loss(x3, y.detach()) * 3).backward()
        assert torch.equal(torch.cat([a.grad for a in xs]), x3.grad)
        # clmse.mse_loss on tensors that require grad takes the same path
        a = x.detach()[:5].requires_grad_()
        clmse.mse_loss(a, y.detach()[:5], mean_count=x.numel()).backward()
        assert torch.equal(a.grad, want_x[:5])


def test_gradcheck_with_mean_count():
    torch = require("torch")
    import clmse.torch as ct
    g = torch.Generator().manual_seed(8)
    x = torch.randn(4, 5, generator=g, dtype=torch.float64, requires_grad=True)
    y = torch.randn(4, 5, generator=g, dtype=torch.float64, requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert torch.autograd.gradcheck(lambda a, b: ct.mse_loss(a, b, mean_count=50), (x, y))


def test_pyopencl_arrays(queue):
    """clmse_mse_partial on pyopencl arrays: the host arrays' partial and gradients."""
    import pyopencl.array as cla
    x, y = operands(1003, np.float32, 9)
    big = cla.to_device(queue, np.concatenate([x, y]))
    dx, dy = big[:1003], big[1003:]
    for lo, hi in zip(CUTS, CUTS[1:]):
        p, gx, gy = clmse.mse_partial(dx[lo:hi], dy[lo:hi], wrt=("input", "target"),
                                      mean_count=1003)
        hp, hgx, hgy = clmse.mse_partial(x[lo:hi], y[lo:hi], wrt=("input", "target"),
                                         mean_count=1003)
        assert p == hp and isinstance(gx, cla.Array)
        assert same_bits(gx.get(), hgx) and same_bits(gy.get(), hgy)
        assert clmse.mse_partial(dx[lo:hi], dy[lo:hi])[1:] == (None, None)
    loss = clmse.mse_loss(dx[:100], dy[:100], mean_count=1003)
    assert same_bits(loss.get(), clmse.mse_loss(x[:100], y[:100], mean_count=1003))
    gx = clmse.mse_loss_backward(dx[:100], dy[:100], wrt="input", mean_count=1003)[0]
    assert same_bits(gx.get(), clmse.mse_loss_fused(x, y)[1][:100])
    with pytest.raises(clmse.InvalidInputError, match="below"):
        clmse.mse_partial(dx, dy, mean_count=5)


def test_bad_mean_count():
    x, y = operands(10, np.float32)
    for bad in (-1, 1 << 64):
        with pytest.raises(clmse.InvalidInputError, match="mean_count") as e:
            clmse.mse_loss(x, y, mean_count=bad)
        assert e.value.name == "ERROR_INVALID_ARGUMENT"
    for bad in (2.0, "10", True):
        with pytest.raises(TypeError, match="mean_count"):
            clmse.mse_partial(x, y, mean_count=bad)
    with pytest.raises(clmse.InvalidInputError, match="below the 10 elements") as e:
        clmse.mse_loss_fused(x, y, mean_count=9)
    assert e.value.name == "ERROR_INVALID_ARGUMENT"
    with pytest.raises(clmse.InvalidInputError, match="mean_count"):
        clmse.mse_loss_backward(x, y, mean_count=-5)
    assert clmse.mse_loss(x, y, mean_count=np.int64(10)) == clmse.mse_loss(x, y)
    torch = require("torch")
    import clmse.torch as ct
    with pytest.raises(clmse.InvalidInputError, match="mean_count"):
        ct.MSELoss(mean_count=-1)
    with pytest.raises(clmse.InvalidInputError, match="below"):
        ct.mse_loss(torch.zeros(4, requires_grad=True), torch.zeros(4), mean_count=3)


def test_partial_refusals():
    x, y = operands(10, np.float32)
    with pytest.raises(clmse.InvalidInputError) as e:
        clmse.mse_partial(x, y, "none")
    assert e.value.name == "ERROR_INVALID_REDUCTION"
    with pytest.raises(clmse.InvalidInputError, match="wrt"):
        clmse.mse_partial(x, y, wrt="output")
    with pytest.raises(TypeError):
        clmse.mse_partial(x, y, out=np.float32(0))  # no output: the loss comes back unrounded
    # The library refuses an output too (the binding never passes one).
    tx, _ = clmse._operands.host_tensor(x, "numpy", 0, "input")
    ty, _ = clmse._operands.host_tensor(y, "numpy", 0, "target")
    out = np.zeros((), np.float32)
    to, _ = clmse._operands.host_tensor(out, "numpy", 0, "output")
    args = _lib.HostMseArgs(1, 0, ctypes.pointer(tx), ctypes.pointer(ty), ctypes.pointer(to))
    ctx = clmse.default_context()
    status = _lib.lib.clmse_host_mse_partial(ctx.handle, ctypes.byref(args),
                                             ctypes.byref(_lib.PartialStruct()))
    assert status == 100
    assert b"output" in _lib.lib.clmse_context_last_error(ctx.handle)


def test_bad_words_bytes_and_partials():
    p = clmse.mse_partial(*operands(10, np.float32))[0]
    words = p.encode()
    for bad in (words.astype(np.float64), words.astype(np.uint64), words.astype(np.int32),
                [float(w) for w in words]):
        with pytest.raises(clmse.InvalidInputError, match="int64") as e:
            clmse.Partial.decode(bad)
        assert e.value.name == "ERROR_INVALID_DTYPE"
    for bad in (words[:72], np.concatenate([words, [0]]), words.reshape(1, 73), words[0]):
        with pytest.raises(clmse.InvalidInputError, match="73 words") as e:
            clmse.Partial.decode(bad)
        assert e.value.name == "ERROR_INVALID_ARGUMENT"
    negative = words.copy()
    negative[4:] = 0
    negative[10] = -1  # a negative value: no sum of encodings gives it
    with pytest.raises(clmse.InvalidInputError):
        clmse.Partial.decode(negative)
    for bad in (b"", p.to_bytes()[:31], p.to_bytes() + b"\0"):
        with pytest.raises(clmse.InvalidInputError, match="32 bytes"):
            clmse.Partial.from_bytes(bad)
    with pytest.raises(TypeError, match="clmse.Partial"):
        clmse.fold_partials([p, p.to_bytes()])
    unknown_flag = clmse.Partial(count=1, flags=4)
    bad_exponent = clmse.Partial(sum=1.0, count=1, exponent=3)
    negative_sum = clmse.Partial(sum=-1.0, count=1)
    for bad in (unknown_flag, bad_exponent, negative_sum):
        for call in (lambda: clmse.fold_partials([p, bad]), bad.round, bad.encode):
            with pytest.raises(clmse.InvalidInputError) as e:
                call()
            assert e.value.name == "ERROR_INVALID_ARGUMENT" and e.value.message
    with pytest.raises(clmse.InvalidInputError) as e:
        p.round("none")
    assert e.value.name == "ERROR_INVALID_REDUCTION"
    with pytest.raises(ValueError, match="not a valid value for reduction"):
        p.round("avg")
    for bad in (np.int32, "int64", np.complex64, ">f4", "bfloat16", object):
        with pytest.raises(clmse.InvalidInputError) as e:
            p.round(dtype=bad)
        assert e.value.name == "ERROR_INVALID_DTYPE"
