"""Build status: OpenMP, thread resolution, show_config, the import-failure message."""

import io
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

import cs231n_fast
from cs231n_fast import ops
from cs231n_fast._threads import effective_n_threads, openmp_enabled

EXPECT_NO_OPENMP = os.environ.get("CS231N_FAST_EXPECT_NO_OPENMP") == "1"


def _run(code, **env):
    full_env = {k: v for k, v in os.environ.items() if k != "OMP_NUM_THREADS"}
    full_env.update(env)
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, env=full_env, timeout=120
    )


def test_build_openmp_status_as_expected():
    # CI builds a second, OpenMP-free variant and sets CS231N_FAST_EXPECT_NO_OPENMP=1 for it.
    assert openmp_enabled() is (not EXPECT_NO_OPENMP)


def test_show_config_reports_version_openmp_threads_blas():
    buf = io.StringIO()
    cs231n_fast.show_config(file=buf)
    text = buf.getvalue()
    assert f"cs231n_fast {cs231n_fast.__version__}" in text
    assert ("OpenMP      enabled" in text) is openmp_enabled()
    assert f"threads     {effective_n_threads()}" in text
    assert "blas" in text and "openblas" in text.lower()


@pytest.mark.skipif(EXPECT_NO_OPENMP, reason="thread resolution is 1 without OpenMP (tested below)")
@pytest.mark.parametrize("omp, expected", [("1", 1), ("3", 3)])
def test_effective_n_threads_honours_omp_num_threads(omp, expected):
    out = _run("from cs231n_fast._threads import effective_n_threads; print(effective_n_threads())", OMP_NUM_THREADS=omp)
    assert out.returncode == 0, out.stderr
    assert int(out.stdout) == expected


def test_effective_n_threads_default_capped_at_cpus():
    # OpenMP's maximum is read separately, and then raised above the CPU count (threadpoolctl;
    # OMP_NUM_THREADS stays unset): the default must follow it, capped at the CPUs.
    code = """
    import os
    from threadpoolctl import threadpool_limits
    from cs231n_fast._ext import openmp_info
    from cs231n_fast._threads import effective_n_threads
    cpus = len(os.sched_getaffinity(0))
    print(cpus, openmp_info.max_threads(), effective_n_threads())
    with threadpool_limits(limits=cpus + 3, user_api="openmp"):
        print(cpus, openmp_info.max_threads(), effective_n_threads())
    """
    out = _run(code)
    assert out.returncode == 0, out.stderr
    (cpus, omp, got), (_, omp_raised, got_raised) = (map(int, line.split()) for line in out.stdout.splitlines())
    if EXPECT_NO_OPENMP:
        assert got == got_raised == 1
        return
    assert got == min(cpus, omp) >= 1
    assert omp_raised == cpus + 3  # the raise took effect ...
    assert got_raised == cpus  # ... and the default is capped at the CPUs


@pytest.mark.skipif(EXPECT_NO_OPENMP, reason="threadpoolctl has no OpenMP runtime to limit")
def test_effective_n_threads_honours_threadpoolctl():
    with threadpool_limits(limits=1, user_api="openmp"):
        assert effective_n_threads() == 1
    assert effective_n_threads(3) == 3


def test_effective_n_threads_without_openmp_is_one(monkeypatch):
    from cs231n_fast import _threads

    monkeypatch.setattr(_threads.openmp_info, "openmp_enabled", lambda: False)
    assert effective_n_threads() == 1
    assert effective_n_threads(4) == 1
    with pytest.raises(ValueError, match="n_threads"):
        effective_n_threads(0)


def _blas_thread_counts():
    from threadpoolctl import threadpool_info

    return {lib["filepath"]: lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"}


def test_blas_limited_during_kernels_and_restored():
    from cs231n_fast import _blas
    from cs231n_fast._threads import blas_single_thread

    before = _blas_thread_counts()
    control = _blas.gemm_thread_control()
    with blas_single_thread():
        inside = _blas_thread_counts()
        if control is None:  # scipy's BLAS: threadpoolctl limits every BLAS
            assert set(inside.values()) == {1}
        else:  # NumPy's OpenBLAS, the one the GEMMs call, is limited directly; no other is touched
            assert control[0]() == 1
            numpy_lib = [p for p in inside if "openblas64" in os.path.basename(p)]
            assert numpy_lib and all(inside[p] == 1 for p in numpy_lib)
            assert {p: n for p, n in inside.items() if p not in numpy_lib} == {
                p: n for p, n in before.items() if p not in numpy_lib
            }
    assert _blas_thread_counts() == before
    x = np.ones((2, 2, 4, 4))
    ops.conv_forward(x, np.ones((2, 2, 3, 3)), np.zeros(2), 1, 1)
    assert _blas_thread_counts() == before


def test_blas_limit_with_scipys_blas_limits_every_blas():
    code = """
    from threadpoolctl import threadpool_info, threadpool_limits
    import cs231n_fast
    from cs231n_fast import _blas
    from cs231n_fast._threads import blas_single_thread
    assert _blas.gemm_thread_control() is None
    threadpool_limits(2, user_api="blas")
    counts = lambda: sorted(lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas")
    before = counts()
    with blas_single_thread():
        assert set(counts()) == {1}, counts()
    assert counts() == before, (counts(), before)
    print("ok")
    """
    env = dict(os.environ, CS231N_FAST_BLAS="scipy")
    r = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, env=env, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "ok"


def test_missing_extension_fails_import_with_reinstall_hint():
    code = """
    import importlib.abc, sys
    class Block(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path, target=None):
            if name == "cs231n_fast._ext.conv":
                raise ImportError("simulated missing extension")
    sys.meta_path.insert(0, Block())
    try:
        import cs231n_fast
    except ImportError as exc:
        print("IMPORT-ERROR:", exc)
    else:
        print("imported")
    """
    out = _run(code)
    assert out.returncode == 0, out.stderr
    assert "IMPORT-ERROR:" in out.stdout
    assert "compiled kernels could not be imported" in out.stdout
    assert "pip install" in out.stdout


def test_compat_import_does_not_swallow_errors():
    # The course's fast_layers caught ImportError and failed later with a NameError.
    from cs231n_fast import compat

    assert callable(compat.im2col_cython) and callable(compat.col2im_6d_cython)


def test_every_csrc_module_is_imported_by_the_package():
    """setup.py builds every csrc/*.pyx; the package imports (and points at its BLAS) the
    modules listed in _EXT_MODULES: the two lists must not drift apart."""
    import pathlib

    import cs231n_fast

    csrc = pathlib.Path(__file__).resolve().parents[1] / "csrc"
    if not csrc.is_dir():
        pytest.skip("run from a source tree: csrc/ is not beside tests/")
    built = sorted(p.stem for p in csrc.glob("*.pyx"))
    assert sorted(cs231n_fast._EXT_MODULES) == built


# --- target_clones needs ifunc: glibc only -----------------------------------------------------

_CLONE_MACROS = {"simd.h": "CS_CLONES", "knn_kernels.h": "CS_CLONES", "rnn_kernels.h": "CS_RNN_CLONES"}


def _expand(cc, header, macro, *flags):
    """What ``macro`` expands to after ``#include header`` (csrc/ on the include path)."""
    import pathlib

    csrc = pathlib.Path(__file__).resolve().parents[1] / "csrc"
    src = f'#include "{header}"\nCS_PROBE_BEGIN {macro} CS_PROBE_END\n'
    r = subprocess.run([cc, "-E", "-P", "-x", "c", *flags, f"-I{csrc}", "-"], input=src, capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    line = next(x for x in r.stdout.splitlines() if "CS_PROBE_BEGIN" in x)
    return line.split("CS_PROBE_BEGIN", 1)[1].split("CS_PROBE_END", 1)[0].strip()


def test_target_clones_only_where_the_c_library_has_ifunc(tmp_path):
    """target_clones needs ifunc, which glibc has and musl (musllinux wheels) has not: there
    the attribute must expand to nothing (a musl build would not compile, or not load)."""
    import pathlib
    import platform
    import shutil

    csrc = pathlib.Path(__file__).resolve().parents[1] / "csrc"
    gcc = shutil.which("gcc")
    if not csrc.is_dir() or gcc is None or platform.machine() != "x86_64" or not sys.platform.startswith("linux"):
        pytest.skip("target_clones is used by GCC builds on x86-64 Linux only, from a source tree")
    # ifunc.h decides from the C library: a musl-like <features.h> (no __GLIBC__) -> no ifunc.
    (tmp_path / "features.h").write_text("#define _FEATURES_H_LIKE_MUSL 1\n")
    assert _expand(gcc, "ifunc.h", "CS_HAVE_IFUNC", f"-I{tmp_path}") == "CS_HAVE_IFUNC"
    uclibc = tmp_path / "uclibc"
    uclibc.mkdir()
    (uclibc / "features.h").write_text("#define __GLIBC__ 2\n#define __UCLIBC__ 1\n")
    assert _expand(gcc, "ifunc.h", "CS_HAVE_IFUNC", f"-I{uclibc}") == "CS_HAVE_IFUNC"
    glibc = platform.libc_ver()[0] == "glibc"
    if glibc:
        assert _expand(gcc, "ifunc.h", "CS_HAVE_IFUNC") == "1"
    # Every header with clones takes the decision from ifunc.h (its guard predefined: "no").
    for header, macro in _CLONE_MACROS.items():
        assert _expand(gcc, header, macro, "-DCS231N_FAST_IFUNC_H") == "", header
        if glibc:
            assert "target_clones" in _expand(gcc, header, macro), header
        # The real thing where the musl toolchain is installed (Debian's musl-tools).
        if shutil.which("musl-gcc"):
            assert _expand("musl-gcc", header, macro) == "", f"{header} with musl-gcc"
