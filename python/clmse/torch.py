# SPDX-License-Identifier: MIT
"""clmse for PyTorch: ``mse_loss`` and ``MSELoss`` with autograd, drop-in for torch's.

Importable only when torch is installed. The forward of a mean or sum loss whose operands
need gradients runs clmse's fused pass with an upstream gradient of one, and keeps the
gradients it wrote: ``loss.backward()`` then costs no second pass, and gives torch's bits,
((2/N) * (x - y)) * 1. Any other upstream gradient (and every 'none' loss) runs clmse's
backward with it, which keeps torch's order of operations, so the gradients stay bit-identical
to torch's for same-shape float32 and float64 operands.

``mean_count`` (data-parallel training): the number of elements the mean is over in all
shards. Each process's loss is then its shard's sum over mean_count, and ``backward()`` gives
its parameters the shard's share of the global mean's gradient, each element's scaled by
2 / mean_count: the ranks' gradients then add up (in a fixed order) to the gradient one
process holding the whole batch would compute.
"""
import torch
from torch.autograd.function import once_differentiable

from . import _api

__all__ = ["mse_loss", "MSELoss"]


class _MSELoss(torch.autograd.Function):
    # torch 1.13 has no setup_context: forward takes ctx (the combined form).
    @staticmethod
    def forward(ctx, input, target, reduction, context, mean_count):
        need_x, need_y = ctx.needs_input_grad[0], ctx.needs_input_grad[1]
        ctx.reduction, ctx.context, ctx.mean_count = reduction, context, mean_count
        ctx.fused_grads = None
        if reduction != 0 and (need_x or need_y):
            wrt = ("input",) * need_x + ("target",) * need_y
            loss, gx, gy = _api.run(input, target, None, reduction, True, wrt, context,
                                    mean_count=mean_count)
            ctx.fused_grads = (gx, gy)
        else:
            loss = _api.run(input, target, None, reduction, True, (), context,
                            mean_count=mean_count)[0]
        ctx.save_for_backward(input, target)
        return loss

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_output):
        need_x, need_y = ctx.needs_input_grad[0], ctx.needs_input_grad[1]
        if ctx.fused_grads is not None and grad_output.item() == 1.0:
            gx, gy = ctx.fused_grads
        else:
            input, target = ctx.saved_tensors
            wrt = ("input",) * need_x + ("target",) * need_y
            _, gx, gy = _api.run(input, target, grad_output, ctx.reduction, False, wrt,
                                 ctx.context, mean_count=ctx.mean_count)
        ctx.fused_grads = None  # the graph may be kept (retain_graph): recompute next time
        return gx if need_x else None, gy if need_y else None, None, None, None


def mse_loss(input, target, size_average=None, reduce=None, reduction="mean", *, context=None,
             mean_count=None):
    """torch.nn.functional.mse_loss, computed by clmse, differentiable (same signature, plus
    ``context``, a clmse.Context, and ``mean_count``, the element count of all shards of a
    data-parallel mean: see the module's notes). Operands: torch CPU tensors."""
    red = _api.reduction_code(reduction, size_average, reduce)
    mean_count = _api.mean_count_value(mean_count)
    if input.size() != target.size():
        _api._size_warning(input, target, "torch")
    return _MSELoss.apply(input, target, red, context, mean_count)


class MSELoss(torch.nn.Module):
    """torch.nn.MSELoss computed by clmse (same arguments, plus ``context`` and
    ``mean_count``, as in mse_loss)."""

    def __init__(self, size_average=None, reduce=None, reduction="mean", *, context=None,
                 mean_count=None):
        super().__init__()
        self.reduction = _api.REDUCTION_NAMES[_api.reduction_code(reduction, size_average,
                                                                  reduce)]
        self.context = context
        self.mean_count = _api.mean_count_value(mean_count)

    def forward(self, input, target):
        return mse_loss(input, target, reduction=self.reduction, context=self.context,
                        mean_count=self.mean_count)

    def extra_repr(self):
        if self.mean_count is None:
            return f"reduction={self.reduction!r}"
        return f"reduction={self.reduction!r}, mean_count={self.mean_count}"
