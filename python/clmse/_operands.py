# SPDX-License-Identifier: MIT
"""Operands: what kind each array is (numpy, torch CPU, pyopencl), its clmse dtype, and its
description as a clmse_host_tensor (host memory) or a clmse_tensor (a device buffer)."""
import sys
from ctypes import pointer

from . import _errors
from ._lib import MAX_NDIM, HostTensor, Tensor

F32, F64, F16, BF16 = 0, 1, 2, 3
DTYPE_NAMES = {F32: "float32", F64: "float64", F16: "float16", BF16: "bfloat16"}
_NON_FLOAT = {"int8": 10, "int16": 11, "int32": 12, "int64": 13, "uint8": 14, "bool": 15,
              "complex64": 20, "complex128": 21}
_BY_NAME = dict({v: k for k, v in DTYPE_NAMES.items()}, **_NON_FLOAT)

# torch's promotion of two floating dtypes (clmse_promote_dtypes, without a ctypes call).
PROMOTE = {}
for _a, _b, _c in ((F32, F32, F32), (F64, F64, F64), (F16, F16, F16), (BF16, BF16, BF16),
                   (F32, F64, F64), (F32, F16, F32), (F32, BF16, F32), (F64, F16, F64),
                   (F64, BF16, F64), (F16, BF16, F32)):
    PROMOTE[_a, _b] = PROMOTE[_b, _a] = _c

NUMPY, TORCH, PYOPENCL = "numpy", "torch", "pyopencl"


_KIND_BY_TYPE = {}


def kind_of(a):
    """NUMPY, TORCH or PYOPENCL; None for anything else. Never imports a framework."""
    t = type(a)
    kind = _KIND_BY_TYPE.get(t, False)
    if kind is not False:
        return kind
    np = sys.modules.get("numpy")
    torch = sys.modules.get("torch")
    cla = sys.modules.get("pyopencl.array")
    if np is not None and isinstance(a, np.ndarray):
        kind = NUMPY
    elif torch is not None and isinstance(a, torch.Tensor):
        kind = TORCH
    elif cla is not None and isinstance(a, cla.Array):
        kind = PYOPENCL
    else:
        return None  # not cached: the framework may be imported later
    _KIND_BY_TYPE[t] = kind
    return kind


def _fail(status, message):
    raise _errors.make_error(status, message)


_CODE_BY_DTYPE = {}  # numpy or torch dtype object -> clmse_dtype, filled on first sight


def dtype_code(a, kind, what):
    """The clmse_dtype of a's elements."""
    code = _CODE_BY_DTYPE.get(a.dtype)
    if code is not None:
        return code
    name = str(a.dtype)[6:] if kind == TORCH else a.dtype.name  # "torch.float32" -> "float32"
    code = _BY_NAME.get(name)
    if code is None:
        _fail(_errors.INVALID_DTYPE, f"{what} has dtype {name}, which clmse cannot describe; "
              "use float16, bfloat16 (torch), float32 or float64")
    if kind == TORCH or a.dtype.byteorder != ">":
        _CODE_BY_DTYPE[a.dtype] = code
    return code


def _check_rank(shape, what):
    if len(shape) > MAX_NDIM:
        _fail(_errors.INVALID_LAYOUT, f"{what} has rank {len(shape)}; clmse takes up to "
              f"{MAX_NDIM} dimensions")


def host_tensor(a, kind, code, what):
    """(clmse_host_tensor, the object that owns its memory). Numpy views that clmse cannot
    describe (negative strides, strides that are not whole elements) are copied first."""
    shape = tuple(a.shape)
    _check_rank(shape, what)
    if kind == TORCH:
        if a.device.type != "cpu":
            _fail(_errors.INVALID_ARGUMENT, f"{what} is on {a.device}; clmse takes torch "
                  "tensors on the CPU (and pyopencl arrays on devices)")
        if a.is_neg() or a.is_conj():
            a = a.resolve_neg().resolve_conj()
        strides, data = a.stride(), a.data_ptr()
    else:
        size = a.itemsize
        if a.dtype.byteorder == ">" or any(s < 0 or s % size for s in a.strides):
            # Copied: big-endian data (clmse reads native little-endian), negative strides,
            # strides that are not whole elements.
            a = sys.modules["numpy"].ascontiguousarray(a, dtype=a.dtype.newbyteorder("="))
        strides = tuple(s // size for s in a.strides)
        data = a.__array_interface__["data"][0]
    t = HostTensor(data, code, len(shape))
    t.shape[:len(shape)] = shape
    t.strides[:len(shape)] = strides
    return t, a


def device_tensor(a, code, what):
    """A pointer to the clmse_tensor of a pyopencl Array, in place: its buffer, offset and
    strides. The description is kept on the array (pyopencl arrays rarely change their layout,
    and a call on small arrays costs little more than describing them), and remade whenever
    the buffer, offset, shape, strides or dtype differ."""
    key = (a.base_data, a.offset, a.shape, a.strides, a.dtype)
    cached = a.__dict__.get("_clmse_tensor")
    if cached is not None and cached[0] == key:
        return cached[1]
    shape = a.shape
    _check_rank(shape, what)
    size = a.dtype.itemsize
    offset, strides = a.offset, a.strides
    if a.dtype.byteorder == ">":
        _fail(_errors.INVALID_DTYPE, f"{what} is big-endian; clmse reads native-endian data")
    if offset % size or any(s < 0 or s % size for s in strides):
        _fail(_errors.INVALID_LAYOUT, f"{what}: offset {offset} and strides {strides} (bytes) "
              f"must be non-negative multiples of its element size {size}; clmse does not "
              "copy pyopencl arrays")
    base = a.base_data
    t = Tensor(base.int_ptr if base is not None else None, offset // size, code, len(shape))
    t.shape[:len(shape)] = shape
    t.strides[:len(shape)] = [s // size for s in strides]
    ptr = pointer(t)
    a.__dict__["_clmse_tensor"] = (key, ptr)
    return ptr


def new_host(kind, shape, code):
    """An uninitialised result of the kind."""
    if kind == TORCH:
        torch = sys.modules["torch"]
        return torch.empty(shape, dtype=getattr(torch, DTYPE_NAMES[code]))
    np = sys.modules["numpy"]
    return np.empty(shape, dtype=DTYPE_NAMES[code])


def convert_host(g, kind, code, what):
    """grad_output as an array of the kind and dtype `code` (numbers and other dtypes are
    converted, since they are host data anyway)."""
    if kind == TORCH:
        torch = sys.modules["torch"]
        dtype = getattr(torch, DTYPE_NAMES[code])
        if not isinstance(g, torch.Tensor):
            return torch.tensor(g, dtype=dtype)
        return g if g.dtype == dtype else g.to(dtype)
    np = sys.modules["numpy"]
    if code == BF16:
        _fail(_errors.INVALID_DTYPE, f"{what}: numpy has no bfloat16")
    return np.asarray(g, dtype=DTYPE_NAMES[code])
