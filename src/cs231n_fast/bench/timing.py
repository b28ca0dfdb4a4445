"""Timers: one implementation after warm-up (:class:`Timer`), interleaved rounds (:class:`Rounds`,
the kNN cases) and settled interleaved rounds with paired ratios (:class:`SettledRounds`, the
LSTM, layer, training-step and issue-14 conv cases)."""

import gc
import math
import statistics
import time
from dataclasses import dataclass
from typing import Optional

from ._common import TIMED_IMPLS

#: Seconds an implementation runs untimed before it is timed (``Timer.settle``). After a
#: multithreaded call OpenBLAS's idle threads spin for about 2**28 cycles (~0.1 s) and GNU
#: OpenMP's for a while too; on a 2-core machine whatever runs next in that window gets about
#: one core: measured, the LSTM step ran 2x slower for ~0.1 s after NumPy's threaded products,
#: and NumPy's products after our kernels' first calls. Settling first times each
#: implementation as a loop of its own calls would run (steady state), not its neighbour's
#: leftovers.
SETTLE_SECONDS = 0.25


@dataclass(frozen=True)
class Timer:
    """Wall-clock timer: ``warmup`` untimed calls, then repeats timed with ``perf_counter``.

    ``settle`` seconds: keep making untimed calls after the warm-up until that long has passed
    since it began (see :data:`SETTLE_SECONDS`). With ``repeat`` set, exactly that many timed
    calls. Otherwise the first timed call sets the count: enough calls to fill ``budget``
    seconds, clamped to ``[min_repeat, max_repeat]``. The garbage collector is paused while
    timing. Report the median (:func:`summarize`).
    """

    warmup: int = 1
    repeat: Optional[int] = None
    budget: float = 1.0
    min_repeat: int = 3
    max_repeat: int = 50
    settle: float = 0.0

    def __call__(self, fn):
        """Seconds per timed call of ``fn``, as a list."""
        start = time.perf_counter()
        for _ in range(self.warmup):
            fn()
        while time.perf_counter() - start < self.settle:
            fn()
        gc_was_enabled = gc.isenabled()
        gc.disable()
        try:
            times = []
            t0 = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t0)
            if self.repeat is not None:
                n = self.repeat
            else:
                n = math.ceil(self.budget / max(times[0], 1e-9))
                n = min(max(n, self.min_repeat), self.max_repeat)
            for _ in range(n - 1):
                t0 = time.perf_counter()
                fn()
                times.append(time.perf_counter() - t0)
        finally:
            if gc_was_enabled:
                gc.enable()
        return times


@dataclass(frozen=True)
class Rounds:
    """Interleaved wall-clock timing of several implementations (the kNN cases).

    Each round calls every implementation once, in an order rotated by one each round, so a
    slow spell of a shared machine lands on all of them; per-round ratios are then paired
    measurements. With ``repeat`` set, exactly that many rounds; otherwise enough rounds to
    fill ``budget`` seconds (estimated from ``round_seconds``), clamped to
    ``[min_rounds, max_rounds]``. No warm-up: the kNN checks have already called each
    implementation once or twice. The garbage collector is paused while timing.
    """

    repeat: Optional[int] = None
    budget: float = 15.0
    min_rounds: int = 3
    max_rounds: int = 20

    def count(self, round_seconds):
        if self.repeat is not None:
            return self.repeat
        n = math.ceil(self.budget / max(round_seconds, 1e-9))
        return min(max(n, self.min_rounds), self.max_rounds)

    def __call__(self, calls, round_seconds):
        """``{name: [seconds per round]}`` for the callables in ``calls`` (a dict)."""
        names = list(calls)
        times = {name: [] for name in names}
        gc_was_enabled = gc.isenabled()
        gc.disable()
        try:
            for r in range(self.count(round_seconds)):
                shift = r % len(names) if names else 0
                for name in names[shift:] + names[:shift]:
                    fn = calls[name]
                    t0 = time.perf_counter()
                    fn()  # the result is dropped at once, before the next call
                    times[name].append(time.perf_counter() - t0)
        finally:
            if gc_was_enabled:
                gc.enable()
        return times


@dataclass(frozen=True)
class SettledRounds:
    """Paired timing of several implementations of a layer case (the LSTM cases).

    Each round takes the implementations in an order rotated by one per round; each settles
    (untimed calls for ``settle`` seconds, so the previous one's spinning threads are idle)
    and then makes ``calls`` timed calls (more, up to ``max_calls``, until ``min_seconds``
    have passed), whose median is its time for the round. Per-round
    ratios are paired measurements: a slow spell of a shared machine lasting a round lands on
    every implementation of it. The garbage collector is paused while timing.
    """

    rounds: int = 10
    calls: int = 5
    settle: float = SETTLE_SECONDS
    # Keep timing past ``calls`` until this many seconds have passed (at most ``max_calls``):
    # a round of a 0.1 ms layer is then a median over many calls, not over three.
    min_seconds: float = 0.0
    max_calls: int = 1000

    def __call__(self, calls):
        """``{name: [seconds per round]}`` for the callables in ``calls`` (a dict)."""
        names = list(calls)
        times = {name: [] for name in names}
        gc_was_enabled = gc.isenabled()
        gc.disable()
        try:
            for r in range(self.rounds):
                shift = r % len(names) if names else 0
                for name in names[shift:] + names[:shift]:
                    fn = calls[name]
                    start = time.perf_counter()
                    while time.perf_counter() - start < self.settle:
                        fn()
                    one = []
                    began = time.perf_counter()
                    while len(one) < self.calls or (
                        len(one) < self.max_calls
                        and time.perf_counter() - began < self.min_seconds
                    ):
                        t0 = time.perf_counter()
                        fn()
                        one.append(time.perf_counter() - t0)
                    times[name].append(statistics.median(one))
        finally:
            if gc_was_enabled:
                gc.enable()
        return times


def lstm_rounds(quick, repeat=None):
    """The :class:`SettledRounds` of the LSTM cases (``repeat``: that many one-call rounds,
    unsettled, for smoke tests)."""
    if repeat is not None:
        return SettledRounds(rounds=repeat, calls=1, settle=0.0)
    if quick:
        return SettledRounds(rounds=4, calls=3)
    return SettledRounds(rounds=10, calls=5)


def paired_ratios(times, ours="fast"):
    """``{impl: {median, min, max, mad, rounds}}`` of the per-round ratios ours / impl."""
    out = {}
    for impl, ts in times.items():
        if impl == ours:
            continue
        ratios = [a / b for a, b in zip(times[ours], ts) if b > 0]
        if not ratios:
            continue
        median = statistics.median(ratios)
        out[impl] = {"median": median, "min": min(ratios), "max": max(ratios),
                     "mad": statistics.median(abs(x - median) for x in ratios),
                     "rounds": len(ratios)}
    return out


def knn_timers(quick, repeat=None):
    """``(rounds, reference_timer)`` for the kNN cases.

    Ours and the peers are timed in :class:`Rounds`; the reference separately and little (it
    takes about a minute per call on the course workload): its check call is timed and counts
    as the first of ``repeat`` calls; with ``repeat`` unset, that one call is all.
    """
    if repeat is not None:
        return Rounds(repeat=repeat), (Timer(warmup=0, repeat=repeat - 1) if repeat > 1 else None)
    if quick:
        return Rounds(budget=3.0, min_rounds=1, max_rounds=10), None
    return Rounds(budget=15.0, min_rounds=3, max_rounds=20), None


def summarize(times):
    """Median, min, max, mean and median absolute deviation (ms) and the count of a list of
    seconds."""
    median = statistics.median(times)
    return {
        "median_ms": 1e3 * median,
        "min_ms": 1e3 * min(times),
        "max_ms": 1e3 * max(times),
        "mean_ms": 1e3 * statistics.fmean(times),
        "mad_ms": 1e3 * statistics.median(abs(t - median) for t in times),
        "repeats": len(times),
    }


def _timers(peer, reference):
    return {impl: reference if impl == "reference" else peer for impl in TIMED_IMPLS}


def quick_timers(repeat=None):
    """Per-implementation timers for the quick run (well under a minute in all)."""
    if repeat is not None:
        return _timers(Timer(warmup=0, repeat=repeat), Timer(warmup=0, repeat=repeat))
    # The correctness call has already warmed the reference up; it is slow, time it little.
    return _timers(Timer(warmup=2, budget=0.4, min_repeat=3, max_repeat=50, settle=SETTLE_SECONDS),
                   Timer(warmup=0, budget=0.3, min_repeat=1))


def full_timers(repeat=None):
    """Per-implementation timers for the full run."""
    if repeat is not None:
        return _timers(Timer(warmup=1, repeat=repeat), Timer(warmup=1, repeat=repeat))
    return _timers(Timer(warmup=2, budget=1.0, min_repeat=5, max_repeat=100, settle=SETTLE_SECONDS),
                   Timer(warmup=0, budget=1.5, min_repeat=3))



def step_timing(quick, repeat=None):
    """``(timers, settled_rounds)`` of the training-step cases (``models``).

    A step of the VGG-style network takes a few hundred ms: the quick run times each
    implementation with few calls (the settled rounds give the ratio) and three settled
    rounds of two calls; the full run as the other families. ``repeat`` as in
    :func:`quick_timers` and :func:`lstm_rounds`.
    """
    if repeat is not None or not quick:
        return (quick_timers if quick else full_timers)(repeat), lstm_rounds(quick, repeat)
    timer = Timer(warmup=1, budget=0.3, min_repeat=2, max_repeat=20, settle=SETTLE_SECONDS)
    return _timers(timer, timer), SettledRounds(rounds=3, calls=2)


def layer_rounds(quick, repeat=None):
    """The :class:`SettledRounds` of the layer cases: as :func:`lstm_rounds`, each
    implementation timing for at least 50 ms (quick) or 100 ms per round, since the smallest
    layers take 0.1 ms a call."""
    if repeat is not None:
        return lstm_rounds(quick, repeat)
    if quick:
        return SettledRounds(rounds=4, calls=3, min_seconds=0.05)
    return SettledRounds(rounds=10, calls=5, min_seconds=0.1)
