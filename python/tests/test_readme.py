# SPDX-License-Identifier: MIT
"""README.md's Python examples, run as written: the blocks after their test markers."""
import os
import re
import subprocess
import sys

from _support import require

require("torch")


def test_readme_python_example(root):
    text = (root / "README.md").read_text()
    m = re.search(r"<!-- test: python-readme[^>]*-->\n```python\n(.*?)```", text, re.S)
    assert m, "README.md has no block after '<!-- test: python-readme'"
    code = m.group(1)
    assert len(code.strip().splitlines()) <= 10 and "loss.backward()" in code
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=os.environ)
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    assert lines[0] == "0.110000 tensor([ 0.3333, -0.1333, -0.1333])"
    assert abs(float(lines[1]) - 0.33) < 1e-6
    assert lines[2]  # a device name


def test_readme_partial_example(root):
    """The Python partial-results block: shards folded and encoded give one call's loss, and
    their gradients one call's."""
    text = (root / "README.md").read_text()
    m = re.search(r"<!-- test: python-partial[^>]*-->\n```python\n(.*?)```", text, re.S)
    assert m, "README.md has no block after '<!-- test: python-partial'"
    run = subprocess.run([sys.executable, "-c", m.group(1)], capture_output=True, text=True,
                         env=os.environ)
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    assert lines[0] == "0.14499998 0.14499998 0.14499998"
    assert lines[1] == "[ 0.25       -0.10000002 -0.0999999  -0.25      ]"

