"""Bad-input battery for every public function that reaches native code.

The table lives in ``_bad_input_cases.py``: 477 cases over the 37 public functions of ``ops``,
``ops.rnn`` (``sigmoid`` and the recurrent half of ``rnn_layers``), the temporal half of
``rnn_layers``, ``knn``, ``fast_layers`` (aliases included) and ``compat``.

379 cases must raise a ``ValueError``/``TypeError`` whose message starts with the argument's
name (or, for a window that does not fit, the dimension: "filter height HH = 9 is larger"):
wrong ranks, mismatched or zero-size shapes, zero, negative and beyond-int64 strides and pads,
windows larger than the input, complex/object/string/boolean/datetime dtypes, NaN or Inf where
kNN rejects them, a ``dout`` of the wrong shape, a cache from another function or altered after
its forward, bad ``n_threads``. 98 cases must return the documented result: NaN and Inf
propagating through conv, pooling and the recurrent layers as in the NumPy twin, integer and
float16 inputs computed in float64, read-only and non-contiguous inputs working, caches of the
twin accepted.

Each case runs in-process for a readable failure, and the whole table runs once more in a
fresh interpreter to prove that none of them crashes it.
"""

import dataclasses
import json
import os
import subprocess
import sys

import numpy as np
import pytest
from _bad_input_cases import CASES, Raises, check

from cs231n_fast import compat, fast_layers, knn, ops, rnn_layers
from cs231n_fast.ops import rnn

TESTS = os.path.dirname(os.path.abspath(__file__))


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_public_function_bad_input(case):
    if isinstance(case.expect, Raises):
        with pytest.raises(case.expect.exc, match=case.expect.match):
            case.call()
    else:
        case.expect.check(case.call())


def test_bad_input_table_covers_every_public_function():
    names = {*ops.__all__, *rnn.__all__, *rnn_layers.__all__, *fast_layers.__all__, *compat.__all__,
             "pairwise_distances", "kneighbors"}
    assert callable(knn.pairwise_distances) and callable(knn.kneighbors)
    covered = {c.id.split(":")[0].split()[0] for c in CASES}
    assert names <= covered, f"no bad-input case for {sorted(names - covered)}"
    assert len(CASES) == len({c.id for c in CASES}), "case ids must be unique"


def test_bad_input_table_does_not_crash_the_interpreter():
    proc = subprocess.run([sys.executable, os.path.join(TESTS, "_bad_input_cases.py")], cwd=TESTS,
                          capture_output=True, text=True, timeout=300)
    started = proc.stderr.strip().splitlines()
    assert proc.returncode == 0, (
        f"the interpreter exited with {proc.returncode} during case {started[-1:]}:\n{proc.stderr[-3000:]}"
    )
    results = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [r["id"] for r in results] == [c.id for c in CASES]
    problems = {r["id"]: r["problem"] for r in results if r["problem"] is not None}
    assert not problems


def test_bad_input_check_reports_misbehaviour():
    # The runner can fail: a wrong exception, no exception, and a result that is not the
    # documented one are all reported.
    by_id = {c.id: c for c in CASES}
    raising, returning = by_id["im2col: kh 0"], by_id["im2col: x read-only"]
    assert check(dataclasses.replace(raising, call=lambda: {}["kh"])).startswith("raised KeyError")
    assert check(dataclasses.replace(raising, call=lambda: None)).startswith("returned NoneType instead of raising")
    wrong = dataclasses.replace(returning, call=lambda: ops.im2col(np.zeros((2, 3, 6, 5)), 3, 2, 2, 1))
    assert check(wrong).startswith("result is not the reference's")
