#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Conformance test of `clmse loss` against PyTorch (CPU) and exact references.

Usage: conformance.py PATH/TO/clmse [-k SUBSTRING] [--keep] [-v]
  -k SUBSTRING  run only the cases whose name contains it
  --keep        keep the temporary directory with every case's files (to reproduce one)
  -v            print details of passing cases too

Every case writes its operands with NumPy (C and Fortran order, big-endian, .npy versions 1-3,
trailing bytes), runs `clmse loss` once, and checks each result it asked for:

* 'none' loss: bit-exact with torch CPU when the promoted dtype is float32 or float64 (with
  or without broadcasting); gradients: bit-exact when their operand was not broadcast.
  Mixed dtypes: torch runs on both operands upcast to the promoted dtype and a gradient is
  cast once to its operand's dtype (torch itself refuses a mixed-dtype backward). float16
  pairs: torch runs in float32 and the result is cast to float16 once; 1 ulp of float16 is
  allowed (torch's own float16 forward rounds the difference first).
* mean/sum: within 1 ulp (of the promoted dtype) of the exact value of the sum of the
  elementwise terms (integer arithmetic), divided by the broadcast element count for mean;
  the stdout value and the --out file must agree bit for bit. torch's own value, which may
  itself be off, is reported beside it.
* gradients of a broadcast operand: torch's elementwise gradient of the expanded operands,
  summed in extended precision and rounded once, compared with 4x torch's default
  assertEqual tolerances (the summation orders differ).
* failures: exit status 2 (bad input or usage) or 1 (device, unwritable output), exactly one
  line on stderr, and no file (not even a temporary one) left in the output directory.

* float64 operands on a device without fp64 (`clmse info` says which): the run must be
  refused like a failure (exit status 1, one stderr line naming float64, no file left).

Environment: CLMSE_CONFORMANCE_RUN_TIMEOUT (seconds per run, default 60) and
CLMSE_CONFORMANCE_BUDGET (seconds for all runs, default 780, under CTest's 900): a run that
hangs is killed and reported, and cases left when the budget is spent are reported as not run.
CLMSE_TEST_SCALE=small (tests/helpers.h) skips the "large/" cases (2^22 elements and more),
which take minutes on a simulator such as Oclgrind.

Exit status: 0 all passed, 1 a case failed, 77 no OpenCL device (a failure instead when
CLMSE_REQUIRE_DEVICE=1).
"""
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
import warnings
from fractions import Fraction

import numpy as np
import torch
import torch.nn.functional as F

torch.set_num_threads(1)  # torch's own sums depend on the thread count; keep them stable
warnings.simplefilter("ignore")  # torch's size-mismatch and slow-half warnings

F16, F32, F64 = np.dtype(np.float16), np.dtype(np.float32), np.dtype(np.float64)
DTYPE_NAME = {F16: "float16", F32: "float32", F64: "float64"}
# torch.testing's default assertEqual tolerances (rtol, atol), PYTORCH_SEMANTICS.md 3.4
TORCH_TOL = {F16: (1e-3, 1e-5), F32: (1.3e-6, 1e-5), F64: (1e-7, 1e-7)}
TOL_FACTOR = 4
# Seconds per `clmse loss` run (a cold kernel compile takes a few), and for the whole run:
# CTest's TIMEOUT is 900, so cases still waiting at the budget's end are reported, not run.
RUN_TIMEOUT = float(os.environ.get("CLMSE_CONFORMANCE_RUN_TIMEOUT", "60"))
BUDGET = float(os.environ.get("CLMSE_CONFORMANCE_BUDGET", "780"))
SEED = 20240613

# ---------------------------------------------------------------------------------------------
# reference


def native(a):
    """A C-contiguous, native-endian copy (what torch.from_numpy accepts)."""
    return np.array(a, dtype=a.dtype.newbyteorder("="), order="C", copy=True)


def exact_sum(terms):
    """Exact sum of finite float64 values, as a Fraction (integer arithmetic)."""
    a = np.asarray(terms, dtype=np.float64).ravel()
    if a.size == 0:
        return Fraction(0)
    m, e = np.frexp(a)
    mant = (m * 2.0**53).astype(np.int64)  # exact: m has at most 53 significant bits
    e = e.astype(np.int64) - 53
    emin = int(e.min())
    total = 0
    for ex in np.unique(e):
        total += int(mant[e == ex].astype(object).sum()) << int(ex - emin)
    return Fraction(total) * (Fraction(2) ** emin)


def exact_reduction(terms, reduction, n):
    """'nan', 'inf' or a Fraction: the exact mean/sum of non-negative elementwise terms."""
    t = np.asarray(terms, dtype=np.float64)
    if np.isnan(t).any():
        return "nan"
    if np.isinf(t).any():
        return "inf"
    s = exact_sum(t)
    if reduction == "sum":
        return s
    if n == 0:
        return "nan"
    return s / n


def round_exact(e, dtype):
    """The exact value e rounded to dtype (via float64; inf on overflow)."""
    if e == "nan":
        return dtype.type(np.nan)
    if e == "inf":
        return dtype.type(np.inf)
    try:
        d = float(e)
    except OverflowError:
        d = math.inf
    with np.errstate(over="ignore"):
        return dtype.type(d)


def ulp_error(value, e, dtype):
    """|value - e| in ulps of dtype at e; 0 for matching nan/inf; inf for a class mismatch."""
    v = float(value)
    if e == "nan":
        return 0.0 if math.isnan(v) else math.inf
    if e == "inf":
        return 0.0 if v == math.inf else math.inf
    r = round_exact(e, dtype)
    if np.isinf(r):
        return 0.0 if v == math.inf else math.inf
    if not math.isfinite(v):
        return math.inf
    spacing = Fraction(float(np.spacing(abs(r))))
    return float(abs(Fraction(v) - e) / spacing)


def sum_to_shape(a, shape):
    """Sums a broadcast gradient back to an operand's shape, in extended precision."""
    a = np.asarray(a, dtype=np.longdouble)
    lead = a.ndim - len(shape)
    if lead:
        a = a.sum(axis=tuple(range(lead)))
    axes = tuple(i for i, s in enumerate(shape) if s == 1 and a.shape[i] != 1)
    if axes:
        a = a.sum(axis=axes, keepdims=True)
    return a.reshape(shape)


def reference(x, y, reduction, g):
    """Everything clmse should produce for one call, computed with torch and exact sums."""
    x, y = native(x), native(y)
    P = np.promote_types(x.dtype, y.dtype)
    C = F32 if P == F16 else P  # float16 is computed in float and rounded once
    bshape = tuple(np.broadcast_shapes(x.shape, y.shape))
    n = int(np.prod(bshape, dtype=np.int64))
    ref = {"P": P, "bshape": bshape, "n": n}

    xt, yt = torch.from_numpy(x.astype(C)), torch.from_numpy(y.astype(C))
    xe, ye = torch.broadcast_tensors(xt, yt)
    xe = xe.contiguous().requires_grad_()
    ye = ye.contiguous().requires_grad_()
    terms = F.mse_loss(xe.detach(), ye.detach(), reduction="none").numpy()  # in C
    if reduction == "none":
        ref["loss"] = terms.astype(P)
        ref["loss_mode"] = "ulp1" if P == F16 else "exact"
    else:
        ref["loss"] = exact_reduction(terms, reduction, n)
    # torch's own forward in the original dtypes (float16 rounds the difference first)
    own = F.mse_loss(torch.from_numpy(x), torch.from_numpy(y), reduction=reduction)
    ref["torch_loss"] = own.numpy()

    if g is None:
        gt = torch.ones(() if reduction != "none" else bshape, dtype=xe.dtype)
    else:
        gt = torch.from_numpy(native(g).astype(P).astype(C))  # converted to P first
    loss = F.mse_loss(xe, ye, reduction=reduction)
    loss.backward(gt)
    for key, op, full in (("gi", x, xe.grad.numpy()), ("gt", y, ye.grad.numpy())):
        if tuple(op.shape) == bshape:
            ref[key] = full.astype(op.dtype)  # one rounding from the promoted computation
            ref[key + "_mode"] = "ulp1" if P == F16 else "exact"
        else:
            ref[key] = sum_to_shape(full, op.shape).astype(op.dtype)
            ref[key + "_mode"] = "tol"
    return ref


# ---------------------------------------------------------------------------------------------
# comparisons: each returns None or a short failure text


def _fmt_bad(got, want, bad):
    idx = np.argwhere(bad)[0] if got.ndim else ()
    i = tuple(int(v) for v in idx)
    return "%d/%d differ, first at %s: got %r want %r" % (
        int(bad.sum()), bad.size, i, got[i].item(), want[i].item())


def cmp_exact(got, want):
    g = np.ascontiguousarray(got, dtype=want.dtype)
    w = np.ascontiguousarray(want)
    u = {2: np.uint16, 4: np.uint32, 8: np.uint64}[w.dtype.itemsize]
    bad = (g.view(u) != w.view(u)) & ~(np.isnan(g) & np.isnan(w))
    return _fmt_bad(g, w, bad) if bad.any() else None


def cmp_close(got, want, mode):
    g = np.asarray(got, dtype=np.float64)
    w = np.asarray(want, dtype=np.float64)
    if mode == "ulp1":
        tol = np.spacing(np.abs(want).astype(want.dtype)).astype(np.float64)
    else:
        rtol, atol = TORCH_TOL[want.dtype]
        tol = atol + TOL_FACTOR * rtol * np.abs(w)
    with np.errstate(invalid="ignore"):
        ok = (np.isnan(g) & np.isnan(w)) | (g == w) | (np.abs(g - w) <= tol)
    return _fmt_bad(g, w, ~ok) if not ok.all() else None


def compare(got, want, mode):
    if mode == "exact":
        return cmp_exact(got, want)
    return cmp_close(got, want, mode)


# ---------------------------------------------------------------------------------------------
# cases


class Case:
    """One `clmse loss` call and what to expect of it.

    x, y, g: arrays saved with np.save (their layout and byte order as given), or bytes
    written verbatim, or None (file not created). `write` maps an operand name to an .npy
    format version. outputs: a subset of {'out', 'gi', 'gt'}. expect_rc != 0 makes it a
    failure case: exit status, one stderr line and no leftover file are checked.
    needs_f64: the run needs the device's fp64 and must be refused without it; by default
    whether an operand is float64.
    """

    def __init__(self, name, x, y, reduction="mean", g=None, outputs=("out", "gi", "gt"),
                 flag=True, extra=(), write=None, expect_rc=0, needs_f64=None, argv=None):
        self.name, self.x, self.y, self.g = name, x, y, g
        self.reduction, self.flag, self.outputs = reduction, flag, tuple(outputs)
        self.extra, self.write, self.expect_rc, self.argv = tuple(extra), write or {}, \
            expect_rc, argv
        if needs_f64 is None:  # a 0-d operand may be a NumPy scalar, not an ndarray
            needs_f64 = any(isinstance(a, (np.ndarray, np.generic)) and a.dtype.itemsize == 8
                            for a in (x, y, g))
        self.needs_f64 = needs_f64


def save(path, a, version=None):
    if version == "trailing":  # a valid file followed by bytes np.load ignores
        np.save(path, a, allow_pickle=False)
        with open(path, "ab") as f:
            f.write(b"\x93NUMPY trailing bytes")
    elif isinstance(a, (bytes, bytearray)):
        with open(path, "wb") as f:
            f.write(a)
    elif version is None:
        np.save(path, a, allow_pickle=False)
    else:
        with open(path, "wb") as f:
            np.lib.format.write_array(f, a, version=version, allow_pickle=False)


def describe(a):
    if isinstance(a, np.ndarray):
        return "%s%s%s" % (a.dtype.str, list(a.shape),
                           " fortran" if a.ndim > 1 and not a.flags.c_contiguous else "")
    return "missing" if a is None else "%d raw bytes" % len(a)


def run_cli(clmse, args):
    t0 = time.monotonic()
    try:
        p = subprocess.run([clmse, "loss"] + args, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=RUN_TIMEOUT)
    except subprocess.TimeoutExpired:
        return None, "", "", time.monotonic() - t0
    return (p.returncode, p.stdout.decode("utf-8", "replace"),
            p.stderr.decode("utf-8", "replace"), time.monotonic() - t0)


OUT_FILES = {"out": ("--out", "loss.npy"), "gi": ("--grad-input", "gi.npy"),
             "gt": ("--grad-target", "gt.npy")}


def execute(clmse, case, workdir):
    """Writes the case's files, runs the tool. Returns (rc, stdout, stderr, secs, paths)."""
    os.makedirs(workdir)
    inputs = {}
    for key in ("x", "y", "g"):
        a = getattr(case, key)
        path = os.path.join(workdir, key + ".npy")
        inputs[key] = path
        if a is not None:
            save(path, a, case.write.get(key))
    paths = {k: os.path.join(workdir, OUT_FILES[k][1]) for k in case.outputs}
    if case.argv is not None:
        args = [a.format(**inputs, **paths, dir=workdir) for a in case.argv]
    else:
        args = [inputs["x"], inputs["y"]]
        if case.flag:
            args += ["--reduction", case.reduction]
        if case.g is not None:
            args += ["--grad-output", inputs["g"]]
        for k in case.outputs:
            args += [OUT_FILES[k][0], paths[k]]
        args += list(case.extra)
    rc, out, err, secs = run_cli(clmse, args)
    return rc, out, err, secs, paths


def strip_lsan_stats(err):
    """Drops LeakSanitizer's "Suppressions used" statistics, which sanitizer builds
    (CLMSE_SANITIZE) print at exit whenever a suppression matched; it is not the tool's."""
    lines = err.splitlines(keepends=True)
    for i in range(len(lines) - 1):
        if lines[i].startswith("-----") and lines[i + 1].startswith("Suppressions used:"):
            j = i + 2
            while j < len(lines) and not lines[j].startswith("-----"):
                j += 1
            rest = lines[j + 1:]
            if rest and not rest[0].strip():
                rest = rest[1:]
            return "".join(lines[:i] + rest)
    return err


def check_failure(case, rc, out, err, workdir, before, want_rc=None):
    problems = []
    err = strip_lsan_stats(err)
    want_rc = case.expect_rc if want_rc is None else want_rc
    if rc != want_rc:
        problems.append("exit %d, want %d" % (rc, want_rc))
    lines = err.splitlines()
    if len(lines) != 1 or not lines[0].strip():
        problems.append("stderr has %d lines, want 1: %r" % (len(lines), err[:300]))
    left = sorted(set(os.listdir(workdir)) - before)
    if left:
        problems.append("left behind: %s" % ", ".join(left))
    detail = "exit %d: %s" % (rc, lines[0] if lines else "")
    return problems, detail


def load_npy(path, problems, what):
    try:
        return np.load(path, allow_pickle=False)
    except Exception as e:  # noqa: BLE001 - any unreadable output is a failure
        problems.append("%s unreadable: %s" % (what, e))
        return None


def check_array(problems, what, got, want, mode):
    if got is None:
        return
    if got.dtype.kind != "f" or got.dtype.itemsize != want.dtype.itemsize:
        problems.append("%s dtype %s, want %s" % (what, got.dtype, want.dtype))
        return
    if tuple(got.shape) != tuple(want.shape):
        problems.append("%s shape %s, want %s" % (what, got.shape, want.shape))
        return
    msg = compare(got, want, mode)
    if msg:
        problems.append("%s (%s): %s" % (what, mode, msg))


def check_success(case, rc, out, err, paths, workdir, before, torch_info):
    problems = []
    if rc != 0:
        return ["exit %d: %s" % (rc, err.strip()[:400])], ""
    ref = reference(case.x, case.y, case.reduction, case.g)
    P = ref["P"]
    details = []
    left = sorted(set(os.listdir(workdir)) - before - {os.path.basename(p)
                                                       for p in paths.values()})
    if left:
        problems.append("unexpected files: %s" % ", ".join(left))
    for k, p in paths.items():
        if not os.path.exists(p):
            problems.append("%s not written" % OUT_FILES[k][0])
    if case.reduction == "none":
        line = "shape %s dtype %s" % (ref["bshape"], DTYPE_NAME[P])
        if line not in out:
            problems.append("stdout lacks %r: %r" % (line, out[-200:]))
        if "out" in paths and os.path.exists(paths["out"]):
            got = load_npy(paths["out"], problems, "loss")
            check_array(problems, "loss", got, ref["loss"], ref["loss_mode"])
            if P == F16 and got is not None and got.shape == ref["loss"].shape:
                own = ref["torch_loss"]
                nd = int((np.asarray(got, F16).view(np.uint16) != own.view(np.uint16)).sum())
                details.append("vs torch-f16: %d differ" % nd)
    else:
        words = out.split()
        value = None
        try:
            with np.errstate(over="ignore"):
                value = P.type(float(words[-1]))
        except (IndexError, ValueError):
            problems.append("no loss on stdout: %r" % out[-200:])
        if "out" in paths and os.path.exists(paths["out"]):
            got = load_npy(paths["out"], problems, "loss")
            if got is not None:
                if got.dtype.kind != "f" or got.dtype.itemsize != P.itemsize:
                    problems.append("loss dtype %s, want %s" % (got.dtype, P))
                elif got.shape != ():
                    problems.append("loss shape %s, want ()" % (got.shape,))
                else:
                    fv = P.type(got[()])
                    if value is not None and cmp_exact(np.array(value), np.array(fv)):
                        problems.append("stdout loss %r != file loss %r" % (value, fv))
                    value = fv
        if value is not None:
            e = ref["loss"]
            err_ulp = ulp_error(value, e, P)
            want = round_exact(e, P)
            if err_ulp > 1.0:
                problems.append("loss %r, exact %r (%.3g ulp)" % (float(value), float(want),
                                                                   err_ulp))
            if e == 0 and np.signbit(value):
                problems.append("loss is -0")
            own = ref["torch_loss"]
            details.append("loss=%.9g err=%.2gulp torch_err=%.2gulp" % (
                float(value), err_ulp, ulp_error(own[()], e, P)))
            torch_info.append((case.name, ulp_error(own[()], e, P)))
    for k in ("gi", "gt"):
        if k in paths and os.path.exists(paths[k]):
            got = load_npy(paths[k], problems, OUT_FILES[k][0])
            check_array(problems, OUT_FILES[k][0], got, ref[k], ref[k + "_mode"])
    return problems, " ".join(details)


# ---------------------------------------------------------------------------------------------
# case generation


def build_cases(rng):
    cases = []
    pairs = {"f32": (F32, F32), "f64": (F64, F64), "f16": (F16, F16), "f16+f32": (F16, F32),
             "f32+f64": (F32, F64), "f64+f32": (F64, F32), "f16+f64": (F16, F64)}

    def values(shape, dtype, scale=None):
        if dtype == F16:
            return rng.uniform(-9, 9, size=shape).astype(F16)
        s = scale if scale is not None else rng.choice([1e-3, 1.0, 10.0])
        return (rng.standard_normal(size=shape) * s).astype(dtype)

    def grad_out(reduction, P, bshape):
        if reduction == "none":
            return values(bshape, P, 1.0)
        return np.array(rng.choice([0.5, -1.25, 3.0, 1e-3]), dtype=P)

    def add(name, x, y, reduction="mean", with_g=False, outputs=("out", "gi", "gt"), **kw):
        g = None
        if with_g:
            P = np.promote_types(x.dtype, y.dtype)
            g = grad_out(reduction, P, np.broadcast_shapes(x.shape, y.shape))
        cases.append(Case(name, x, y, reduction, g=g, outputs=outputs, **kw))

    reds = ("mean", "sum", "none")
    # 1. sizes around work-group boundaries, f32 and f64, every reduction
    for pname in ("f32", "f64"):
        dx, dy = pairs[pname]
        for i, n in enumerate((1, 7, 255, 256, 257, 4095, 4097)):
            for j, red in enumerate(reds):
                add("size/%s/n=%d/%s%s" % (pname, n, red, "/g" if (i + j) % 2 else ""),
                    values((n,), dx), values((n,), dy), red, with_g=(i + j) % 2 == 1)
    # f16 and mixes on boundary sizes
    for i, (pname, n) in enumerate((("f16", 255), ("f16", 4097), ("f16+f32", 257),
                                    ("f16+f32", 4095), ("f32+f64", 256), ("f64+f32", 4097),
                                    ("f16+f64", 7))):
        dx, dy = pairs[pname]
        for j, red in enumerate(reds):
            add("size/%s/n=%d/%s%s" % (pname, n, red, "/g" if (i + j) % 2 else ""),
                values((n,), dx), values((n,), dy), red, with_g=(i + j) % 2 == 1)

    # 2. random shapes, rank 0-4, random dtype pair, layout, reduction and outputs
    layouts = ("C", "F", "BE", "BE+F", "v2", "v3")
    out_sets = (("out", "gi", "gt"), ("out",), ("gi",), ("gt",), ("out", "gi"), ("gi", "gt"))
    pnames = list(pairs)
    for k in range(18):
        rank = k % 5
        shape = tuple(int(v) for v in rng.integers(1, 9, size=rank))
        pname = pnames[k % len(pnames)]
        dx, dy = pairs[pname]
        red = reds[k % 3]
        x, y = values(shape, dx), values(shape, dy)
        write = {}
        lay = []
        for key in ("x", "y"):
            layout = layouts[int(rng.integers(len(layouts)))]
            a = x if key == "x" else y
            if "F" in layout:
                a = np.asfortranarray(a)
            if "BE" in layout:
                a = a.astype(a.dtype.newbyteorder(">"))
            if layout in ("v2", "v3"):
                write[key] = (int(layout[1]), 0)
            if key == "x":
                x = a
            else:
                y = a
            lay.append(layout)
        outs = out_sets[k % len(out_sets)]
        with_g = k % 2 == 1 and outs != ("out",)  # --grad-output needs a gradient to make
        add("random/%s/%s/%s/x:%s,y:%s/%s/%s" % (pname, "x".join(map(str, shape)) or "0d",
                                                 red, lay[0], lay[1], ",".join(outs),
                                          "g" if with_g else "noG"),
            x, y, red, with_g=with_g, outputs=outs, write=write)

    # 3. broadcasting pairs (the gradient of a broadcast operand is a sum)
    bpairs = (((3, 1), (3,)), ((3,), (3, 1)), ((2, 1, 4), (3, 1)), ((), (5,)), ((5,), ()),
              ((5,), (1,)), ((1,), (5,)), ((0,), (1,)), ((1,), (0,)), ((2, 1), (2, 10)),
              ((4, 1, 3), (1, 5, 1)), ((257, 1), (1, 255)))
    bdt = ("f32", "f64", "f16+f32", "f32+f64", "f16")
    for i, (sx, sy) in enumerate(bpairs):
        for j, red in enumerate(reds):
            pname = bdt[(i + j) % len(bdt)]
            dx, dy = pairs[pname]
            add("broadcast/%s/%s-vs-%s/%s%s" % (pname, sx, sy, red, "/g" if j == 1 else ""),
                values(sx, dx), values(sy, dy), red, with_g=j == 1)

    # 4. empty and 0-d operands
    for i, (shape, pname) in enumerate((((0,), "f32"), ((2, 0), "f64"), ((0, 3, 4), "f32"))):
        dx, dy = pairs[pname]
        for j, red in enumerate(reds):
            add("empty/%s/%s/%s" % (pname, shape, red), values(shape, dx), values(shape, dy),
                red, with_g=(i + j) % 2 == 1)
    for red in reds:
        add("0d/f32/3-vs-1/%s" % red, np.array(3, F32), np.array(1, F32), red)
    add("0d/f64/random/sum/g", values((), F64), values((), F64), "sum", with_g=True)
    add("0d/f16/random/none/g", values((), F16), values((), F16), "none", with_g=True)

    # 5. layouts: Fortran order, transposed and sliced views, big-endian, .npy v2/v3
    base = values((6, 8), F32, 1.0)
    add("layout/f32/transposed-view(F-order)", base.T, values((8, 6), F32, 1.0), "none")
    add("layout/f32/sliced-view", base[:, ::2], values((6, 4), F32, 1.0), "sum", with_g=True)
    add("layout/f64/fortran-rank3", np.asfortranarray(values((3, 5, 7), F64)),
        values((3, 5, 7), F64), "mean", with_g=True)
    add("layout/f32/fortran-rank4-both", np.asfortranarray(values((2, 3, 4, 5), F32)),
        np.asfortranarray(values((2, 3, 4, 5), F32)), "none", with_g=True)
    gbe = values((4, 9), F64, 1.0)
    cases.append(Case("layout/f64/big-endian-all-and-fortran-grad", values((4, 9), F64)
                      .astype(">f8"), values((4, 9), F64).astype(">f8"), "none",
                      g=np.asfortranarray(gbe).astype(">f8")))
    add("layout/f32/big-endian-fortran", np.asfortranarray(values((5, 3), F32)).astype(">f4"),
        values((5, 3), F32).astype(">f4"), "mean", with_g=True)
    add("layout/f16/big-endian", values((33,), F16).astype(">f2"), values((33,), F16), "sum")
    add("layout/f32/npy-v2-v3", values((10, 3), F32), values((10, 3), F32), "mean",
        write={"x": (2, 0), "y": (3, 0)})
    add("layout/f32/rank8-fortran-broadcast",
        np.asfortranarray(values((2, 1, 3, 1, 2, 2, 1, 3), F32)),
        values((1, 2, 3, 2, 1, 2, 2, 1), F32), "mean", with_g=True)
    add("layout/f64/trailing-bytes-after-data", values((7,), F64), values((7,), F64), "sum",
        write={"x": "trailing", "y": "trailing"})
    add("layout/f32/fortran-broadcast", np.asfortranarray(values((4, 1, 6), F32)),
        np.asfortranarray(values((3, 6), F32)), "mean", with_g=True)

    # 6. special values
    for pname, big in (("f32", 3e38), ("f64", 1e300)):
        d = pairs[pname][0]
        xs = np.array([np.inf, 1, -np.inf, np.nan, 1, big, 1, 0, 5, -np.inf, 2.5], d)
        ys = np.array([np.inf, np.inf, np.inf, 0, np.nan, -big, -np.inf, 0, 5, 1, 2.5], d)
        for red in reds:
            add("special/%s/inf-nan-mix/%s" % (pname, red), xs, ys, red, with_g=red == "none")
        xi = np.array([np.inf, 1, 2, 0, 7, -3], d)
        yi = np.array([0, 1, 1, -np.inf, 7, -3], d)
        for red in ("mean", "sum"):
            add("special/%s/inf-no-nan/%s" % (pname, red), xi, yi, red)
        z = values((300,), d)
        for red in reds:
            add("special/%s/zero-difference/%s" % (pname, red), z, z.copy(), red,
                with_g=red == "sum")
        cases.append(Case("special/%s/inf-grad-output-zero" % pname, xi, yi, "none",
                          g=np.array([0, 1, 1, 0, 2, 0], d)))
    # f32 sum of finite terms overflowing float32 (the exact mean stays finite): accumulation
    # in double keeps it, compensated float pairs (devices without fp64) rescue it scaled.
    xo = np.array([1.7e19, -1.7e19, 1.0], F32)
    yo = np.array([-0.0, 0.0, 1.0], F32)
    for red in ("sum", "mean"):
        add("special/f32/finite-terms-overflow-sum/%s" % red, xo, yo, red)
    # float16: |d| >= 256 squares to inf in f16; computed in float, rounded once
    xh = np.array([256, -256, 255.875, 100.0625, 0, 65504, 1, 3], F16)
    yh = np.array([0, 0, 0, 0.01, 0, -65504, 1, 2], F16)
    for red in reds:
        add("special/f16/overflow-and-rounding/%s" % red, xh, yh, red, with_g=red == "none")
    xh2 = np.array([256, 0, 1, 2], F16)
    yh2 = np.array([0, 0, 0, 0], F16)
    add("special/f16/mean-of-inf-half-term-is-finite", xh2, yh2, "mean")
    add("special/f16/nan-inf", np.array([np.nan, np.inf, np.inf, 1], F16),
        np.array([0, 0, np.inf, 1], F16), "none", with_g=True)

    # grad-output in another float dtype is converted to the promoted dtype
    cases.append(Case("grad-output-dtype/f64-g-for-f32-loss", values((4, 5), F32),
                      values((4, 5), F32), "none", g=values((4, 5), F64, 1.0),
                      needs_f64=False))
    cases.append(Case("grad-output-dtype/f16-g-for-f32-mean", values((9,), F32),
                      values((9,), F32), "mean", g=np.array(0.3, F16)))
    # 7. default reduction (no --reduction): mean
    add("default-reduction-is-mean/f32", values((100,), F32), values((100,), F32), "mean",
        flag=False)
    # 8. --strict-shapes with equal shapes is accepted
    add("strict-shapes/equal-shapes-ok", values((3, 4), F32), values((3, 4), F32), "sum",
        extra=("--strict-shapes",))
    # 9. large float32: accuracy of the reduction and gradients at scale
    big = 2**22
    add("large/f32/n=2^22+3/mean", values((big + 3,), F32, 1.0), values((big + 3,), F32, 1.0),
        "mean", outputs=("out", "gi", "gt"))
    add("large/f32/1024x4096-fortran/sum", np.asfortranarray(rng.random((1024, 4096),
                                                                        dtype=np.float32)),
        np.zeros((1024, 4096), F32), "sum", outputs=("out",))
    return cases


def consistency_cases(rng):
    """Same operands: forward only, fused, backward only must agree bit for bit."""
    x = (rng.standard_normal(4097) * 3).astype(F32)
    y = (rng.standard_normal(4097) * 3).astype(F32)
    g = np.array(0.75, F32)
    return [Case("paths/f32/forward-only", x, y, "mean", outputs=("out",)),
            Case("paths/f32/fused", x, y, "mean", g=g, outputs=("out", "gi", "gt")),
            Case("paths/f32/backward-only", x, y, "mean", g=g, outputs=("gi", "gt"))]


def failure_cases(rng):
    ok = rng.standard_normal((3,)).astype(F32)
    good = np.lib.format
    hdr_buf = []

    class Buf:
        def write(self, b):
            hdr_buf.append(b)
    good.write_array(Buf(), np.arange(64, dtype=F32))
    full = b"".join(hdr_buf)
    cases = []

    def bad(name, x, y, reduction="mean", rc=2, **kw):
        cases.append(Case(name, x, y, reduction, expect_rc=rc, **kw))

    bad("error/missing-input-file", None, ok)
    bad("error/missing-target-file", ok, None)
    bad("error/truncated-data", full[:-10], np.zeros(64, F32))
    bad("error/truncated-header", full[:20], np.zeros(64, F32))
    bad("error/garbage-bytes", bytes(rng.integers(0, 256, 200, dtype=np.uint8)), ok)
    bad("error/empty-file", b"", ok)
    bad("error/rank9-npy", np.zeros((1,) * 9, F32), np.zeros((1,) * 9, F32))
    bad("error/int32-npy", np.arange(3, dtype=np.int32), ok)
    bad("error/complex64-npy", ok.astype(np.complex64), ok)
    bad("error/not-broadcastable-2x3-vs-3x2", np.zeros((2, 3), F32), np.zeros((3, 2), F32))
    bad("error/not-broadcastable-0-vs-3", np.zeros((0,), F32), np.zeros((3,), F32))
    bad("error/strict-shapes-3x1-vs-3", np.zeros((3, 1), F32), np.zeros((3,), F32),
        extra=("--strict-shapes",))
    bad("error/unknown-reduction-bogus", ok, ok, "bogus")
    bad("error/unknown-reduction-MEAN", ok, ok, "MEAN")
    bad("error/grad-output-shape-mean", ok, ok, "mean", g=np.ones((3,), F32))
    bad("error/grad-output-shape-none", np.zeros((2, 3), F32), np.zeros((3,), F32), "none",
        g=np.ones((3, 2), F32))
    bad("error/grad-output-missing-file", ok, ok, "sum", argv=[
        "{x}", "{y}", "--reduction", "sum", "--grad-output", "{dir}/nope.npy",
        "--out", "{out}", "--grad-input", "{gi}"])
    bad("error/grad-output-without-gradients", ok, ok, "sum", g=np.array(2, F32),
        outputs=("out",))
    bad("error/missing-positional", ok, ok, argv=["{x}", "--out", "{out}"])
    bad("error/unknown-option", ok, ok, argv=["{x}", "{y}", "--frobnicate", "--out", "{out}"])
    bad("error/no-such-device", ok, ok, rc=1, extra=("--device", "no-such-device-xyzzy"))
    # a result that cannot be written: runtime error, and the results that could be written
    # (loss, grad-input) must not be left behind either
    bad("error/unwritable-grad-target", ok, ok, "none", rc=1, argv=[
        "{x}", "{y}", "--reduction", "none", "--out", "{out}", "--grad-input", "{gi}",
        "--grad-target", "{dir}/no-such-dir/gt.npy"])
    return cases


# ---------------------------------------------------------------------------------------------


def selected_device_fp64(info):
    """True/False from `clmse info` (the device marked '*', its 'fp64' line); None when the
    text cannot be read."""
    selected = False
    for line in info.splitlines():
        if line.startswith("* "):
            selected = True
        elif line[:1] not in (" ", "\t", ""):
            selected = False
        elif selected and line.split()[:1] == ["fp64"]:
            return line.split()[1:2] == ["yes"]
    return None


def main(argv):
    args = list(argv[1:])
    keep = "--keep" in args
    verbose = "-v" in args
    args = [a for a in args if a not in ("--keep", "-v")]
    filt = None
    if "-k" in args:
        i = args.index("-k")
        filt = args[i + 1]
        del args[i:i + 2]
    if len(args) != 1:
        print("usage: %s PATH/TO/clmse [-k SUBSTRING] [--keep] [-v]" % argv[0], file=sys.stderr)
        return 2
    clmse = os.path.abspath(args[0])
    if not os.access(clmse, os.X_OK):
        print("not an executable: %s" % clmse, file=sys.stderr)
        return 1
    print("clmse: %s; numpy %s; torch %s" % (clmse, np.__version__, torch.__version__))

    # Is there a device, and does it do float64?
    info = subprocess.run([clmse, "info"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          timeout=RUN_TIMEOUT)
    info_err = info.stderr.decode("utf-8", "replace")
    if info.returncode != 0 and ("no OpenCL platform" in info_err or
                                 "no OpenCL device" in info_err):
        if os.environ.get("CLMSE_REQUIRE_DEVICE") == "1":
            print("FAIL no OpenCL device, and CLMSE_REQUIRE_DEVICE=1: %s" % info_err.strip())
            return 1
        print("SKIP no OpenCL platform or device: %s" % info_err.strip())
        return 77

    has_f64 = selected_device_fp64(info.stdout.decode("utf-8", "replace"))
    if has_f64 is None:  # every float64 case depends on it: refuse to guess
        print("FAIL `clmse info` names no fp64 line for the selected device:\n%s" %
              info.stdout.decode("utf-8", "replace"))
        return 1
    print("device fp64: %s" % ("yes" if has_f64 else "no: float64 runs must be refused"))

    rng = np.random.default_rng(SEED)
    cases = build_cases(rng) + consistency_cases(rng) + failure_cases(rng)
    if filt:
        cases = [c for c in cases if filt in c.name]
    scale = os.environ.get("CLMSE_TEST_SCALE", "") or "full"
    if scale not in ("full", "small"):
        print("FAIL CLMSE_TEST_SCALE=%s: want small or full" % scale)
        return 1

    tmp = tempfile.mkdtemp(prefix="clmse-conformance-")
    counts = {"PASS": 0, "FAIL": 0, "SKIP": 0}
    failures = []
    torch_info = []
    path_results = {}
    t_start = time.monotonic()
    try:
        for idx, case in enumerate(cases):
            if scale == "small" and case.name.startswith("large/"):
                counts["SKIP"] += 1
                print("SKIP %s: CLMSE_TEST_SCALE=small" % case.name)
                continue
            if time.monotonic() - t_start > BUDGET:
                counts["FAIL"] += 1
                failures.append(case.name)
                print("FAIL %s -- not run: the %.0fs budget is spent" % (case.name, BUDGET))
                continue
            workdir = os.path.join(tmp, "%03d" % idx)
            rc, out, err, secs, paths = execute(clmse, case, workdir)
            if rc is None:
                counts["FAIL"] += 1
                failures.append(case.name)
                print("FAIL %s -- killed after %.0fs (hung?): x %s, y %s" % (
                    case.name, secs, describe(case.x), describe(case.y)), flush=True)
                continue
            before = {"x.npy", "y.npy", "g.npy"}
            if case.needs_f64 and not has_f64 and case.expect_rc == 0:
                # DESIGN.md section 6: refused as a runtime error, never a wrong value
                problems, detail = check_failure(case, rc, out, err, workdir, before, want_rc=1)
                if "float64" not in err:
                    problems.append("the refusal does not name float64")
                detail = "refused without fp64: " + detail
            elif case.expect_rc != 0:
                problems, detail = check_failure(case, rc, out, err, workdir, before)
            else:
                try:
                    problems, detail = check_success(case, rc, out, err, paths, workdir, before,
                                                     torch_info)
                except Exception as e:  # noqa: BLE001 - report, keep going
                    problems, detail = ["checker raised %s: %s" % (type(e).__name__, e)], ""
                if case.name.startswith("paths/") and rc == 0:
                    path_results[case.name.split("/")[-1]] = {
                        k: np.load(p) for k, p in paths.items() if os.path.exists(p)}
            status = "FAIL" if problems else "PASS"
            counts[status] += 1
            line = "%s %s (%.2fs)" % (status, case.name, secs)
            if detail and (verbose or problems or "loss=" in detail):
                line += " " + detail
            if problems:
                line += " -- " + "; ".join(problems)
                failures.append(case.name)
            print(line, flush=True)
            if not keep:
                shutil.rmtree(workdir, ignore_errors=True)
        # forward-only, fused and backward-only agree bit for bit
        if len(path_results) == 3:
            fo, fu, bo = (path_results[k] for k in ("forward-only", "fused", "backward-only"))
            problems = []
            if "out" in fo and "out" in fu and cmp_exact(fo["out"], fu["out"]):
                problems.append("forward-only loss %r != fused %r" % (fo["out"], fu["out"]))
            for k in ("gi", "gt"):
                if k in fu and k in bo and cmp_exact(bo[k], fu[k]):
                    problems.append("%s: backward-only != fused" % k)
            status = "FAIL" if problems else "PASS"
            counts[status] += 1
            if problems:
                failures.append("paths/agree")
            print("%s paths/forward-fused-backward-agree%s" % (
                status, (" -- " + "; ".join(problems)) if problems else ""))
    finally:
        if keep:
            print("files kept in %s" % tmp)
        else:
            shutil.rmtree(tmp, ignore_errors=True)

    off = [name for name, e in torch_info if e > 1.0]
    print("summary: %d passed, %d failed, %d skipped of %d in %.1fs" % (
        counts["PASS"], counts["FAIL"], counts["SKIP"], sum(counts.values()),
        time.monotonic() - t_start))
    print("torch's own mean/sum (informational): %d of %d more than 1 ulp from exact%s" % (
        len(off), len(torch_info), (": " + ", ".join(off)) if off else ""))
    if failures:
        print("failed: " + ", ".join(failures))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
