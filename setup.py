"""Build the Cython extensions of cs231n_fast.

Everything else (metadata, packages, extras) lives in pyproject.toml. This file only decides
how the native modules in ``csrc/`` are compiled:

* OpenMP is probed by compiling, linking and running a tiny program with the configured
  compiler (model: ``sklearn/_build_utils/openmp_helpers.py``). If the probe fails the build
  prints one warning and goes on without OpenMP: ``prange`` becomes a serial loop and the
  results are bitwise identical.
* ``CS231N_FAST_REQUIRE_OPENMP=1`` turns a failed probe into a build error.
* ``CS231N_FAST_NO_OPENMP=1`` skips the probe and builds without OpenMP.
* ``CS231N_FAST_NATIVE=1`` adds ``-march=native`` (off by default: wheels must run anywhere).
* ``CS231N_FAST_MODULES=a,b`` (development) builds only those modules, for quick rebuilds in
  place (``python setup.py build_ext --inplace``).
* ``CS231N_FAST_DEBUG=1`` turns Cython's boundscheck/wraparound/initializedcheck on and, where
  the compiler supports it, AddressSanitizer (run the tests with the ASan runtime preloaded).

``-ffast-math`` is never used: it breaks NaN propagation, which the kernels document.
"""

import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import warnings

import numpy as np
from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

_HERE = os.path.dirname(os.path.abspath(__file__))
# Every csrc/<family>.pyx is the module cs231n_fast._ext.<family>.
MODULES = sorted(os.path.splitext(f)[0] for f in os.listdir(os.path.join(_HERE, "csrc")) if f.endswith(".pyx"))
# Development only: CS231N_FAST_MODULES=norm,activations rebuilds just those (the others keep
# the .so files already built in place). Never set it for an install.
if os.environ.get("CS231N_FAST_MODULES", "").strip():
    _only = {m.strip() for m in os.environ["CS231N_FAST_MODULES"].split(",") if m.strip()}
    _unknown = _only - set(MODULES)
    if _unknown:
        raise SystemExit(f"CS231N_FAST_MODULES names no csrc/*.pyx: {sorted(_unknown)}")
    MODULES = sorted(_only)


def _env_flag(name):
    return os.environ.get(name, "").strip().lower() in {"1", "true", "yes", "on"}


def _openmp_flags(compiler):
    """Return (compile_args, link_args) that enable OpenMP for this compiler type."""
    if compiler.compiler_type == "msvc":
        return ["/openmp"], []
    if sys.platform == "darwin":
        # Apple clang has no -fopenmp driver flag; it works with libomp via the preprocessor.
        return ["-Xpreprocessor", "-fopenmp"], ["-lomp"]
    return ["-fopenmp"], ["-fopenmp"]


_PROBE = textwrap.dedent(
    """\
    #include <omp.h>
    #include <stdio.h>
    int main(void) {
        int n = 0;
        #pragma omp parallel reduction(+:n)
        n += 1;
        printf("%d\\n", n > 0 && omp_get_max_threads() > 0);
        return 0;
    }
    """
)


def _probe_openmp(compiler):
    """Compile, link and run a small OpenMP program; True when it prints 1."""
    cflags, lflags = _openmp_flags(compiler)
    start = os.getcwd()
    tmp = tempfile.mkdtemp(prefix="cs231n_fast_omp_")
    try:
        os.chdir(tmp)
        with open("probe.c", "w") as f:
            f.write(_PROBE)
        os.makedirs("objects")
        objects = compiler.compile(["probe.c"], output_dir="objects", extra_postargs=cflags)
        exe = "probe" + (".exe" if sys.platform == "win32" else "")
        compiler.link_executable(objects, "probe", extra_postargs=lflags)
        out = subprocess.run([os.path.join(tmp, exe)], capture_output=True, text=True, timeout=60)
        return out.returncode == 0 and out.stdout.strip() == "1"
    except Exception:  # any compile, link or run failure means "no usable OpenMP"
        return False
    finally:
        os.chdir(start)
        shutil.rmtree(tmp, ignore_errors=True)


def _supports_flag(compiler, flag):
    tmp = tempfile.mkdtemp(prefix="cs231n_fast_flag_")
    try:
        src = os.path.join(tmp, "flag.c")
        with open(src, "w") as f:
            f.write("int main(void) { return 0; }\n")
        compiler.compile([src], output_dir=tmp, extra_postargs=[flag])
        return True
    except Exception:
        return False
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


class BuildExt(build_ext):
    """build_ext that adds OpenMP and optional flags once the real compiler is known, and
    compiles the modules in parallel (one job per CPU unless ``-j``/``--parallel`` says)."""

    def finalize_options(self):
        super().finalize_options()
        if not self.parallel:
            self.parallel = os.cpu_count() or 1

    def build_extensions(self):
        compiler = self.compiler
        use_openmp = False
        if _env_flag("CS231N_FAST_NO_OPENMP"):
            print("cs231n_fast: CS231N_FAST_NO_OPENMP is set; building without OpenMP")
        elif _probe_openmp(compiler):
            use_openmp = True
        elif _env_flag("CS231N_FAST_REQUIRE_OPENMP"):
            raise RuntimeError(
                "cs231n_fast: CS231N_FAST_REQUIRE_OPENMP=1 but the compiler "
                f"({compiler.compiler_type}) could not build and run an OpenMP program"
            )
        else:
            warnings.warn(
                "cs231n_fast: the compiler could not build an OpenMP program; the kernels are "
                "built without OpenMP and will run on one thread (results are identical). "
                "Set CS231N_FAST_REQUIRE_OPENMP=1 to make this an error.",
                stacklevel=1,
            )

        cflags, lflags = _openmp_flags(compiler) if use_openmp else ([], [])
        extra_c, extra_l = [], []
        if compiler.compiler_type != "msvc":
            # No FMA contraction: results must not depend on which instruction set was used.
            extra_c += ["-O3", "-ffp-contract=off"]
            if _env_flag("CS231N_FAST_NATIVE"):
                extra_c += ["-march=native"]
            if _env_flag("CS231N_FAST_DEBUG") and _supports_flag(compiler, "-fsanitize=address"):
                extra_c += ["-fsanitize=address", "-fno-omit-frame-pointer", "-O1", "-g"]
                extra_l += ["-fsanitize=address"]
        for ext in self.extensions:
            ext.extra_compile_args = list(ext.extra_compile_args) + cflags + extra_c
            ext.extra_link_args = list(ext.extra_link_args) + lflags + extra_l
        super().build_extensions()


def _extensions():
    from Cython.Build import cythonize

    debug = _env_flag("CS231N_FAST_DEBUG")
    directives = {
        "language_level": 3,
        "boundscheck": debug,
        "wraparound": debug,
        "initializedcheck": debug,
        "cdivision": not debug,
        "nonecheck": False,
        "embedsignature": True,
    }
    exts = [
        Extension(
            f"cs231n_fast._ext.{name}",
            [f"csrc/{name}.pyx"],
            include_dirs=[np.get_include(), "csrc"],
            define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
        )
        for name in MODULES
    ]
    return cythonize(
        exts,
        # Cythonize the modules in parallel too (a process pool; POSIX only, where it forks).
        nthreads=(os.cpu_count() or 1) if os.name == "posix" else 0,
        compiler_directives=directives,
        include_path=["csrc"],
        # The generated C is the same with and without OpenMP (every OpenMP call sits under
        # #ifdef _OPENMP); it differs between release and debug directives, so always regenerate
        # rather than trust a stale file from the other mode.
        force=True,
    )


setup(ext_modules=_extensions(), cmdclass={"build_ext": BuildExt})
