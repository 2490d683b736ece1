# SPDX-License-Identifier: MIT
"""clmse.Error and its two kinds: bad input (ValueError) and the rest (RuntimeError)."""
from ._lib import lib

#: Names of the status codes, as in include/clmse.h's CLMSE_STATUS_MAP (a test compares them).
STATUS_NAMES = {
    0: "SUCCESS",
    100: "ERROR_INVALID_ARGUMENT",
    101: "ERROR_INVALID_HANDLE",
    102: "ERROR_INVALID_REDUCTION",
    103: "ERROR_BUFFER_TOO_SMALL",
    104: "ERROR_SIZE_OVERFLOW",
    105: "ERROR_UNSUPPORTED_DTYPE",
    106: "ERROR_INVALID_DEVICE_SPEC",
    107: "ERROR_INVALID_DTYPE",
    108: "ERROR_SHAPE_MISMATCH",
    109: "ERROR_INVALID_LAYOUT",
    110: "ERROR_INVALID_PLAN",
    200: "ERROR_NO_PLATFORM",
    201: "ERROR_NO_DEVICE",
    202: "ERROR_OUT_OF_HOST_MEMORY",
    203: "ERROR_OUT_OF_DEVICE_MEMORY",
    204: "ERROR_IO",
    300: "ERROR_OPENCL",
    301: "ERROR_BUILD_FAILED",
    302: "ERROR_UNSUPPORTED_DEVICE",
    900: "ERROR_INTERNAL",
}
# The codes the binding raises itself, for input the library never sees.
INVALID_ARGUMENT = 100
INVALID_REDUCTION = 102
INVALID_DTYPE = 107
INVALID_LAYOUT = 109


class Error(Exception):
    """A failed clmse call.

    Attributes: ``status`` (the clmse_status code), ``name`` (its name without the CLMSE_
    prefix, e.g. ``"ERROR_SHAPE_MISMATCH"``), ``message`` (the library's own explanation, from
    clmse_context_last_error).
    """

    def __init__(self, status, message):
        self.status = status
        self.name = STATUS_NAMES.get(status, f"status {status}")
        self.message = message
        text = lib.clmse_status_string(status).decode()
        super().__init__(f"{self.name} ({text}): {message}" if message else
                         f"{self.name} ({text})")


class InvalidInputError(Error, ValueError):
    """The caller's mistake: a 1xx status (bad shape, dtype, layout, reduction, argument)."""


class DeviceError(Error, RuntimeError):
    """The environment, OpenCL or the library failed: a 2xx, 3xx or 9xx status."""


def make_error(status, message):
    """The Error subclass for `status`, carrying `message`."""
    cls = InvalidInputError if 100 <= status < 200 else DeviceError
    return cls(status, message)


def check(status, handle):
    """Raises the Error for a failed call; `handle` is the context it ran on (None: the
    calling thread's slot). The message is read at once, before another call replaces it."""
    if status != 0:
        raise make_error(status, lib.clmse_context_last_error(handle).decode(errors="replace"))
