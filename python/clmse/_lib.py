# SPDX-License-Identifier: MIT
"""Loading libclmse.so.0 through ctypes: lookup, version and struct-size checks, prototypes.

Lookup order: ``$CLMSE_LIBRARY``; then the path recorded at install time (``_libpath.py``,
written by CMake's install of the package, relative to the package so an installed tree can
move); then the soname ``libclmse.so.0`` through the dynamic loader's own search.
"""
import ctypes
import os
from ctypes import (POINTER, Structure, c_char, c_char_p, c_double, c_int, c_int32, c_int64,
                    c_size_t, c_uint, c_uint32, c_uint64, c_void_p)

SONAME = "libclmse.so.0"
#: The library version this package is written for. Before 1.0, a minor release may change
#: the ABI (include/clmse.h, "Versioning"), so major and minor must both match.
ABI_VERSION = (0, 3)
MAX_NDIM = 8
INFO_STRING = 256


class DeviceInfoStruct(Structure):
    """Mirror of clmse_device_info."""
    _fields_ = [("platform_index", c_uint), ("device_index", c_uint),
                ("platform_name", c_char * INFO_STRING), ("name", c_char * INFO_STRING),
                ("vendor", c_char * INFO_STRING), ("version", c_char * INFO_STRING),
                ("opencl_c_version", c_char * INFO_STRING),
                ("driver_version", c_char * INFO_STRING), ("type", c_uint64),
                ("compute_units", c_uint32), ("max_work_group_size", c_size_t),
                ("global_mem_size", c_uint64), ("local_mem_size", c_uint64),
                ("has_fp64", c_int), ("has_fp16", c_int)]


class ContextOptions(Structure):
    """Mirror of clmse_context_options."""
    _fields_ = [("device", c_char_p), ("accumulation", c_int), ("tuning_file", c_char_p)]


class Tensor(Structure):
    """Mirror of clmse_tensor: a strided view of a cl_mem."""
    _fields_ = [("buffer", c_void_p), ("offset", c_size_t), ("dtype", c_int), ("ndim", c_uint32),
                ("shape", c_size_t * MAX_NDIM), ("strides", c_int64 * MAX_NDIM)]


class MseArgs(Structure):
    """Mirror of clmse_mse_args."""
    _fields_ = [("reduction", c_int), ("flags", c_uint), ("input", POINTER(Tensor)),
                ("target", POINTER(Tensor)), ("output", POINTER(Tensor)),
                ("grad_output", POINTER(Tensor)), ("grad_input", POINTER(Tensor)),
                ("grad_target", POINTER(Tensor)), ("mean_count", c_size_t)]


class HostTensor(Structure):
    """Mirror of clmse_host_tensor: a strided view of host memory."""
    _fields_ = [("data", c_void_p), ("dtype", c_int), ("ndim", c_uint32),
                ("shape", c_size_t * MAX_NDIM), ("strides", c_int64 * MAX_NDIM)]


class HostMseArgs(Structure):
    """Mirror of clmse_host_mse_args."""
    _fields_ = [("reduction", c_int), ("flags", c_uint), ("input", POINTER(HostTensor)),
                ("target", POINTER(HostTensor)), ("output", POINTER(HostTensor)),
                ("grad_output", POINTER(HostTensor)), ("grad_input", POINTER(HostTensor)),
                ("grad_target", POINTER(HostTensor)), ("mean_count", c_size_t)]


class PartialStruct(Structure):
    """Mirror of clmse_partial: a shard's unrounded sum (32 bytes on every platform)."""
    _fields_ = [("sum", c_double), ("sum_low", c_double), ("count", c_uint64),
                ("flags", c_uint32), ("exponent", c_int32)]


#: Flags of clmse_mse_args (and clmse_host_mse_args) and of clmse_partial.
MEAN_COUNT = 2
PARTIAL_NAN, PARTIAL_INF = 1, 2
#: int64 words of an encoded partial (CLMSE_PARTIAL_WORDS).
PARTIAL_WORDS = 73

#: C struct name -> its mirror; each size is compared with clmse_struct_size() at load.
MIRRORS = {"clmse_device_info": DeviceInfoStruct, "clmse_context_options": ContextOptions,
           "clmse_tensor": Tensor, "clmse_mse_args": MseArgs, "clmse_host_tensor": HostTensor,
           "clmse_host_mse_args": HostMseArgs, "clmse_partial": PartialStruct}

_PROTOTYPES = {
    # name: (restype, argtypes)
    "clmse_version": (c_char_p, []),
    "clmse_version_number": (c_uint, []),
    "clmse_status_string": (c_char_p, [c_int]),
    "clmse_struct_size": (c_size_t, [c_char_p]),
    "clmse_context_create": (c_int, [POINTER(ContextOptions), POINTER(c_void_p)]),
    "clmse_context_create_from_cl": (c_int, [c_void_p, c_void_p, c_void_p,
                                             POINTER(ContextOptions), POINTER(c_void_p)]),
    "clmse_context_release": (None, [c_void_p]),
    "clmse_context_device_info": (c_int, [c_void_p, POINTER(DeviceInfoStruct)]),
    "clmse_context_get_cl": (c_int, [c_void_p, POINTER(c_void_p), POINTER(c_void_p),
                                     POINTER(c_void_p)]),
    "clmse_context_accumulation": (c_int, [c_void_p]),
    "clmse_context_last_error": (c_char_p, [c_void_p]),
    "clmse_promote_dtypes": (c_int, [c_int, c_int, POINTER(c_int)]),
    "clmse_broadcast_shapes": (c_int, [c_uint32, POINTER(c_size_t), c_uint32, POINTER(c_size_t),
                                       POINTER(c_uint32), POINTER(c_size_t)]),
    "clmse_legacy_reduction": (c_int, [c_int, c_int, c_int, POINTER(c_int)]),
    "clmse_mse": (c_int, [c_void_p, POINTER(MseArgs), c_uint, POINTER(c_void_p),
                          POINTER(c_void_p)]),
    "clmse_host_mse": (c_int, [c_void_p, POINTER(HostMseArgs)]),
    "clmse_mse_partial": (c_int, [c_void_p, POINTER(MseArgs), POINTER(PartialStruct), c_uint,
                                  POINTER(c_void_p)]),
    "clmse_host_mse_partial": (c_int, [c_void_p, POINTER(HostMseArgs),
                                       POINTER(PartialStruct)]),
    "clmse_partial_fold": (c_int, [POINTER(PartialStruct), c_size_t, POINTER(PartialStruct)]),
    "clmse_partial_round": (c_int, [POINTER(PartialStruct), c_int, c_int, c_void_p]),
    "clmse_partial_encode": (c_int, [POINTER(PartialStruct), POINTER(c_int64)]),
    "clmse_partial_decode": (c_int, [POINTER(c_int64), POINTER(PartialStruct)]),
    "clmse_mse_forward_f32": (c_int, [c_void_p, c_int, c_size_t, c_void_p, c_size_t, c_void_p,
                                      c_size_t, c_void_p, c_size_t, c_uint, POINTER(c_void_p),
                                      POINTER(c_void_p)]),
}


def _recorded_path():
    """The library path CMake recorded when it installed the package, or None."""
    try:
        from . import _libpath
    except ImportError:  # a source tree or a pip install: nothing was recorded
        return None
    path = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                         _libpath.LIBRARY))
    return path if os.path.exists(path) else None


def candidates():
    """The names tried, in order, with where each came from."""
    found = []
    env = os.environ.get("CLMSE_LIBRARY")
    if env:
        found.append(("$CLMSE_LIBRARY", env))
    recorded = _recorded_path()
    if recorded:
        found.append(("install-time path", recorded))
    found.append(("soname", SONAME))
    return found


def _open():
    tried = []
    for origin, name in candidates():
        try:
            return ctypes.CDLL(name), name
        except OSError as e:
            if origin == "$CLMSE_LIBRARY":  # an explicit choice must not fall through silently
                raise ImportError(f"clmse: CLMSE_LIBRARY={name} cannot be loaded: {e}") from e
            tried.append(f"{name} ({origin}): {e}")
    raise ImportError("clmse: libclmse.so.0 not found; tried " + "; ".join(tried) +
                      ". Install the clmse library or set CLMSE_LIBRARY to its path.")


def _check(lib, path):
    lib.clmse_version_number.restype = c_uint
    number = lib.clmse_version_number()
    have = (number // 10000, number // 100 % 100)
    if have != ABI_VERSION:
        raise ImportError(f"clmse: {path} is version {have[0]}.{have[1]}.{number % 100}; this "
                          f"package needs {ABI_VERSION[0]}.{ABI_VERSION[1]}.x")
    if not hasattr(lib, "clmse_struct_size"):
        raise ImportError(f"clmse: {path} has no clmse_struct_size(); it is older than this "
                          "package")
    lib.clmse_struct_size.restype = c_size_t
    lib.clmse_struct_size.argtypes = [c_char_p]
    for name, mirror in MIRRORS.items():
        size = lib.clmse_struct_size(name.encode())
        if size != ctypes.sizeof(mirror):
            raise ImportError(f"clmse: {path} says sizeof({name}) is {size}; this package's "
                              f"mirror has {ctypes.sizeof(mirror)}: the library and the "
                              "package do not match")


def load():
    """Opens, checks and declares the library; returns (the CDLL, the path or name loaded)."""
    lib, path = _open()
    _check(lib, path)
    for name, (restype, argtypes) in _PROTOTYPES.items():
        fn = getattr(lib, name)
        fn.restype = restype
        fn.argtypes = argtypes
    return lib, path


lib, path = load()
