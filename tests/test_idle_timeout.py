"""OPENBLAS_THREAD_TIMEOUT applied at run time when NumPy was imported before twolayer.

Each case runs in a fresh interpreter, since OpenBLAS reads its variables once per
process. Where NumPy's BLAS is not an OpenBLAS pthreads build with the functions
twolayer.fast.threads calls, the expected result is that nothing is changed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

# Finds NumPy's OpenBLAS (pthreads build) and whether it has the functions that
# apply_idle_timeout calls; timeout() is the value it holds (None where it cannot tell).
PREAMBLE = """
import json
import numpy as np
from threadpoolctl import ThreadpoolController

libs = [lib for lib in ThreadpoolController().select(internal_api="openblas").lib_controllers
        if lib.threading_layer == "pthreads"]
dynlib = libs[0].dynlib if libs else None
names = ("openblas_thread_timeout", "openblas_read_env", "blas_thread_shutdown_")
capable = dynlib is not None and all(hasattr(dynlib, n) for n in names)
def timeout():
    return dynlib.openblas_thread_timeout() if capable else None
"""
# NumPy first, then twolayer: the timeout before and after, what a second
# apply_idle_timeout() changes, and whether a matrix product came out the same after
# the threads were restarted.
NUMPY_FIRST = (
    PREAMBLE
    + """
a = np.random.default_rng(0).standard_normal((300, 300)).astype(np.float32)
product = a @ a
before = timeout()
import twolayer
from twolayer.fast.threads import apply_idle_timeout
print(json.dumps({
    "capable": capable, "before": before, "after": timeout(), "again": apply_idle_timeout(),
    "same_product": bool(np.array_equal(product, a @ a)),
}))
"""
)


def run(code: str, timeout_var: str | None) -> dict:
    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_THREAD_TIMEOUT"}
    if timeout_var is not None:
        env["OPENBLAS_THREAD_TIMEOUT"] = timeout_var
    result = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_numpy_imported_first_gets_the_timeout_at_import_of_twolayer():
    r = run(NUMPY_FIRST, None)
    if r["capable"]:
        assert (r["before"], r["after"]) == (0, 4)  # 0: unset when OpenBLAS loaded
    assert r["again"] == []  # applied once; nothing left to change
    assert r["same_product"]


@pytest.mark.parametrize("value", ["6", "4"])
def test_a_timeout_set_before_python_started_is_left_alone(value):
    r = run(NUMPY_FIRST, value)
    if r["capable"]:
        assert r["before"] == r["after"] == int(value)
    assert r["again"] == []


def test_twolayer_imported_first_needs_no_change():
    code = (
        "import json, twolayer\n"
        "from twolayer.fast.threads import apply_idle_timeout\n"
        "print(json.dumps(apply_idle_timeout()))"
    )
    assert run(code, None) == []


def test_a_timeout_that_is_not_a_number_changes_nothing():
    code = (
        "import json, numpy, twolayer\n"
        "from twolayer.fast.threads import apply_idle_timeout\n"
        "print(json.dumps(apply_idle_timeout()))"
    )
    assert run(code, "soon") == []


def test_an_import_in_another_thread_leaves_the_blas_threads_alone():
    code = PREAMBLE + (
        "import threading\n"
        "t = threading.Thread(target=lambda: __import__('twolayer'))\n"
        "t.start(); t.join()\n"
        "print(json.dumps({'capable': capable, 'after': timeout()}))"
    )
    r = run(code, None)
    if r["capable"]:
        assert r["after"] == 0
