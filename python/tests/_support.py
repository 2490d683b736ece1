# SPDX-License-Identifier: MIT
"""Helpers shared by the suites."""
import importlib
import os

import pytest


def require(module):
    """Imports `module`; without it the calling test (or module) is skipped, except under CI
    (CI=true), where a missing package must fail instead of passing as a skip."""
    try:
        return importlib.import_module(module)
    except ImportError as e:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{module} is missing under CI: {e}", pytrace=False)
        pytest.skip(f"{module} is not installed", allow_module_level=True)


def ulps(a, b, dtype):
    """Distance in representable values of numpy `dtype` between two finite scalars."""
    import numpy as np
    ints = {np.float16: np.int16, np.float32: np.int32, np.float64: np.int64}[dtype]
    ia, ib = (int(np.array(v, dtype).view(ints)) for v in (a, b))
    # Map the sign-magnitude encoding onto a monotonic line.
    bits = np.dtype(ints).itemsize * 8
    fix = lambda i: i if i >= 0 else -(i & ((1 << (bits - 1)) - 1))  # noqa: E731
    return abs(fix(ia) - fix(ib))
