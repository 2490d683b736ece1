#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Data-parallel linear regression with torch.distributed (gloo, localhost) and clmse: every
rank gets the same loss bits and keeps bitwise-identical parameters, with uneven shards.

Rank r holds a share of the points proportional to r + 1. Once, the ranks all-reduce their
element counts (int64) into N. Every step each rank:

- runs ``clmse.torch.mse_loss(pred, y, mean_count=N)`` and ``backward()``: autograd gives its
  parameters the shard's share of the gradient of the global mean (each element scaled by
  2/N, not by 2/n_local as per-rank means, and DDP's averaging over ranks, would);
- all-gathers the ranks' parameter gradients and adds them in rank order (a floating-point
  all_reduce fixes no order: its bits could differ between ranks);
- gets the loss from ``clmse.mse_partial``: each rank's unrounded partial, encoded as 73
  int64 words whose integer all_reduce is exact in any order, decoded and rounded once.

Rank 0 checks each step's loss against one process's ``clmse.mse_loss`` over all N points
(within 1 ulp) and every rank checks that all ranks hold the same loss bits and parameters.
Exits 1 if any check fails. Each rank keeps its own POCL kernel cache
($POCL_CACHE_DIR/ddp-rank<r>): POCL ranks starting together could race on one.

    /usr/bin/python3 examples/python/ddp.py [--world-size 2] [--steps 20] [--n 10007]
"""
import argparse
import hashlib
import os
import shutil
import sys
import tempfile

import numpy as np
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

import clmse
import clmse.torch


def bits(value):
    """A float32's bits, as 0x........"""
    return f"0x{int(np.float32(value).view(np.uint32)):08x}"


def ulps(a, b):
    ia, ib = (int(np.float32(v).view(np.int32)) for v in (a, b))
    fix = lambda i: i if i >= 0 else -(i & 0x7FFFFFFF)  # noqa: E731
    return abs(fix(ia) - fix(ib))


def data(n, features):
    """The whole data set, the same on every rank (each keeps only its shard)."""
    g = torch.Generator().manual_seed(0)
    x = torch.randn(n, features, generator=g)
    w_true = torch.randn(features, 1, generator=g)
    y = x @ w_true + 0.5 + 0.1 * torch.randn(n, 1, generator=g)
    return x, y


def shard(n, rank, world):
    """Rank r's rows: a share proportional to r + 1."""
    total = world * (world + 1) // 2
    bounds = [n * (r * (r + 1) // 2) // total for r in range(world + 1)]
    return bounds[rank], bounds[rank + 1]


def gather(tensor, world):
    out = [torch.empty_like(tensor) for _ in range(world)]
    dist.all_gather(out, tensor)
    return out


def worker(rank, world, store, args, results):
    base = os.environ.get("POCL_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "pocl", "kcache")
    os.environ["POCL_CACHE_DIR"] = os.path.join(base, f"ddp-rank{rank}")  # before any CL call
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{store}", rank=rank, world_size=world)

    x_all, y_all = data(args.n, args.features)
    lo, hi = shard(args.n, rank, world)
    x, y = x_all[lo:hi], y_all[lo:hi]
    count = torch.tensor([y.numel()], dtype=torch.int64)
    dist.all_reduce(count)  # once: the mean is over all N elements
    n_total = int(count.item())

    torch.manual_seed(1)  # the same initial parameters on every rank
    model = torch.nn.Linear(args.features, 1)
    params = list(model.parameters())
    loss_fn = clmse.torch.MSELoss(mean_count=n_total)
    opt = torch.optim.SGD(params, lr=args.lr)

    if rank == 0:
        shards = [shard(args.n, r, world) for r in range(world)]
        print(f"clmse {clmse.__version__} on {clmse.default_context().device.name}; "
              f"{world} ranks, N = {n_total}, shards (rows) {shards}", flush=True)
        print(f"{'step':>4} {'loss':>14} {'bits':>10} {'ulp vs one process':>19}", flush=True)
    identical, close = True, True  # the same bits on every rank; within 1 ulp of one process
    for step in range(args.steps):
        opt.zero_grad()
        pred = model(x)
        loss_fn(pred, y).backward()  # this shard's share of the global mean's gradient

        # The loss: partials summed as integers (exact in any order), rounded once.
        partial, _, _ = clmse.mse_partial(pred.detach(), y, mean_count=n_total)
        words = torch.from_numpy(partial.encode())
        dist.all_reduce(words)
        loss = clmse.Partial.decode(words).round(dtype=np.float32)

        # The gradients: gathered, added in rank order, the same bits on every rank.
        flat = torch.cat([p.grad.reshape(-1) for p in params])
        parts = gather(flat, world)
        total = parts[0].clone()
        for part in parts[1:]:
            total += part
        offset = 0
        for p in params:
            p.grad.copy_(total[offset:offset + p.numel()].view_as(p))
            offset += p.numel()

        losses = gather(torch.tensor([int(np.float32(loss).view(np.int32))]), world)
        same_loss = all(torch.equal(t, losses[0]) for t in losses)
        identical &= same_loss
        if rank == 0:
            with torch.no_grad():
                one = clmse.mse_loss(model(x_all), y_all).item()  # one process, all N points
            d = ulps(loss, one)
            close &= d <= 1
            if step % args.every == 0 or step == args.steps - 1:
                print(f"{step:4d} {float(loss):14.9g} {bits(loss):>10} {d:19d}"
                      f"{'' if same_loss else '  ranks disagree'}", flush=True)
        opt.step()
        with torch.no_grad():
            flat = torch.cat([p.detach().reshape(-1) for p in params])
        identical &= all(torch.equal(t, flat) for t in gather(flat, world))

    digest = hashlib.sha256(flat.numpy().tobytes()).hexdigest()[:16]
    # One rank at a time, in rank order: lines printed at once by several processes can
    # interleave mid-line on the shared stdout.
    for turn in range(world):
        dist.barrier()
        if turn == rank:
            print(f"rank {rank}/{world}: {hi - lo} points, last loss {float(loss):.9g} "
                  f"({bits(loss)}), parameters sha256 {digest}: loss bits and parameters "
                  f"{'identical on every rank' if identical else 'DIFFER BETWEEN RANKS'}"
                  f"{'' if close else '; LOSS NOT WITHIN 1 ULP OF ONE PROCESS'}", flush=True)
    dist.destroy_process_group()
    results.put((rank, identical and close))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--world-size", type=int, default=2)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--every", type=int, default=5, help="rank 0 prints every K-th step")
    ap.add_argument("--n", type=int, default=10007, help="points in all")
    ap.add_argument("--features", type=int, default=8)
    ap.add_argument("--lr", type=float, default=0.1)
    args = ap.parse_args()
    if not (dist.is_available() and dist.is_gloo_available()):
        print("torch.distributed with gloo is not available in this torch build")
        return 2
    tmp = tempfile.mkdtemp(prefix="clmse-ddp-")
    try:
        results = mp.get_context("spawn").SimpleQueue()
        mp.spawn(worker, args=(args.world_size, os.path.join(tmp, "store"), args, results),
                 nprocs=args.world_size)
        oks = dict(results.get() for _ in range(args.world_size))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    good = len(oks) == args.world_size and all(oks.values())
    print(f"{args.world_size} ranks: same loss bits every step, parameters bitwise identical, "
          "loss within 1 ulp of one process" if good else "FAILED")
    return 0 if good else 1


if __name__ == "__main__":
    sys.exit(main())
