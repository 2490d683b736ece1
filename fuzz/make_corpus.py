#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# Writes the seed corpora fuzz/corpus/npy/ and fuzz/corpus/tensor/ (standard library only, so
# the bytes never depend on a NumPy version). Run it after changing a seed: python3 make_corpus.py
import math
import os
import shutil
import struct

HERE = os.path.dirname(os.path.abspath(__file__))


# ---- .npy files ----------------------------------------------------------------------------

def shape_text(shape):
    if len(shape) == 1:
        return "(%d,)" % shape[0]
    return "(" + ", ".join(str(d) for d in shape) + ")"


def header_dict(descr, fortran, shape):
    """The dict exactly as NumPy writes it."""
    return "{'descr': '%s', 'fortran_order': %s, 'shape': %s, }" % (
        descr, "True" if fortran else "False", shape_text(shape))


def npy(text, data=b"", version=1, pad=True):
    """A .npy image around a header text: preamble, the text padded to 64 bytes, data."""
    head = text.encode("utf-8" if version == 3 else "latin-1")
    pre_len = 10 if version == 1 else 12
    if pad:
        head += b" " * ((64 - (pre_len + len(head) + 1) % 64) % 64) + b"\n"
    size = struct.pack("<H" if version == 1 else "<I", len(head))
    return b"\x93NUMPY" + bytes([version, 0]) + size + head + data


def floats(fmt, values):
    return b"".join(struct.pack(fmt, v) for v in values)


NPY = {
    # valid: every version, float width, byte order, layout, rank 0 and empty
    "v1_f4_2x3.npy": npy(header_dict("<f4", False, (2, 3)), floats("<f", range(6))),
    "v1_f8_be_3.npy": npy(header_dict(">f8", False, (3,)), floats(">d", [1.5, -0.0, 1e300])),
    "v1_f2_5.npy": npy(header_dict("<f2", False, (5,)),
                       floats("<e", [1.0, -2.5, 6e-8, math.inf, math.nan])),
    "v1_f2_be_2.npy": npy(header_dict(">f2", False, (2,)), floats(">e", [0.5, -65504.0])),
    "v1_f4_be_fortran_2x2.npy": npy(header_dict(">f4", True, (2, 2)),
                                    floats(">f", [1, 3, 2, 4])),
    "v1_f8_fortran_3x1.npy": npy(header_dict("<f8", True, (3, 1)), floats("<d", [1, 2, 3])),
    "v2_f4_2.npy": npy(header_dict("<f4", False, (2,)), floats("<f", [1, 2]), version=2),
    "v3_f8_2.npy": npy(header_dict("<f8", False, (2,)), floats("<d", [3, 4]), version=3),
    "scalar_f8.npy": npy(header_dict("<f8", False, ()), floats("<d", [2.0])),
    "empty_f4_0.npy": npy(header_dict("<f4", False, (0,))),
    "empty_f2_2x0.npy": npy(header_dict("<f2", False, (2, 0))),
    "rank8_f4.npy": npy(header_dict("<f4", False, (1, 1, 1, 1, 1, 1, 2, 1)),
                        floats("<f", [7, 8])),
    "trailing_f4.npy": npy(header_dict("<f4", False, (1,)), floats("<f", [1]) + b"extra"),
    # valid, other dtypes: read, but not written back
    "i8_2.npy": npy(header_dict("<i8", False, (2,)), struct.pack("<2q", -1, 2)),
    "b1_3.npy": npy(header_dict("|b1", False, (3,)), b"\x00\x01\x01"),
    "u2_be_2.npy": npy(header_dict(">u2", False, (2,)), struct.pack(">2H", 1, 65535)),
    "c8_be_1.npy": npy(header_dict(">c8", False, (1,)), struct.pack(">2f", 1, -1)),
    "f16_1.npy": npy(header_dict("<f16", False, (1,)), bytes(16)),
    # valid header spellings: other key order, double quotes, no trailing comma, 2.x 'L'
    "header_variants.npy": npy('{"shape": (2L, 1L), "fortran_order": False, "descr": "<f4"}',
                               floats("<f", [1, 2])),
    "header_unpadded.npy": npy(header_dict("f4", False, (1,)) + "\n", floats("<f", [9]),
                               pad=False),
    # malformed
    "bad_empty.npy": b"",
    "bad_magic.npy": b"\x93NUMPZ\x01\x00" + npy(header_dict("<f4", False, (1,)))[8:],
    "bad_version4.npy": b"\x93NUMPY\x04\x00\x10\x00{}",
    "bad_preamble.npy": b"\x93NUMPY\x01",
    "bad_header_short.npy": npy(header_dict("<f4", False, (4,)))[:30],
    "bad_data_short.npy": npy(header_dict("<f8", False, (4,)), floats("<d", [1, 2, 3])),
    "bad_header_len.npy": b"\x93NUMPY\x02\x00\xff\xff\xff\x7f{}",
    "bad_object.npy": npy(header_dict("|O", False, (1,)), bytes(8)),
    "bad_str.npy": npy(header_dict("<U4", False, (1,)), bytes(16)),
    "bad_descr.npy": npy(header_dict("<q9", False, (1,)), bytes(8)),
    "bad_rank9.npy": npy(header_dict("<f4", False, (1,) * 9), bytes(4)),
    "bad_overflow.npy": npy(header_dict("<f8", False, (2 ** 40, 2 ** 40, 2 ** 40))),
    "bad_negative.npy": npy(header_dict("<f4", False, (-1,))),
    "bad_key.npy": npy("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), 'x': 1}",
                       bytes(4)),
    "bad_missing_shape.npy": npy("{'descr': '<f4', 'fortran_order': False}"),
    "bad_fortran.npy": npy("{'descr': '<f4', 'fortran_order': 0, 'shape': (1,)}", bytes(4)),
    "bad_after_dict.npy": npy(header_dict("<f4", False, (1,)) + " x", bytes(4)),
}


# ---- tensor descriptors (the input format of fuzz_tensor.c) -------------------------------

DTYPES = ["f32", "f64", "f16", "bf16", "i8", "i16", "i32", "i64", "u8", "bool", "c64", "c128"]


def dtype_byte(name):
    if isinstance(name, int):  # 0xf0 + i: the i-th value no clmse_dtype has
        return 0xF0 + name
    return DTYPES.index(name)


def size_value(v):
    return bytes([v]) if v < 0xC0 else b"\xc0" + struct.pack("<Q", v)


def stride_value(s):
    if -8 <= s < 0xC0 - 8:
        return bytes([s + 8])
    return b"\xc0" + struct.pack("<Q", s & 0xFFFFFFFFFFFFFFFF)


def tensor(dtype="f32", shape=(), strides=None, offset=0, size=0, count=0, dtype_b="f32",
           shape_b=(), flags=0):
    out = bytes([flags | (1 if strides is not None else 0), dtype_byte(dtype), len(shape)])
    out += b"".join(size_value(d) for d in shape)
    if strides is not None:
        out += b"".join(stride_value(s) for s in strides)
    out += size_value(offset) + size_value(size) + size_value(count)
    out += bytes([dtype_byte(dtype_b), len(shape_b)]) + b"".join(size_value(d) for d in shape_b)
    return out


TENSOR = {
    "scalar_f32.bin": tensor("f32", (), size=4, count=1),
    "c_2x3_fits.bin": tensor("f32", (2, 3), size=24, count=6, dtype_b="f16", shape_b=(3,)),
    "c_2x3_short.bin": tensor("f32", (2, 3), size=23, count=6),
    "strided_f64.bin": tensor("f64", (2, 3), (6, 2), offset=1, size=96, count=12,
                              dtype_b="f64", shape_b=(2, 1)),
    "expanded_stride0.bin": tensor("f16", (4, 3), (0, 1), size=6, count=3, dtype_b="bf16",
                                   shape_b=(4, 1)),
    "negative_stride.bin": tensor("f32", (2, 2), (-1, 1), size=16),
    "rank9.bin": tensor("f32", (1,) * 9, size=4),
    "rank8_b_rank9.bin": tensor("f32", (2,) * 8, size=1024, shape_b=(1,) * 9),
    "count_overflow.bin": tensor("u8", (2 ** 32, 2 ** 32), size=0),
    "extent_overflow.bin": tensor("f32", (2, 2), (2 ** 62, 1), size=16),
    "offset_overflow.bin": tensor("f64", (3,), offset=2 ** 61, size=24, count=2 ** 61),
    "empty_huge_offset.bin": tensor("f32", (0, 5), offset=2 ** 63, size=0, count=0),
    "c_order_saturated.bin": tensor("u8", (1, 2 ** 63 + 1), size=2 ** 63 + 1),
    "unknown_dtype.bin": tensor(0, (3,), size=3, count=3, dtype_b=8),
    "broadcast_mismatch.bin": tensor("f32", (2, 3), size=24, shape_b=(4, 3)),
    "broadcast_ones.bin": tensor("f32", (8, 1, 6, 1), size=192, shape_b=(7, 1, 5)),
    "null_shape.bin": tensor("f32", (2, 2), size=16, flags=2),
    "null_shape_b.bin": tensor("f32", (2,), size=8, shape_b=(2,), flags=4),
    "promote_f64_f16.bin": tensor("f64", (1,), size=8, dtype_b="f16", shape_b=(1,)),
    "promote_i32_f32.bin": tensor("i32", (2,), size=8, dtype_b="f32"),
    "c128_strided.bin": tensor("c128", (3, 2), (4, 1), size=160, count=10, dtype_b="c64"),
}


def write(folder, files):
    path = os.path.join(HERE, "corpus", folder)
    shutil.rmtree(path, ignore_errors=True)
    os.makedirs(path)
    for name, data in sorted(files.items()):
        with open(os.path.join(path, name), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    write("npy", NPY)
    write("tensor", TENSOR)
