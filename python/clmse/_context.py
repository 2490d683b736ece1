# SPDX-License-Identifier: MIT
"""clmse.Context: a device, its queue and its compiled programs; the default context."""
import dataclasses
import threading
import weakref
from ctypes import byref, c_void_p

from . import _errors
from ._lib import ContextOptions, DeviceInfoStruct, lib

_ACCUMULATIONS = {"auto": 0, "double": 1, "compensated": 2}
_DEVICE_TYPES = ((1 << 2, "gpu"), (1 << 1, "cpu"), (1 << 3, "accelerator"), (1 << 0, "default"))
_CL_QUEUE_OUT_OF_ORDER = 1 << 0


@dataclasses.dataclass(frozen=True)
class DeviceInfo:
    """What clmse knows about a context's device (clmse_device_info)."""
    platform_index: int
    device_index: int
    platform_name: str
    name: str
    vendor: str
    version: str
    opencl_c_version: str
    driver_version: str
    type: str  # "gpu", "cpu", "accelerator" or "default"
    compute_units: int
    max_work_group_size: int
    global_mem_size: int
    local_mem_size: int
    has_fp64: bool
    has_fp16: bool

    @classmethod
    def _from_struct(cls, s):
        kind = next((name for bit, name in _DEVICE_TYPES if s.type & bit), "default")
        return cls(s.platform_index, s.device_index, s.platform_name.decode(), s.name.decode(),
                   s.vendor.decode(), s.version.decode(), s.opencl_c_version.decode(),
                   s.driver_version.decode(), kind, s.compute_units, s.max_work_group_size,
                   s.global_mem_size, s.local_mem_size, bool(s.has_fp64), bool(s.has_fp16))


class Context:
    """A clmse context: one device, one queue, the programs built for it.

    ``Context(device=None)`` picks a device as ``clmse_context_create`` does: ``device`` is a
    spec ("gpu", "cpu", "P:D" or a name substring); None means ``$CLMSE_DEVICE``, else the
    first GPU, else any device. ``accumulation`` ("auto", "double" or "compensated") is how
    float32 sums accumulate. ``Context.from_pyopencl(queue)`` adopts a pyopencl queue instead.
    A context is released when it is garbage-collected, or at once by ``close()``.
    """

    def __init__(self, device=None, *, accumulation="auto"):
        if accumulation not in _ACCUMULATIONS:
            raise _errors.make_error(_errors.INVALID_ARGUMENT,
                                     f"accumulation {accumulation!r} is not one of "
                                     f"{', '.join(map(repr, _ACCUMULATIONS))}")
        options = ContextOptions(device=device.encode() if device else None,
                                 accumulation=_ACCUMULATIONS[accumulation])
        handle = c_void_p()
        _errors.check(lib.clmse_context_create(byref(options), byref(handle)), None)
        self._adopt(handle, queue=None)

    @classmethod
    def from_pyopencl(cls, queue):
        """A context on a pyopencl CommandQueue's context, device and queue (retained by the
        library, never duplicated). Calls with pyopencl arrays of this queue run on it."""
        self = cls.__new__(cls)
        handle = c_void_p()
        _errors.check(lib.clmse_context_create_from_cl(
            queue.context.int_ptr, queue.device.int_ptr, queue.int_ptr, None, byref(handle)),
            None)
        self._adopt(handle, queue)
        return self

    def _adopt(self, handle, queue):
        self._handle = handle.value
        self._queue = queue  # the pyopencl queue adopted, or None
        self._info = None
        self._finalizer = weakref.finalize(self, lib.clmse_context_release, self._handle)
        self.out_of_order = bool(
            queue is not None and
            queue.properties & _CL_QUEUE_OUT_OF_ORDER)

    @property
    def handle(self):
        """The clmse_context pointer, as an int (for ctypes callers)."""
        if not self._finalizer.alive:
            raise _errors.make_error(101, "this clmse.Context was closed")
        return self._handle

    @property
    def device(self):
        """The device's DeviceInfo."""
        if self._info is None:
            s = DeviceInfoStruct()
            _errors.check(lib.clmse_context_device_info(self.handle, byref(s)), self._handle)
            self._info = DeviceInfo._from_struct(s)
        return self._info

    @property
    def accumulation(self):
        """How float32 sums accumulate here: "double" or "compensated"."""
        value = lib.clmse_context_accumulation(self.handle)
        return next(k for k, v in _ACCUMULATIONS.items() if v == value)

    @property
    def pyopencl_queue(self):
        """The pyopencl queue adopted by from_pyopencl(), else None."""
        return self._queue

    def close(self):
        """Releases the context now; later calls on it raise clmse.Error."""
        self._finalizer()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __repr__(self):
        if not self._finalizer.alive:
            return "<clmse.Context (closed)>"
        d = self.device
        return f"<clmse.Context {d.platform_index}:{d.device_index} {d.name!r}>"


_default = None
_default_lock = threading.Lock()


def default_context():
    """The context made on first use (``$CLMSE_DEVICE`` chooses the device)."""
    global _default
    if _default is None:
        with _default_lock:
            if _default is None:
                _default = Context()
    return _default


# pyopencl queue -> its adopted Context. The entry keeps the queue alive, so its int_ptr cannot
# be reused by another queue; the oldest entries go once there are many.
_queue_contexts = {}
_queue_lock = threading.Lock()
_QUEUE_CONTEXTS_MAX = 16


def context_for_queue(queue):
    """The Context adopting `queue`, made on first use."""
    key = queue.int_ptr
    entry = _queue_contexts.get(key)
    if entry is not None:
        return entry[1]
    with _queue_lock:
        entry = _queue_contexts.get(key)
        if entry is None:
            entry = (queue, Context.from_pyopencl(queue))
            while len(_queue_contexts) >= _QUEUE_CONTEXTS_MAX:
                del _queue_contexts[next(iter(_queue_contexts))]
            _queue_contexts[key] = entry
    return entry[1]
