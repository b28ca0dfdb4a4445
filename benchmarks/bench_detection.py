"""Detection primitives (issue 17): nms and box_iou on 10,000 clustered boxes, fast vs the
vectorised NumPy twin (reference), one group per case.

pytest-benchmark: ``pytest benchmarks/bench_detection.py --benchmark-only``. The same cases
run in ``cs231n-fast bench --kernels detection``.

As a script, ``python benchmarks/bench_detection.py [--rounds R] [--threads N]`` times fast
and the twin in interleaved rounds (fast, twin, fast, twin, ...: a load change on a shared
machine hits both alike) and prints, per case and dtype, the median of each and the median of
the per-round ratios twin/fast (issue 17's target: nms at least 10x).
"""

import argparse
import statistics
import time

import pytest

from cs231n_fast import benchmarking as bm


@pytest.mark.parametrize("impl", bm.DetectionCase.impls)
@pytest.mark.parametrize("dtype", bm.DetectionCase.dtypes)
@pytest.mark.parametrize("case", bm.DETECTION_CASES, ids=lambda case: case.id)
def test_detection(bench_case, case, dtype, impl):
    bench_case(case, dtype, impl)


def interleaved(case, dtype, rounds, n_threads):
    """``(fast_ms, twin_ms, ratios)``: medians of ``rounds`` interleaved calls each, and the
    per-round ratios twin / fast, after one checked warm-up call of each."""
    inputs = bm.make_inputs(case, dtype)
    expected = bm.reference_result(case, inputs)
    calls = {impl: bm.make_runner(case, impl, inputs, n_threads) for impl in ("fast", "reference")}
    for impl, call in calls.items():
        ok, _, message = bm.check_result(case, call(), expected, dtype, impl=impl)
        assert ok, f"{impl} on {case.id} {dtype}: {message}"
    times = {impl: [] for impl in calls}
    for _ in range(rounds):
        for impl, call in calls.items():
            t0 = time.perf_counter()
            call()
            times[impl].append(1e3 * (time.perf_counter() - t0))
    ratios = [r / f for f, r in zip(times["fast"], times["reference"])]
    return statistics.median(times["fast"]), statistics.median(times["reference"]), ratios


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rounds", type=int, default=7)
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--dtype", action="append", choices=bm.DTYPES)
    args = p.parse_args(argv)
    print(f"{'case':24} {'dtype':8} {'fast ms':>9} {'twin ms':>9} {'twin/fast':>10} (min-max of rounds)")
    for case in bm.DETECTION_CASES:
        for dtype in args.dtype or case.dtypes:
            f, r, ratios = interleaved(case, dtype, args.rounds, args.threads)
            print(f"{case.id:24} {dtype:8} {f:9.2f} {r:9.1f} {statistics.median(ratios):9.1f}x "
                  f"({min(ratios):.1f}-{max(ratios):.1f})")


if __name__ == "__main__":
    main()
