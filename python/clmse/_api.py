# SPDX-License-Identifier: MIT
"""mse_loss, mse_loss_backward, mse_loss_fused and mse_partial: torch's semantics on numpy
arrays, torch CPU tensors (both through clmse_host_mse) and pyopencl arrays (clmse_mse, in
place)."""
import operator
import sys
import warnings
from ctypes import byref, c_int, c_size_t, c_uint32, c_void_p, pointer

from . import _errors
from . import _operands as ops
from ._context import context_for_queue, default_context
from ._lib import MAX_NDIM, MEAN_COUNT, HostMseArgs, MseArgs, PartialStruct, lib
from ._partial import Partial

REDUCTIONS = {"none": 0, "mean": 1, "sum": 2}
REDUCTION_NAMES = {v: k for k, v in REDUCTIONS.items()}
_WRT = ("input", "target")


def reduction_code(reduction, size_average=None, reduce=None):
    """torch's reduction argument, with its legacy pair and warnings, as a clmse_reduction."""
    if size_average is not None or reduce is not None:
        out = c_int()
        legacy = [-1 if v is None else int(bool(v)) for v in (size_average, reduce)]
        _errors.check(lib.clmse_legacy_reduction(legacy[0], legacy[1], 1, byref(out)), None)
        warnings.warn("size_average and reduce args will be deprecated, please use "
                      f"reduction='{REDUCTION_NAMES[out.value]}' instead.", stacklevel=3)
        return out.value
    if reduction == "elementwise_mean":
        warnings.warn("reduction='elementwise_mean' is deprecated, please use reduction='mean' "
                      "instead.", stacklevel=3)
        return 1
    code = REDUCTIONS.get(reduction) if isinstance(reduction, str) else None
    if code is None:
        raise _errors.make_error(_errors.INVALID_REDUCTION,
                                 f"{reduction} is not a valid value for reduction")
    return code


def _broadcast(sx, sy):
    """The broadcast shape; the library words the error when there is none."""
    if sx == sy:
        return sx
    n = max(len(sx), len(sy))
    out = []
    for a, b in zip((1,) * (n - len(sx)) + sx, (1,) * (n - len(sy)) + sy):
        if a != b and a != 1 and b != 1:
            break
        out.append(a if b == 1 else b)
    else:
        if n <= MAX_NDIM:
            return tuple(out)
    shape = (c_size_t * MAX_NDIM)()
    nd = c_uint32()
    ax, ay = (c_size_t * max(len(sx), 1))(*sx), (c_size_t * max(len(sy), 1))(*sy)
    _errors.check(lib.clmse_broadcast_shapes(len(sx), ax, len(sy), ay, byref(nd), shape), None)
    raise AssertionError("clmse_broadcast_shapes accepted shapes the binding refused")


def _promote(cx, cy):
    code = ops.PROMOTE.get((cx, cy))
    if code is None:  # integers, bool, complex: the library says why (or, newer, accepts)
        out = c_int()
        _errors.check(lib.clmse_promote_dtypes(cx, cy, byref(out)), None)
        code = out.value
    return code


def _size_warning(input, target, kind):
    if kind == ops.TORCH:
        sx, sy = input.size(), target.size()
    else:
        sx, sy = tuple(input.shape), tuple(target.shape)
    if sx != sy:
        warnings.warn(f"Using a target size ({sy}) that is different to the input size ({sx}). "
                      "This will likely lead to incorrect results due to broadcasting. Please "
                      "ensure they have the same size.", stacklevel=4)


def _kinds(input, target):
    kind = ops.kind_of(input)
    if kind is None or ops.kind_of(target) != kind:
        raise TypeError("clmse: input and target must both be numpy arrays, torch CPU tensors "
                        f"or pyopencl arrays; got {type(input).__name__} and "
                        f"{type(target).__name__}")
    return kind


def _wants(wrt):
    if isinstance(wrt, str):
        wrt = (wrt,)
    bad = [w for w in wrt if w not in _WRT]
    if bad:
        raise _errors.make_error(_errors.INVALID_ARGUMENT,
                                 f"wrt names {bad}; it takes 'input' and/or 'target'")
    return tuple(wrt)


def mean_count_value(mean_count):
    """mean_count checked: None (the local count) or an int from 0 to 2^64 - 1 (0 is the local
    count too). The library refuses a count below the call's own element count."""
    if mean_count is None:
        return None
    if isinstance(mean_count, bool):
        raise TypeError("clmse: mean_count must be an int or None; got bool")
    try:
        n = operator.index(mean_count)
    except TypeError:
        raise TypeError("clmse: mean_count must be an int or None; got "
                        f"{type(mean_count).__name__}") from None
    if not 0 <= n < 1 << 64:
        raise _errors.make_error(_errors.INVALID_ARGUMENT,
                                 f"mean_count {n} is out of range: it is the number of "
                                 "elements the mean is over in all shards (0 to 2^64 - 1)")
    return n


def run(input, target, grad_output, reduction, want_loss, wrt, context, out=None,
        mean_count=None, partial=False):
    """The one call behind the four functions: (loss or None, grad_input or None,
    grad_target or None). `reduction` is a clmse_reduction code; `out`, when given, receives
    the loss; `mean_count`, a checked int or None, sets CLMSE_MEAN_COUNT. With `partial`, the
    first result is the call's clmse.Partial (clmse_mse_partial; want_loss must be false)."""
    kind = _kinds(input, target)
    cx = ops.dtype_code(input, kind, "input")
    cy = ops.dtype_code(target, kind, "target")
    promoted = _promote(cx, cy)
    shape = _broadcast(tuple(input.shape), tuple(target.shape))
    out_shape = shape if reduction == 0 else ()
    want_gx, want_gy = "input" in wrt, "target" in wrt
    if kind == ops.PYOPENCL:
        return _run_device(input, target, grad_output, reduction, want_loss, want_gx, want_gy,
                           context, (cx, cy, promoted), out_shape, out, mean_count, partial)
    ctx = context if context is not None else default_context()
    tx, kx = ops.host_tensor(input, kind, cx, "input")
    ty, ky = ops.host_tensor(target, kind, cy, "target")
    args = HostMseArgs(reduction, 0, pointer(tx), pointer(ty))
    if mean_count is not None:
        args.flags, args.mean_count = MEAN_COUNT, mean_count
    keep = [kx, ky]  # copies made of views clmse cannot describe live until the call returns
    if grad_output is not None:
        g = ops.convert_host(grad_output, kind, promoted, "grad_output")
        tg, kg = ops.host_tensor(g, kind, promoted, "grad_output")
        args.grad_output = pointer(tg)
        keep.append(kg)
    results = [None, None, None]
    for i, (want, shp, code, field) in enumerate((
            (want_loss, out_shape, promoted, "output"),
            (want_gx, tuple(input.shape), cx, "grad_input"),
            (want_gy, tuple(target.shape), cy, "grad_target"))):
        if want:
            if i or out is None:
                results[i] = ops.new_host(kind, shp, code)
            else:  # the caller's: its own dtype, which the library checks
                results[i], code = _out(out, kind), ops.dtype_code(out, kind, "out")
            view, owner = ops.host_tensor(results[i], kind, code, field)
            if owner is not results[i]:  # a copy would receive the result, not `out`
                raise _errors.make_error(_errors.INVALID_LAYOUT,
                                         "out must be native-endian, with non-negative strides "
                                         "of whole elements")
            setattr(args, field, pointer(view))
    if partial:
        p = PartialStruct()
        _errors.check(lib.clmse_host_mse_partial(ctx.handle, byref(args), byref(p)), ctx.handle)
        results[0] = Partial._wrap(p)
    else:
        _errors.check(lib.clmse_host_mse(ctx.handle, byref(args)), ctx.handle)
    return tuple(results)


def _out(out, kind):
    """The caller's `out`, checked: the operands' kind, writable, and no element twice (the
    library checks dtype and shape)."""
    if ops.kind_of(out) != kind:
        raise TypeError(f"clmse: out must be of the operands' kind ({kind}); got "
                        f"{type(out).__name__}")
    flags = getattr(out, "flags", None)
    if flags is not None and hasattr(flags, "writeable") and not flags.writeable:
        raise _errors.make_error(_errors.INVALID_ARGUMENT, "out is read-only")
    strides = out.stride() if callable(getattr(out, "stride", None)) else out.strides
    if any(st == 0 and size > 1 for st, size in zip(strides, out.shape)):
        # torch refuses to write into an expanded view too: its elements share memory
        raise _errors.make_error(_errors.INVALID_LAYOUT,
                                 "out repeats elements (a stride of 0): it cannot hold results")
    return out


def _run_device(x, y, g, reduction, want_loss, want_gx, want_gy, context, codes, out_shape,
                out=None, mean_count=None, partial=False):
    cla = sys.modules["pyopencl.array"]
    cl = sys.modules["pyopencl"]
    cx, cy, promoted = codes
    queue = x.queue
    if queue is None:
        raise _errors.make_error(_errors.INVALID_ARGUMENT,
                                 "input is a pyopencl array without a queue")
    ctx = context if context is not None else context_for_queue(queue)
    operands = [x, y]
    args = MseArgs(reduction, 0, ops.device_tensor(x, cx, "input"),
                   ops.device_tensor(y, cy, "target"))
    if mean_count is not None:
        args.flags, args.mean_count = MEAN_COUNT, mean_count
    if g is not None:
        if not isinstance(g, cla.Array):
            g = cla.to_device(queue, sys.modules["numpy"].asarray(g, ops.DTYPE_NAMES[promoted]))
        args.grad_output = ops.device_tensor(g, ops.dtype_code(g, ops.PYOPENCL, "grad_output"),
                                             "grad_output")
        operands.append(g)
    results = [None, None, None]
    for i, (want, shp, code, field) in enumerate((
            (want_loss, out_shape, promoted, "output"),
            (want_gx, x.shape, cx, "grad_input"),
            (want_gy, y.shape, cy, "grad_target"))):
        if want:
            if i or out is None:
                results[i] = cla.empty(queue, shp, ops.DTYPE_NAMES[code], allocator=x.allocator)
            else:
                results[i] = _out(out, ops.PYOPENCL)
                code = ops.dtype_code(out, ops.PYOPENCL, "out")
            setattr(args, field, ops.device_tensor(results[i], code, field))
    waits = [e.int_ptr for a in operands for e in a.events]
    if out is not None:  # a write to the caller's array waits for what it is still doing
        waits += [e.int_ptr for e in out.events]
    wait_list = (c_void_p * len(waits))(*waits) if waits else None
    if partial:  # blocking: every result is written when it returns, so no event to attach
        p = PartialStruct()
        _errors.check(lib.clmse_mse_partial(ctx.handle, byref(args), byref(p), len(waits),
                                            wait_list), ctx.handle)
        results[0] = Partial._wrap(p)
        return tuple(results)
    event = c_void_p()
    _errors.check(lib.clmse_mse(ctx.handle, byref(args), len(waits), wait_list, byref(event)),
                  ctx.handle)
    # The new event is ours alone (retain=False takes over the library's reference): the
    # results hold it, and where the queue does not order commands for us the operands too, so
    # that a later write to them waits for this read.
    done = cl.Event.from_int_ptr(event.value, retain=False)
    for r in results:
        if r is not None and r is not out:
            r.add_event(done)
    if out is not None:  # the call waited for all of out's events: `done` stands for them
        out.events[:] = [done]
    # On another queue than the operands' (context=), an in-order queue orders nothing either.
    other_queue = ctx.pyopencl_queue is None or ctx.pyopencl_queue.int_ptr != queue.int_ptr
    if ctx.out_of_order or other_queue:
        for a in operands:
            a.add_event(done)
    return tuple(results)


def mse_loss(input, target, reduction="mean", *, size_average=None, reduce=None, context=None,
             out=None, mean_count=None):
    """torch.nn.functional.mse_loss on numpy arrays, torch CPU tensors or pyopencl arrays.

    ``reduction`` is "mean" (default), "sum" or "none"; ``size_average`` and ``reduce`` are
    torch's deprecated pair and override it as in torch. Shapes broadcast and dtypes promote
    as in torch (a UserWarning when the shapes differ). The result is of the operands' kind,
    in the promoted dtype: 0-d for mean and sum, the broadcast shape for none. Torch tensors
    that require grad go through clmse.torch, so the result is differentiable. ``context``:
    a clmse.Context; default: the default context, or for pyopencl arrays one adopting their
    queue. ``out``: an array of the operands' kind, the promoted dtype and the loss's shape to
    write the loss into (and return) instead of a new one; it saves the allocation, which
    for pyopencl arrays costs more than the call itself at small sizes. ``mean_count``: the
    number of elements a data-parallel mean is over in all shards (this call's elements are
    one shard): mean divides by it instead of by the call's own count (None or 0); it may not
    be below that count.
    """
    red = reduction_code(reduction, size_average, reduce)
    mean_count = mean_count_value(mean_count)
    kind = _kinds(input, target)
    _size_warning(input, target, kind)
    if kind == ops.TORCH and out is None and (input.requires_grad or target.requires_grad):
        torch = sys.modules["torch"]
        if torch.is_grad_enabled():
            from . import torch as clmse_torch
            return clmse_torch.mse_loss(input, target, reduction=REDUCTION_NAMES[red],
                                        context=context, mean_count=mean_count)
    return run(input, target, None, red, True, (), context, out, mean_count)[0]


def mse_loss_backward(input, target, grad_output=None, reduction="mean", *,
                      wrt=("input", "target"), context=None, mean_count=None):
    """The gradients of mse_loss with respect to the operands named in ``wrt``, as a tuple in
    that order. ``grad_output`` is shaped as the loss (None: ones). Each gradient has its
    operand's shape and dtype; a broadcast operand's gradient is summed over the broadcast
    dimensions. Bit for bit torch's ((2/N) * (x - y)) * g for same-shape operands; with
    ``mean_count`` (as in mse_loss), N is mean_count: a shard's gradients of the global mean.
    """
    wrt = _wants(wrt)
    if not wrt:
        raise _errors.make_error(_errors.INVALID_ARGUMENT, "wrt is empty: nothing to compute")
    _, gx, gy = run(input, target, grad_output, reduction_code(reduction), False, wrt, context,
                    mean_count=mean_count_value(mean_count))
    return tuple(gx if w == "input" else gy for w in wrt)


def mse_loss_fused(input, target, grad_output=None, reduction="mean", *,
                   wrt=("input", "target"), context=None, mean_count=None):
    """(loss, grad_input, grad_target) from one pass over input and target: the bits of
    mse_loss and mse_loss_backward (``mean_count`` as there). A gradient not named in ``wrt``
    is None."""
    return run(input, target, grad_output, reduction_code(reduction), True, _wants(wrt),
               context, mean_count=mean_count_value(mean_count))


def mse_partial(input, target, reduction="mean", *, wrt=(), grad_output=None, mean_count=None,
                context=None):
    """This shard's clmse.Partial (its loss unrounded) and the gradients named in ``wrt``, in
    one pass: (partial, grad_input, grad_target), a gradient not named being None. ``reduction``
    is "mean" or "sum"; ``mean_count`` is the number of elements in all shards (exchange the
    shards' counts first), which scales the gradients by 2 / mean_count (None: this call's own
    count); ``grad_output`` is the global loss's upstream gradient (None: 1). Fold the shards'
    partials with clmse.fold_partials (or sum their encode() words) and round once with
    Partial.round. Blocks until every result is written, pyopencl arrays included
    (clmse_mse_partial; host data: clmse_host_mse_partial).
    """
    return run(input, target, grad_output, reduction_code(reduction), False, _wants(wrt),
               context, mean_count=mean_count_value(mean_count), partial=True)
