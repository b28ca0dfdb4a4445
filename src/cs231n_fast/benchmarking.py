"""The benchmark suite's former module, kept so ``from cs231n_fast import benchmarking`` works.

The code lives in the package :mod:`cs231n_fast.bench`, one module per family (``conv``,
``pool``, ``knn``, ``lstm``, ``layers``, ``models``) over the shared machinery (``_common``,
``timing``, ``machine``, ``cases``, ``runner``, ``results``, ``report``); see its docstring.
This module re-exports its public names (and the few private ones the tests use).

Assigning one of those names here (``monkeypatch.setattr(benchmarking, "GEMM_PEAK_SHAPE",
...)`` in a test) assigns it in every module of the package that defines it, so the code that
reads it sees the new value, as it did when everything lived in this one module.
"""

import sys
import time  # noqa: F401  (``benchmarking.time``: the clock the timers read, patched in tests)
import types

from . import bench as _bench
from .bench import *  # noqa: F401,F403
from .bench import __all__  # noqa: F401
from .bench import _as_numpy, _format_knn, _format_summary, _gate_swap, _rel_err  # noqa: F401


def _package_modules():
    prefix = _bench.__name__
    return [m for name, m in list(sys.modules.items())
            if m is not None and (name == prefix or name.startswith(prefix + "."))]


class _ForwardingModule(types.ModuleType):
    """A module whose attribute assignments also reach the package modules defining them."""

    def __setattr__(self, name, value):
        for module in _package_modules():
            if name in vars(module):
                setattr(module, name, value)
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _ForwardingModule
