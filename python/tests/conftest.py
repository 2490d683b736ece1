# SPDX-License-Identifier: MIT
"""Shared fixtures: the repository root, torch when installed, and a POCL pyopencl queue."""
import os
import pathlib

import pytest
from _support import require

ROOT = pathlib.Path(os.environ.get("CLMSE_SOURCE_DIR",
                                   pathlib.Path(__file__).resolve().parents[2]))
POCL = "Portable Computing Language"


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
