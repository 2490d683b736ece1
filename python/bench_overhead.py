#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The binding's cost per call, side by side in one run, on one device (POCL by default).

At 2^10 float32 elements, mean reduction, each call waited for:
  C call       clmse_mse_forward_f32 on the same cl_mem buffers, called through ctypes with
               its arguments prepared once, then clWaitForEvents and clReleaseEvent (so the
               C call plus about a microsecond of ctypes);
  C tensor     clmse_mse (the tensor call the binding makes) the same way, its clmse_mse_args
               prepared once;
  pyopencl     clmse.mse_loss on pyopencl arrays (views resolved, wait list built, the output
               array allocated, the event attached), then the result's event waited for;
  pyopencl+pool  the same with the arrays' allocator a pyopencl MemoryPool;
  pyopencl out=  the same writing into one preallocated result (out=): no allocation;
  C host       clmse_host_forward_f32 on numpy's memory through ctypes (copies in and out);
  numpy        clmse.mse_loss on numpy arrays (clmse_host_mse: host-pointer buffers).
At 2^24 float32: clmse.mse_loss on numpy arrays against torch.nn.functional.mse_loss on the
same data as CPU tensors.

    CLMSE_LIBRARY=build/src/libclmse.so.0 PYTHONPATH=python /usr/bin/python3 \\
        python/bench_overhead.py [--reps N] [--platform SUBSTRING]
"""
import argparse
import ctypes
import statistics
import time

import numpy as np
import pyopencl as cl
import pyopencl.array as cla
import pyopencl.tools

import clmse
from clmse._lib import lib


def median_us(fn, reps, rounds):
    """Median per-call time in microseconds over `rounds` blocks of `reps` calls."""
    times = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        for _ in range(reps):
            fn()
        times.append((time.perf_counter() - t0) / reps * 1e6)
    return statistics.median(times)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=200, help="calls per timed block")
    ap.add_argument("--rounds", type=int, default=15, help="timed blocks per method")
    ap.add_argument("--platform", default="Portable Computing Language")
    args = ap.parse_args()

    platform = next(p for p in cl.get_platforms() if args.platform in p.name)
    device = platform.get_devices()[0]
    queue = cl.CommandQueue(cl.Context([device]))
    ctx = clmse.Context.from_pyopencl(queue)
    ocl = ctypes.CDLL("libOpenCL.so.1")
    ocl.clWaitForEvents.argtypes = [ctypes.c_uint, ctypes.POINTER(ctypes.c_void_p)]
    ocl.clReleaseEvent.argtypes = [ctypes.c_void_p]
    print(f"device: {device.name} ({platform.name}); clmse {clmse.library_version}")

    n = 1 << 10
    rng = np.random.default_rng(0)
    hx, hy = rng.standard_normal(n).astype(np.float32), rng.standard_normal(n).astype(np.float32)
    x, y = cla.to_device(queue, hx), cla.to_device(queue, hy)
    pool = cl.tools.MemoryPool(cl.tools.ImmediateAllocator(queue))
    px, py = cla.to_device(queue, hx, allocator=pool), cla.to_device(queue, hy, allocator=pool)
    out = cla.empty(queue, (), np.float32)
    queue.finish()
    event = ctypes.c_void_p()
    c_args = (ctx.handle, 1, n, x.base_data.int_ptr, 0, y.base_data.int_ptr, 0,
              out.base_data.int_ptr, 0, 0, None, ctypes.byref(event))
    forward, wait, release = lib.clmse_mse_forward_f32, ocl.clWaitForEvents, ocl.clReleaseEvent

    def c_call():
        forward(*c_args)
        wait(1, ctypes.byref(event))
        release(event)

    from clmse._lib import MseArgs
    from clmse._operands import device_tensor
    t_args = MseArgs(1, 0, device_tensor(x, 0, "x"), device_tensor(y, 0, "y"),
                     device_tensor(out, 0, "out"))
    t_call = lib.clmse_mse

    def c_tensor():
        t_call(ctx.handle, ctypes.byref(t_args), 0, None, ctypes.byref(event))
        wait(1, ctypes.byref(event))
        release(event)

    def py_device():
        clmse.mse_loss(x, y, context=ctx).events[-1].wait()

    def py_pool():
        clmse.mse_loss(px, py, context=ctx).events[-1].wait()

    host_out = np.empty(1, np.float32)
    host_fwd = lib.clmse_host_forward_f32
    host_fwd.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_size_t, ctypes.c_void_p,
                         ctypes.c_void_p, ctypes.c_void_p]
    hptr = (hx.ctypes.data, hy.ctypes.data, host_out.ctypes.data)

    def py_out():
        clmse.mse_loss(x, y, context=ctx, out=out).events[-1].wait()

    def c_host():
        host_fwd(ctx.handle, 1, n, *hptr)

    def py_numpy():
        clmse.mse_loss(hx, hy, context=ctx)

    methods = [("C call", c_call), ("C tensor", c_tensor), ("pyopencl", py_device),
               ("pyopencl+pool", py_pool), ("pyopencl out=", py_out), ("C host", c_host),
               ("numpy", py_numpy)]
    for _, fn in methods:  # warm up: programs built, pools filled
        for _ in range(50):
            fn()
    results = {name: [] for name, _ in methods}
    for _ in range(args.rounds):  # interleaved, so that drift hits every method alike
        for name, fn in methods:
            results[name].append(median_us(fn, args.reps, 1))
    med = {name: statistics.median(v) for name, v in results.items()}
    print(f"\n2^10 float32, mean, per call (median of {args.rounds} x {args.reps} calls):")
    for name, _ in methods:
        base = med["C host"] if name == "numpy" else med["C call"]
        ref = "C host" if name == "numpy" else "C call"
        print(f"  {name:14s} {med[name]:8.1f} us   {med[name] / base:5.2f} x {ref}")
        if name == "pyopencl out=":
            # out.events grows by one per call; pyopencl waits for old ones past 12
            out.events.clear()

    big = 1 << 24
    bx = rng.standard_normal(big).astype(np.float32)
    by = rng.standard_normal(big).astype(np.float32)
    import torch
    tx, ty = torch.from_numpy(bx), torch.from_numpy(by)
    clmse.mse_loss(bx, by, context=ctx)
    torch.nn.functional.mse_loss(tx, ty)
    rounds = max(5, args.rounds // 2)
    ours = median_us(lambda: clmse.mse_loss(bx, by, context=ctx), 1, rounds) / 1e3
    theirs = median_us(lambda: torch.nn.functional.mse_loss(tx, ty), 1, rounds) / 1e3
    print(f"\n2^24 float32, mean (median of {rounds} calls; torch threads "
          f"{torch.get_num_threads()}):")
    print(f"  clmse.mse_loss(numpy)            {ours:8.2f} ms")
    print(f"  torch.nn.functional.mse_loss     {theirs:8.2f} ms   clmse/torch {ours / theirs:.2f}")


if __name__ == "__main__":
    main()
