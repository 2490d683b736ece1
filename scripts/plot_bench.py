#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Draws clmse-bench's CSV (--csv FILE) as time against N, log-log, one panel per op.

Every method the file holds gets a line (the pipelined ones, time per call, dashed); the
columns are read by name, so the gbps column and any later one are ignored.

usage: scripts/plot_bench.py BENCH.csv CHART.png [TITLE]
Needs matplotlib (Debian: python3-matplotlib).
"""
import csv
import sys
from collections import defaultdict

import matplotlib

matplotlib.use("Agg")  # no display needed
import matplotlib.pyplot as plt  # noqa: E402 (after the backend is chosen)


def main(argv):
    if len(argv) not in (3, 4):
        print(__doc__.strip(), file=sys.stderr)
        return 2
    # op -> method -> [(n, median_us)], in the order the file gives them
    series = defaultdict(lambda: defaultdict(list))
    dtypes = set()
    with open(argv[1], newline="") as f:
        for row in csv.DictReader(f):
            series[row["op"]][row["method"]].append((int(row["n"]), float(row["median_us"])))
            dtypes.add(row["dtype"])
    if not series:
        print("%s: no rows in %s" % (argv[0], argv[1]), file=sys.stderr)
        return 1
    fig, axes = plt.subplots(1, len(series), figsize=(5 * len(series), 4.5), squeeze=False)
    for ax, (op, methods) in zip(axes[0], series.items()):
        for method, points in methods.items():
            points.sort()
            ax.plot([n for n, _ in points], [t for _, t in points], marker="o", label=method,
                    linestyle="--" if method.endswith("_pipelined") else "-")
        ax.set(xscale="log", yscale="log", title=op, xlabel="N (elements)",
               ylabel="median time (us)")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize="small")
    fig.suptitle(argv[3] if len(argv) == 4 else
                 "clmse-bench: MSELoss (mean), %s" % ", ".join(sorted(dtypes)))
    fig.tight_layout()
    fig.savefig(argv[2], dpi=100)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
