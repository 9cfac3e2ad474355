#!/usr/bin/env python3
"""Writes the small .npy files that Tests/SparseConvTests/NumPyTests.swift reads.

Run from anywhere: python3 Fixtures/npy/make_npy_fixtures.py
The files are committed; rerun only to change them. Values are chosen so that
the conversions under test are exact or have a known rounding (see the tests).
"""
import os

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))


def path(name):
    return os.path.join(HERE, name)


def save(name, array, version=None):
    """np.save for the default version; write_array to force one."""
    if version is None:
        np.save(path(name), array, allow_pickle=False)
    else:
        with open(path(name), "wb") as f:
            np.lib.format.write_array(f, array, version=version, allow_pickle=False)


F32 = np.array([[0.5, -1.25, 3.0], [1e-3, 65504.0, -0.0]], dtype="<f4")

# Readable: float32 in every format version, float64, float16, 0-d and 4-d.
save("f4_v1.npy", F32)
save("f4_v2.npy", F32, version=(2, 0))
save("f4_v3.npy", F32, version=(3, 0))
save("f4_1d.npy", np.arange(5, dtype="<f4") - 2)
save("f4_4d.npy", np.arange(24, dtype="<f4").reshape(1, 2, 3, 4) / 8)
save("f4_scalar.npy", np.array(7.5, dtype="<f4"))
save("f4_special.npy", np.array([np.inf, -np.inf, np.nan, 1e-45, -3.4028235e38], dtype="<f4"))
save("f8.npy", np.array([[1.0 / 3.0, -2.5], [1e300, 1e-50]], dtype="<f8"))
save("f2.npy", np.array([1.0, -2.0, 0.5, 65504.0, 6e-8, -0.0, np.inf, np.nan], dtype="<f2"))

# Unreadable: each must make NumPy.read throw.
save("big_endian.npy", F32.astype(">f4"))
save("fortran.npy", np.asfortranarray(F32))
save("int32.npy", np.arange(6, dtype="<i4").reshape(2, 3))
save("empty.npy", np.zeros((0, 3), dtype="<f4"))
with open(path("f4_v1.npy"), "rb") as f:
    whole = f.read()
with open(path("truncated.npy"), "wb") as f:
    f.write(whole[:-3])
