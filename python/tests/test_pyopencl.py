# SPDX-License-Identifier: MIT
"""pyopencl arrays: used in place (offsets, strides), ordered after their pending events, on
in-order and out-of-order queues, and no event reference left behind."""
import time
import warnings

import pytest
from _support import require

np = require("numpy")
require("pyopencl")
import pyopencl as cl  # noqa: E402
import pyopencl.array as cla  # noqa: E402

import clmse  # noqa: E402

REDUCTIONS = ["none", "mean", "sum"]
RC = cl.event_info.REFERENCE_COUNT
COMPLETE = cl.command_execution_status.COMPLETE


def host(a):
    return np.array(a.get())


def views(queue, rng):
    """(name, device input, device target, the same views of the host data): views with
    offsets and strides into bigger buffers, so that reading from the start of a buffer, or
    contiguously, would give other values."""
    a, b = rng.standard_normal(200).astype(np.float32), rng.standard_normal(200).astype(np.float32)
    big, other = cla.to_device(queue, a), cla.to_device(queue, b)
    yield "offset", big[7:57], other[100:150], a[7:57], b[100:150]
    yield "strided", big[1:101:2], other[3:53], a[1:101:2], b[3:53]
    c = rng.standard_normal((10, 12)).astype(np.float32)
    grid = cla.to_device(queue, c)
    yield "2-d window", grid[2:8, 3:11], other[:48].reshape(6, 8), c[2:8, 3:11], \
        b[:48].reshape(6, 8)
    yield "broadcast", big[11:21].reshape(10, 1), other[:7], a[11:21].reshape(10, 1), b[:7]
    d, h = rng.standard_normal(64), rng.standard_normal(50).astype(np.float16)
    yield "float64 and float16", cla.to_device(queue, d)[5:45], cla.to_device(queue, h)[10:50], \
        d[5:45], h[10:50]


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_views_match_host_arrays(queue, reduction):
    """Same bits as the same values given as numpy arrays (the same device and kernels)."""
    for name, x, y, hx, hy in views(queue, np.random.default_rng(1)):
        g = None if reduction != "none" else cla.to_device(
            queue, np.random.default_rng(2).standard_normal(
                np.broadcast_shapes(hx.shape, hy.shape)).astype(
                    np.promote_types(hx.dtype, hy.dtype)))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the shapes of "broadcast" differ
            got = clmse.mse_loss_fused(x, y, g, reduction)
            want = clmse.mse_loss_fused(hx, hy, None if g is None else host(g), reduction)
        for r, w in zip(got, want):
            assert isinstance(r, cla.Array), name
            assert r.dtype == w.dtype and r.shape == w.shape, name
            assert np.array_equal(host(r), w, equal_nan=True), name


def test_waits_for_pending_events(queue):
    """An operand whose data is still being written (gated by a user event) is read only
    after the write: the result's event stays pending until the gate opens."""
    ctx = queue.context
    data = np.arange(1, 33, dtype=np.float32)
    buf = cla.zeros(queue, 40, np.float32)
    buf.finish()
    x = buf[4:36]
    y = cla.zeros(queue, 32, np.float32)
    gate = cl.UserEvent(ctx)
    write = cl.enqueue_copy(queue, buf.base_data, data, dst_offset=x.offset, wait_for=[gate],
                            is_blocking=False)
    x.add_event(write)
    try:
        loss = clmse.mse_loss(x, y, "sum")
        time.sleep(0.3)
        # On the in-order queue the queue itself orders the read after the write; the
        # out-of-order case is the one that proves the wait list.
        assert loss.events[-1].command_execution_status != COMPLETE
    finally:  # never leave the session's queue blocked behind the gate
        gate.set_status(COMPLETE)
    assert host(loss) == np.float32((data.astype(np.float64) ** 2).sum())


def test_result_and_operand_events(queue):
    """The returned event goes to every result; on an out-of-order queue to the operands too,
    so that a later write to them waits for the read."""
    x = cla.to_device(queue, np.ones(16, np.float32))
    y = cla.zeros(queue, 16, np.float32)
    x.finish()
    y.finish()
    x.events.clear()
    y.events.clear()
    loss, gx, gy = clmse.mse_loss_fused(x, y)
    done = loss.events[-1]
    assert gx.events[-1] is done and gy.events[-1] is done
    out_of_order = bool(queue.properties &
                        cl.command_queue_properties.OUT_OF_ORDER_EXEC_MODE_ENABLE)
    assert (done in x.events) == out_of_order and (done in y.events) == out_of_order
    assert host(loss) == 1.0


def _probe(event):
    """A second reference to event's cl_event, so its count can be read after the array
    holding the first is gone."""
    return cl.Event.from_int_ptr(event.int_ptr)  # retains


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_no_event_reference_leaks(queue, reduction):
    """After the results (and the operands' event lists) are dropped and the queue has moved
    on, the returned events and the operands' events have no reference but the probe's."""
    x = cla.to_device(queue, np.linspace(0, 1, 1000).astype(np.float32))
    y = cla.zeros(queue, 1000, np.float32)
    marker = cl.enqueue_marker(queue)
    x.add_event(marker)
    probes = [_probe(marker)]
    del marker
    for _ in range(5):
        loss, gx, gy = clmse.mse_loss_fused(x, y, None, reduction)
        probes.append(_probe(loss.events[-1]))
        loss.finish()
        del loss, gx, gy
        probes.append(_probe(clmse.mse_loss(x, y, reduction).events[-1]))
    x.events.clear()
    y.events.clear()
    # POCL keeps a reference to the last event that used each buffer (and the queue's last
    # command) until a later command on it completes: let a few unprobed ones do so.
    for _ in range(3):
        clmse.mse_loss(x, y).finish()
    queue.finish()
    # POCL drops those references from its own threads, after finish() has returned: wait for
    # that (a leaked reference never goes away, so the assertion still catches one).
    deadline = time.monotonic() + 5.0
    counts = [p.get_info(RC) for p in probes]
    while counts != [1] * len(probes) and time.monotonic() < deadline:
        time.sleep(0.01)
        counts = [p.get_info(RC) for p in probes]
    assert counts == [1] * len(probes)


def test_explicit_context(in_order_queue):
    ctx = clmse.Context.from_pyopencl(in_order_queue)
    assert ctx.pyopencl_queue is in_order_queue
    assert ctx.device.name == in_order_queue.device.name
    x = cla.to_device(in_order_queue, np.float32([2.5, 3.1, 4.8]))
    y = cla.to_device(in_order_queue, np.float32([2.0, 3.3, 5.0]))
    got = clmse.mse_loss(x, y, context=ctx)
    assert abs(float(host(got)) - 0.11) < 1e-7


def test_layouts_refused_not_copied(in_order_queue):
    buf = cl.Buffer(in_order_queue.context, cl.mem_flags.READ_WRITE, 64)
    odd = cla.Array(in_order_queue, (4,), np.float32, data=buf, offset=2)
    good = cla.zeros(in_order_queue, 4, np.float32)
    with pytest.raises(clmse.InvalidInputError, match="multiples of its element size") as e:
        clmse.mse_loss(odd, good)
    assert e.value.name == "ERROR_INVALID_LAYOUT"
    with pytest.raises(TypeError, match="both be numpy arrays"):
        clmse.mse_loss(good, np.zeros(4, np.float32))


def test_out_argument(queue):
    x = cla.to_device(queue, np.float32([1, 2, 3]))
    y = cla.zeros(queue, 3, np.float32)
    out = cla.empty(queue, (), np.float32)
    assert clmse.mse_loss(x, y, "sum", out=out) is out
    assert host(out) == 14.0
    assert out.events and out.events[-1].int_ptr
    with pytest.raises(clmse.InvalidInputError, match="output has dtype float64"):
        clmse.mse_loss(x, y, out=cla.empty(queue, (), np.float64))
    with pytest.raises(TypeError, match="out must be of the operands' kind"):
        clmse.mse_loss(x, y, out=np.empty((), np.float32))
    h = np.empty(3, np.float32)
    assert clmse.mse_loss(host(x), host(y), "none", out=h) is h
    assert h.tolist() == [1.0, 4.0, 9.0]
    with pytest.raises(clmse.InvalidInputError, match="out must be native-endian"):
        clmse.mse_loss(host(x), host(y), "none", out=np.empty(6, np.float32)[::-2])


def test_out_must_be_writable_without_repeats():
    """A read-only numpy `out` (np.frombuffer of bytes) and an expanded one (stride 0) are
    refused before anything is written."""
    x, y = np.float32([1, 2, 3]), np.float32([0, 0, 0])
    frozen = np.frombuffer(bytes(12), np.float32)
    with pytest.raises(clmse.InvalidInputError, match="read-only") as e:
        clmse.mse_loss(x, y, "none", out=frozen)
    assert e.value.name == "ERROR_INVALID_ARGUMENT"
    assert frozen.tolist() == [0.0, 0.0, 0.0]
    repeated = np.lib.stride_tricks.as_strided(np.zeros(1, np.float32), (3,), (0,),
                                               writeable=True)
    with pytest.raises(clmse.InvalidInputError, match="stride of 0") as e:
        clmse.mse_loss(x, y, "none", out=repeated)
    assert e.value.name == "ERROR_INVALID_LAYOUT"


def test_operands_wait_for_a_read_on_another_queue(in_order_queue):
    """With context= on a second in-order queue, the operands on the first get the call's
    event: a later write to them on their own queue must wait for clmse's read."""
    other = cl.CommandQueue(in_order_queue.context, in_order_queue.device)
    ctx = clmse.Context.from_pyopencl(other)
    x = cla.to_device(in_order_queue, np.float32([1, 2, 3]))
    y = cla.zeros(in_order_queue, 3, np.float32)
    loss = clmse.mse_loss(x, y, "sum", context=ctx)
    done = loss.events[-1]
    assert any(e.int_ptr == done.int_ptr for e in x.events)
    assert any(e.int_ptr == done.int_ptr for e in y.events)
    assert float(host(loss)) == 14.0
    same = clmse.mse_loss(x, y, "sum")  # x's own queue: an in-order queue orders it
    assert not any(e.int_ptr == same.events[-1].int_ptr for e in x.events)
    other.finish()
