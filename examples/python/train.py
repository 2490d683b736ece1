#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Trains a two-layer MLP on synthetic regression data twice, from the same start: once with
clmse.torch.MSELoss (the loss and its gradient on the OpenCL device, in one fused pass), once
with torch.nn.MSELoss. Prints both loss curves side by side and the largest difference in the
final weights. Exits 1 unless the final weights are bit-identical and every step's losses
agree within 2 ulp (torch's float sum is not always within 1 ulp of the exact value).

    /usr/bin/python3 examples/python/train.py [--steps N] [--every K]
"""
import argparse
import copy
import sys

import numpy as np
import torch

import clmse
import clmse.torch


def ulps(a, b):
    """Distance between two float32 values in representable floats."""
    ia, ib = (int(np.float32(v).view(np.int32)) for v in (a, b))
    fix = lambda i: i if i >= 0 else -(i & 0x7FFFFFFF)  # noqa: E731
    return abs(fix(ia) - fix(ib))


def train(model, loss_fn, x, y, steps, lr):
    model = copy.deepcopy(model)
    opt = torch.optim.SGD(model.parameters(), lr=lr)
    losses = []
    for _ in range(steps):
        opt.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return model, losses


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--every", type=int, default=20, help="print every K-th step")
    args = ap.parse_args()

    torch.manual_seed(0)
    x = torch.randn(512, 16)
    w_true = torch.randn(16, 1)
    y = torch.sin(x @ w_true) + 0.1 * torch.randn(512, 1)
    model = torch.nn.Sequential(torch.nn.Linear(16, 32), torch.nn.Tanh(), torch.nn.Linear(32, 1))

    print(f"clmse {clmse.__version__} on {clmse.default_context().device.name}")
    ours, ours_losses = train(model, clmse.torch.MSELoss(), x, y, args.steps, 0.05)
    ref, ref_losses = train(model, torch.nn.MSELoss(), x, y, args.steps, 0.05)

    print(f"{'step':>5} {'clmse.torch.MSELoss':>22} {'torch.nn.MSELoss':>22} {'ulp':>4}")
    worst = 0
    for step, (a, b) in enumerate(zip(ours_losses, ref_losses)):
        d = ulps(a, b)
        worst = max(worst, d)
        if step % args.every == 0 or step == args.steps - 1:
            print(f"{step:5d} {a:22.9g} {b:22.9g} {d:4d}")
    diff = max((p - q).abs().max().item() for p, q in zip(ours.parameters(), ref.parameters()))
    same = all(torch.equal(p, q) for p, q in zip(ours.parameters(), ref.parameters()))
    print(f"largest loss difference: {worst} ulp; largest final weight difference: {diff:g}"
          f" ({'bit-identical' if same else 'NOT bit-identical'})")
    return 0 if same and worst <= 2 else 1


if __name__ == "__main__":
    sys.exit(main())
