# SPDX-License-Identifier: MIT
"""clmse: PyTorch's nn.MSELoss (forward, backward, fused, partial) on any OpenCL device.

A ctypes binding of libclmse.so.0 (no compiled extension). It takes numpy arrays, torch CPU
tensors and pyopencl arrays, and returns results of the same kind::

    import clmse, numpy as np
    loss = clmse.mse_loss(np.float32([2.5, 3.1, 4.8]), np.float32([2.0, 3.3, 5.0]))  # 0.11

``clmse.torch`` (when torch is installed) has ``mse_loss`` and ``MSELoss`` with autograd.
A loss over shards on several devices or processes: ``mse_partial`` per shard (with
``mean_count``, the global element count), then ``fold_partials`` or the integer
``Partial.encode`` / ``Partial.decode``, and ``Partial.round``.
"""
from ._api import mse_loss, mse_loss_backward, mse_loss_fused, mse_partial
from ._context import Context, DeviceInfo, default_context
from ._errors import DeviceError, Error, InvalidInputError
from ._lib import PARTIAL_WORDS
from ._lib import lib as _lib_handle
from ._lib import path as library_path
from ._partial import Partial, fold_partials

__version__ = "0.3.0"
#: The version of the libclmse actually loaded.
library_version = _lib_handle.clmse_version().decode()

__all__ = ["mse_loss", "mse_loss_backward", "mse_loss_fused", "mse_partial", "Partial",
           "fold_partials", "PARTIAL_WORDS", "Context", "DeviceInfo", "default_context", "Error",
           "InvalidInputError", "DeviceError", "library_path", "library_version"]
