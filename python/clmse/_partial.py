# SPDX-License-Identifier: MIT
"""clmse.Partial: one shard's unrounded loss (clmse_partial), with its fold, rounding and
integer encoding, for losses spread over several devices or processes."""
import ctypes
import sys
from ctypes import byref, c_int64, sizeof

from . import _errors
from . import _operands as ops
from ._lib import PARTIAL_INF, PARTIAL_NAN, PARTIAL_WORDS, PartialStruct, lib

SIZE = sizeof(PartialStruct)  # 32
_FLAG_NAMES = ((PARTIAL_NAN, "NAN"), (PARTIAL_INF, "INF"))
_ROUND_DTYPES = {"float32": ops.F32, "float64": ops.F64, "float16": ops.F16,
                 "bfloat16": ops.BF16}


class Partial:
    """A shard's sum of squared differences, not yet rounded (clmse_partial): the value is
    ``(sum + sum_low) * 2**exponent`` over ``count`` elements, unless ``flags`` (NaN, Inf)
    decide the loss. Immutable; equal when their 32 bytes are.

    ``mse_partial`` makes one per shard; ``fold_partials`` folds them in index order (the same
    bits on every host), ``encode`` / ``decode`` carry them through an order-free integer sum
    (``torch.distributed.all_reduce`` on int64), and ``round`` gives the loss. ``to_bytes`` /
    ``from_bytes`` (32 bytes, native byte order) and pickling send one between processes.
    ``Partial()`` is the empty partial: a sum of 0 over 0 elements.
    """

    __slots__ = ("_s",)

    def __init__(self, *, sum=0.0, sum_low=0.0, count=0, flags=0, exponent=0):
        self._s = PartialStruct(sum, sum_low, count, flags, exponent)

    @classmethod
    def _wrap(cls, struct):
        self = cls.__new__(cls)
        self._s = struct
        return self

    sum = property(lambda self: self._s.sum, doc="The leading double of the compensated pair.")
    sum_low = property(lambda self: self._s.sum_low,
                       doc="The rounding errors of sum (the pair's low part).")
    count = property(lambda self: self._s.count, doc="Elements summed (after broadcasting).")
    flags = property(lambda self: self._s.flags,
                     doc="1: a term was NaN; 2: a term was +Inf; 0: the value decides.")
    exponent = property(lambda self: self._s.exponent,
                        doc="0, or 64 once a float64 sum would have overflowed a double.")

    def to_bytes(self):
        """The 32 bytes of the clmse_partial (native byte order)."""
        return bytes(self._s)

    @classmethod
    def from_bytes(cls, data):
        """The Partial of 32 bytes from ``to_bytes`` (any bytes-like object)."""
        data = bytes(memoryview(data).cast("B"))
        if len(data) != SIZE:
            raise _errors.make_error(_errors.INVALID_ARGUMENT,
                                     f"a clmse_partial is {SIZE} bytes; got {len(data)}")
        return cls._wrap(PartialStruct.from_buffer_copy(data))

    def encode(self):
        """The partial as a numpy int64 array of CLMSE_PARTIAL_WORDS (73) words whose
        element-wise integer sum over shards, in any order, encodes their exact sum."""
        np = _numpy()
        words = np.empty(PARTIAL_WORDS, np.int64)
        _errors.check(lib.clmse_partial_encode(
            byref(self._s), words.ctypes.data_as(ctypes.POINTER(c_int64))), None)
        return words

    @classmethod
    def decode(cls, words):
        """The Partial that a (summed) encoding stands for: ``words`` is any int64 array-like
        of CLMSE_PARTIAL_WORDS elements (a numpy array, a list, a CPU torch tensor)."""
        np = _numpy()
        if ops.kind_of(words) == ops.TORCH:
            words = words.detach().cpu().numpy()
        a = np.asarray(words)
        if a.dtype.kind != "i" or a.dtype.itemsize != 8:  # narrower words would have wrapped
            raise _errors.make_error(_errors.INVALID_DTYPE,
                                     f"encoded partial words must be int64; got {a.dtype}")
        if a.shape != (PARTIAL_WORDS,):
            raise _errors.make_error(_errors.INVALID_ARGUMENT,
                                     f"an encoded partial is {PARTIAL_WORDS} words (shape "
                                     f"({PARTIAL_WORDS},)); got shape {a.shape}")
        a = np.ascontiguousarray(a, dtype=np.dtype(np.int64).newbyteorder("="))
        out = PartialStruct()
        _errors.check(lib.clmse_partial_decode(a.ctypes.data_as(ctypes.POINTER(c_int64)),
                                               byref(out)), None)
        return cls._wrap(out)

    def round(self, reduction="mean", dtype="float32"):
        """The loss, rounded once: ``mean`` divides by count (NaN for 0 elements), ``sum``
        takes the value. ``dtype``: float16, float32 or float64 (a numpy dtype or its name)
        give a numpy scalar of that dtype; a torch dtype (float16, bfloat16, float32, float64)
        gives a 0-d torch tensor. Within 1 ulp of one call's loss over all the elements."""
        from ._api import reduction_code
        red = reduction_code(reduction)
        torch = sys.modules.get("torch")
        if torch is not None and isinstance(dtype, torch.dtype):
            code = _ROUND_DTYPES.get(str(dtype)[6:])
            if code is None:
                raise _errors.make_error(_errors.INVALID_DTYPE,
                                         f"a loss rounds to a floating dtype; got {dtype}")
            out = torch.empty((), dtype=dtype)
            _errors.check(lib.clmse_partial_round(byref(self._s), red, code, out.data_ptr()),
                          None)
            return out
        np = _numpy()
        if dtype == "bfloat16":
            raise _errors.make_error(_errors.INVALID_DTYPE,
                                     "numpy has no bfloat16: pass torch.bfloat16")
        try:
            dt = np.dtype(dtype)
        except TypeError:
            dt = None
        code = _ROUND_DTYPES.get(dt.name) if dt is not None and dt.kind == "f" else None
        if code is None or dt.byteorder == ">":
            raise _errors.make_error(_errors.INVALID_DTYPE, "a loss rounds to float16, "
                                     f"float32 or float64 (or a torch dtype); got {dtype!r}")
        out = np.empty((), dt)
        _errors.check(lib.clmse_partial_round(byref(self._s), red, code, out.ctypes.data),
                      None)
        return out[()]

    def __eq__(self, other):
        if not isinstance(other, Partial):
            return NotImplemented
        return bytes(self._s) == bytes(other._s)

    def __hash__(self):
        return hash(bytes(self._s))

    def __reduce__(self):
        return (Partial.from_bytes, (bytes(self._s),))

    def __repr__(self):
        s = self._s
        names = [n for bit, n in _FLAG_NAMES if s.flags & bit]
        unknown = s.flags & ~(PARTIAL_NAN | PARTIAL_INF)
        if unknown:
            names.append(hex(unknown))
        flags = "|".join(names) if names else "0"
        exp = f", exponent={s.exponent}" if s.exponent else ""
        return (f"clmse.Partial(sum={s.sum!r}, sum_low={s.sum_low!r}, count={s.count}, "
                f"flags={flags}{exp})")


def fold_partials(partials):
    """Folds Partials in index order (clmse_partial_fold): counts add, flags combine, values
    add as compensated pairs. The same sequence gives the same bits on every host; an empty
    one gives the empty partial."""
    items = list(partials)
    bad = [type(p).__name__ for p in items if not isinstance(p, Partial)]
    if bad:
        raise TypeError(f"clmse.fold_partials takes clmse.Partial objects; got {bad[0]}")
    array = (PartialStruct * max(len(items), 1))(*(p._s for p in items))
    out = PartialStruct()
    _errors.check(lib.clmse_partial_fold(array, len(items), byref(out)), None)
    return Partial._wrap(out)


def _numpy():
    import numpy
    return numpy
