# SPDX-License-Identifier: MIT
"""Shared fixtures: the repository root, torch when installed, and a POCL pyopencl queue."""
import os
import pathlib

import pytest
from _support import require

ROOT = pathlib.Path(os.environ.get("CLMSE_SOURCE_DIR",
                                   pathlib.Path(__file__).resolve().parents[2]))
POCL = "Portable Computing Language"


def _pocl_device_spec():
    """CLMSE_DEVICE's "P:D" for POCL's first device (clmse and pyopencl both list platforms in
    the ICD loader's order), else "cpu"."""
    try:
        import pyopencl
        platforms = pyopencl.get_platforms()
    except Exception:  # no pyopencl, or no platform: the suites that need them say so
        return "cpu"
    for p, platform in enumerate(platforms):
        if POCL in platform.name:
            return f"{p}:0"
    return "cpu"


# The suites run on POCL (it has fp64, which gradcheck and the float64 cases need), also where
# a GPU would be the default, unless CLMSE_DEVICE says otherwise. Set before any test makes
# the default context (on first use).
os.environ.setdefault("CLMSE_DEVICE", _pocl_device_spec())


@pytest.fixture(scope="session")
def root():
    return ROOT


@pytest.fixture(scope="session")
def cl():
    return require("pyopencl")


def _pocl_queue(cl, properties):
    for platform in cl.get_platforms():
        if POCL in platform.name:
            device = platform.get_devices()[0]
            context = cl.Context([device])
            return cl.CommandQueue(context, device, properties=properties)
    if os.environ.get("CI") == "true":
        pytest.fail("no POCL platform: install pocl-opencl-icd")
    pytest.skip("no POCL platform")


@pytest.fixture(scope="session")
def in_order_queue(cl):
    return _pocl_queue(cl, 0)


@pytest.fixture(scope="session")
def out_of_order_queue(cl):
    return _pocl_queue(cl, cl.command_queue_properties.OUT_OF_ORDER_EXEC_MODE_ENABLE)


@pytest.fixture(scope="session", params=["in-order", "out-of-order"])
def queue(request, in_order_queue, out_of_order_queue):
    return in_order_queue if request.param == "in-order" else out_of_order_queue
