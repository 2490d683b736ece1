# SPDX-License-Identifier: MIT
"""Error mapping (status, name, library message; ValueError or RuntimeError), the status
table against the header, and the library lookup and load-time checks."""
import ctypes
import os
import re
import subprocess
import sys
import types

import pytest
from _support import require

np = require("numpy")
import clmse  # noqa: E402
from clmse import _errors, _lib  # noqa: E402


def test_status_names_match_header(root):
    header = (root / "include/clmse.h").read_text()
    pairs = re.findall(r"X\((\w+), (\d+), \"", header)
    assert pairs, "CLMSE_STATUS_MAP not found"
    assert {int(v): n for n, v in pairs} == _errors.STATUS_NAMES


def test_bad_input_is_value_error():
    with pytest.raises(clmse.InvalidInputError) as e, pytest.warns(UserWarning):
        clmse.mse_loss(np.zeros((2, 3), np.float32), np.zeros((3, 2), np.float32))
    err = e.value
    assert isinstance(err, ValueError) and isinstance(err, clmse.Error)
    assert (err.status, err.name) == (108, "ERROR_SHAPE_MISMATCH")
    assert "(2,3)" in err.message.replace(" ", "") and "(3,2)" in err.message.replace(" ", "")
    assert str(err).startswith("ERROR_SHAPE_MISMATCH (shapes do not broadcast")


@pytest.mark.parametrize("x,y,name", [
    (np.zeros(3, np.int32), np.zeros(3, np.int32), "ERROR_INVALID_DTYPE"),
    (np.zeros(3, np.float32), np.zeros(3, np.complex64), "ERROR_INVALID_DTYPE"),
    (np.zeros(3, np.uint16), np.zeros(3, np.float32), "ERROR_INVALID_DTYPE"),
    (np.zeros((1,) * 9, np.float32), np.zeros((1,) * 9, np.float32), "ERROR_INVALID_LAYOUT"),
])
def test_library_and_binding_refusals(x, y, name):
    with pytest.raises(clmse.InvalidInputError) as e:
        clmse.mse_loss(x, y)
    assert e.value.name == name and e.value.message


def test_grad_arguments():
    x = np.ones(3, np.float32)
    with pytest.raises(ValueError, match="wrt names"):
        clmse.mse_loss_backward(x, x, wrt=("weights",))
    with pytest.raises(ValueError, match="nothing to compute"):
        clmse.mse_loss_backward(x, x, wrt=())
    with pytest.raises(clmse.InvalidInputError, match="grad_output has shape"):
        clmse.mse_loss_backward(x, x, np.ones(2, np.float32), "none")
    assert clmse.mse_loss_backward(x, x, wrt="target")[0].shape == (3,)


def test_device_errors_are_runtime_errors():
    with pytest.raises(clmse.DeviceError) as e:
        clmse.Context(device="no device is called this")
    assert isinstance(e.value, RuntimeError) and e.value.name == "ERROR_NO_DEVICE"
    assert "matches no device" in e.value.message
    with pytest.raises(clmse.InvalidInputError) as e:
        clmse.Context(device="abc:1")
    assert e.value.name == "ERROR_INVALID_DEVICE_SPEC"


def test_context_lifetime():
    ctx = clmse.Context(os.environ.get("CLMSE_DEVICE"))
    assert ctx.device.name and ctx.accumulation in ("double", "compensated")
    x = np.float32([1, 2])
    assert clmse.mse_loss(x, x, context=ctx) == 0
    ctx.close()
    with pytest.raises(clmse.InvalidInputError, match="closed"):
        clmse.mse_loss(x, x, context=ctx)
    assert "closed" in repr(ctx)
    with pytest.raises(ValueError, match="accumulation"):
        clmse.Context(accumulation="kahan")


def _fake(version=300, sizes=None):
    """A stand-in for the loaded CDLL with the two functions _check reads."""
    class Fake:
        def __init__(self):
            self.clmse_version_number = _Fn(lambda: version)
            self.clmse_struct_size = _Fn(lambda name: (sizes or {}).get(
                name.decode(), ctypes.sizeof(_lib.MIRRORS[name.decode()])))
    return Fake()


class _Fn:
    """A callable that accepts ctypes' restype/argtypes attributes."""

    def __init__(self, f):
        self.f = f

    def __call__(self, *a):
        return self.f(*a)


def test_load_checks():
    _lib._check(_fake(), "fake")  # a matching library passes
    with pytest.raises(ImportError, match=r"version 0\.4\.0; this package needs 0\.3\.x"):
        _lib._check(_fake(version=400), "fake")
    with pytest.raises(ImportError, match=r"sizeof\(clmse_tensor\) is 8"):
        _lib._check(_fake(sizes={"clmse_tensor": 8}), "fake")


def test_lookup_order(monkeypatch, tmp_path):
    lib = tmp_path / "libclmse.so.0"
    lib.write_bytes(b"")
    recorded = types.ModuleType("clmse._libpath")
    recorded.LIBRARY = os.path.relpath(lib, os.path.dirname(_lib.__file__))
    monkeypatch.setitem(sys.modules, "clmse._libpath", recorded)
    monkeypatch.setenv("CLMSE_LIBRARY", "/from/env/libclmse.so.0")
    assert _lib.candidates() == [("$CLMSE_LIBRARY", "/from/env/libclmse.so.0"),
                                 ("install-time path", str(lib)), ("soname", "libclmse.so.0")]
    monkeypatch.delenv("CLMSE_LIBRARY")
    assert [o for o, _ in _lib.candidates()] == ["install-time path", "soname"]
    lib.unlink()  # a recorded path that no longer exists is skipped
    assert _lib.candidates() == [("soname", "libclmse.so.0")]


def test_bad_clmse_library_fails_import():
    env = dict(os.environ, CLMSE_LIBRARY="/nonexistent/libclmse.so.0")
    run = subprocess.run([sys.executable, "-c", "import clmse"], env=env, capture_output=True,
                         text=True)
    assert run.returncode != 0
    assert "CLMSE_LIBRARY=/nonexistent/libclmse.so.0 cannot be loaded" in run.stderr
