# SPDX-License-Identifier: MIT
"""clmse.torch: autograd gradients bit-identical to torch's, gradcheck, the module, and the
training example's own done-when check."""
import os
import subprocess
import sys
import warnings

import pytest
from _support import require

torch = require("torch")
import clmse  # noqa: E402
import clmse.torch as ct  # noqa: E402

REDUCTIONS = ["none", "mean", "sum"]


def pair(shape, dtype, seed):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(shape, generator=g, dtype=dtype, requires_grad=True)
    y = torch.randn(shape, generator=g, dtype=dtype, requires_grad=True)
    return x, y


def grads(loss_fn, x, y, upstream=None):
    x, y = x.detach().requires_grad_(x.requires_grad), y.detach().requires_grad_(y.requires_grad)
    loss = loss_fn(x, y)
    loss.backward(upstream)
    return loss.detach(), x.grad, y.grad


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("shape", [(1000,), (17, 31), ()], ids=str)
def test_backward_bit_identical(shape, dtype, reduction):
    x, y = pair(shape, dtype, 1)
    upstream = torch.randn(shape, dtype=dtype) if reduction == "none" else None
    _, ox, oy = grads(ct.MSELoss(reduction=reduction), x, y, upstream)
    _, tx, ty = grads(torch.nn.MSELoss(reduction=reduction), x, y, upstream)
    assert torch.equal(ox, tx) and torch.equal(oy, ty)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_scaled_upstream_gradient(dtype):
    """loss * 3 sends an upstream gradient of 3: the saved fused gradients (for 1) must not be
    used; the recomputed ones keep torch's order of operations."""
    x, y = pair((257,), dtype, 2)
    _, ox, oy = grads(lambda a, b: ct.mse_loss(a, b) * 3, x, y)
    _, tx, ty = grads(lambda a, b: torch.nn.functional.mse_loss(a, b) * 3, x, y)
    assert torch.equal(ox, tx) and torch.equal(oy, ty)


def test_only_one_operand_needs_grad():
    x, y = pair((50,), torch.float32, 3)
    y = y.detach()
    _, ox, oy = grads(ct.mse_loss, x, y)
    _, tx, _ = grads(torch.nn.functional.mse_loss, x, y)
    assert oy is None and torch.equal(ox, tx)


def test_retain_graph_backward_twice():
    x, y = pair((40,), torch.float64, 4)
    loss = ct.mse_loss(x, y, reduction="sum")
    loss.backward(retain_graph=True)
    first = x.grad.clone()
    loss.backward()
    assert torch.equal(x.grad, 2 * first)


def test_plain_mse_loss_is_differentiable():
    """clmse.mse_loss on tensors that require grad goes through clmse.torch."""
    x, y = pair((30,), torch.float32, 5)
    loss = clmse.mse_loss(x, y)
    assert loss.requires_grad
    loss.backward()
    with torch.no_grad():
        assert not clmse.mse_loss(x, y).requires_grad


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("shapes", [((4, 5), (4, 5)), ((3, 1), (3,)), ((), (6,))], ids=str)
def test_gradcheck(shapes, reduction):
    g = torch.Generator().manual_seed(6)
    x = torch.randn(shapes[0], generator=g, dtype=torch.float64, requires_grad=True)
    y = torch.randn(shapes[1], generator=g, dtype=torch.float64, requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert torch.autograd.gradcheck(lambda a, b: ct.mse_loss(a, b, reduction=reduction),
                                        (x, y))


def test_module_arguments():
    assert repr(ct.MSELoss()) == "MSELoss(reduction='mean')"
    with pytest.warns(UserWarning, match="reduction='sum'"):
        assert ct.MSELoss(size_average=False).reduction == "sum"
    with pytest.warns(UserWarning, match="reduction='none'"):
        assert ct.MSELoss(reduce=False).reduction == "none"
    with pytest.raises(ValueError, match="avg is not a valid value for reduction"):
        ct.MSELoss(reduction="avg")
    x, y = pair((8,), torch.float32, 7)
    with pytest.warns(UserWarning, match="different to the input size"):
        ct.mse_loss(x, y[:1])
    assert ct.MSELoss(context=clmse.default_context())(x, y).dtype == torch.float32


def test_train_example(root):
    """examples/python/train.py's done-when: final weights bit-identical, losses within 2 ulp
    at every step (it exits 1 otherwise)."""
    run = subprocess.run([sys.executable, str(root / "examples/python/train.py"),
                          "--steps", "60"], capture_output=True, text=True, env=os.environ)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "(bit-identical)" in run.stdout
