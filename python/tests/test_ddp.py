# SPDX-License-Identifier: MIT
"""examples/python/ddp.py run as written with two ranks: torch.distributed (gloo) on
localhost, uneven shards, the same loss bits and parameters on every rank."""
import os
import re
import subprocess
import sys

import pytest
from _support import require

torch = require("torch")
dist = require("torch.distributed")
if not (dist.is_available() and dist.is_gloo_available()):
    # A torch built without distributed or gloo support: nothing to install, so a skip even
    # under CI (a missing torch fails above).
    pytest.skip("this torch has no torch.distributed with the gloo backend",
                allow_module_level=True)


def test_ddp_example(root):
    run = subprocess.run([sys.executable, str(root / "examples/python/ddp.py"), "--world-size",
                          "2", "--steps", "6", "--every", "1"], capture_output=True, text=True,
                         env=os.environ, timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr
    out = run.stdout
    steps = re.findall(r"^ +(\d+) +\S+ (0x[0-9a-f]{8}) +([01])$", out, re.M)
    assert [int(s) for s, _, _ in steps] == list(range(6)), out
    ranks = re.findall(r"^rank (\d)/2: (\d+) points, last loss \S+ \((0x[0-9a-f]{8})\), "
                       r"parameters sha256 ([0-9a-f]{16}): loss bits and parameters identical "
                       r"on every rank$", out, re.M)
    assert sorted(r for r, _, _, _ in ranks) == ["0", "1"], out
    assert sum(int(n) for _, n, _, _ in ranks) == 10007
    assert {b for _, _, b, _ in ranks} == {steps[-1][1]}  # every rank: the same last loss bits
    assert len({d for _, _, _, d in ranks}) == 1  # and the same parameters
    assert out.rstrip().endswith("2 ranks: same loss bits every step, parameters bitwise "
                                 "identical, loss within 1 ulp of one process")
