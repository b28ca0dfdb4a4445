"""The ``cs231n-fast`` command line (``cs231n_fast.__main__``)."""

import json
import subprocess
import sys

import pytest

from cs231n_fast.__main__ import main

MACHINE_KEYS = {"cpu_model", "logical_cpus", "usable_cpus", "n_threads", "blas", "versions"}


def test_main_info_prints_config(capsys):
    assert main(["info"]) == 0
    out = capsys.readouterr().out
    assert "cs231n_fast" in out
    assert "OpenMP" in out


def test_main_bench_quick_writes_json(capsys, tmp_path):
    path = tmp_path / "bench.json"
    argv = ["bench", "--quick", "--kernels", "pool", "--dtype", "float32", "--repeat", "1",
            "--json", str(path)]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "pool-100x3x32x32-k2s2" in out  # the table
    assert "conv-" not in out

    doc = json.loads(path.read_text())
    assert MACHINE_KEYS <= set(doc["machine"])
    assert doc["machine"]["n_threads"] >= 1
    assert {"python", "numpy", "cs231n_fast"} <= set(doc["machine"]["versions"])
    assert doc["config"]["kernels"] == ["pool"]
    results = doc["results"]
    assert results
    for r in results:
        assert r["kernel"] == "pool"
        assert r["dtype"] == "float32"
        assert r["work"]["bytes"] > 0
        for impl in ("fast", "reference"):
            entry = r["impls"][impl]
            assert entry["status"] == "ok", entry
            assert entry["median_ms"] > 0
            assert entry["repeats"] == 1
        torch = r["impls"]["torch"]
        assert torch["status"] in ("ok", "skipped")
        if torch["status"] == "ok":
            assert torch["median_ms"] > 0
            assert r["ratio_vs_torch"] > 0
        assert r["speedup_vs_reference"] > 0
        assert r["rate"]["unit"] == "GB/s" and r["rate"]["value"] > 0


def test_main_bench_knn_quick_tiny_cases(capsys, tmp_path, monkeypatch):
    """``bench --kernels knn --quick`` end to end, on tiny stand-ins for the real cases."""
    from cs231n_fast import benchmarking as bm

    tiny = dict(n_train=120, n_query=16, d=24, quick=True, quick_impls=bm.KNN_IMPLS)
    cases = (
        bm.KnnCase("pairwise", "l1", **tiny, impls=("fast", "reference", "scipy", "sklearn")),
        bm.KnnCase("kneighbors", "l2", k=4, **tiny),
        bm.KnnCase("predict", "l2", k=3, **tiny),
    )
    monkeypatch.setitem(bm.CASES, "knn", cases)
    path = tmp_path / "bench.json"
    argv = ["bench", "--quick", "--kernels", "knn", "--repeat", "1", "--threads", "2",
            "--json", str(path)]
    assert main(argv) == 0
    out = capsys.readouterr().out
    for case in cases:
        assert case.id in out
    assert "ours/peer" in out and "conv-" not in out

    results = json.loads(path.read_text())["results"]
    assert [(r["case"], r["dtype"]) for r in results] == [(c.id, "float32") for c in cases]
    for case, r in zip(cases, results):
        assert r["kernel"] == "knn"
        assert set(r["impls"]) == set(case.impls)
        for impl in ("fast", "reference", "scipy"):
            entry = r["impls"][impl]
            assert entry["status"] == "ok", (impl, entry)
            assert entry["median_ms"] > 0 and entry["repeats"] == 1
        for impl, entry in r["impls"].items():
            assert entry["status"] in ("ok", "skipped"), (impl, entry)
        assert r["speedup_vs_reference"] > 0
        assert r["best_peer"] in bm.KNN_PEERS
        assert r["paired_ratio_vs_best_peer"] > 0
        if case.op == "pairwise":
            assert r["agreement_min"] is None
        else:
            assert r["impls"]["fast"]["agreement"] == 1.0  # exact, like the reference
            assert 0.9 <= r["agreement_min"] <= 1.0
            for entry in r["impls"].values():
                if entry["status"] == "ok":
                    assert entry["extra_mb"] >= 0


@pytest.mark.parametrize(
    "argv, expected",
    [
        ([], "COMMAND"),
        (["frobnicate"], "frobnicate"),
        (["bench", "--kernels", "fft"], "fft"),
        (["bench", "--kernels", ""], "--kernels"),
        (["bench", "--impls", "jax"], "jax"),
        (["bench", "--dtype", "float16"], "float16"),
        (["bench", "--threads", "0"], "--threads"),
        (["bench", "--threads", "two"], "--threads"),
        (["bench", "--repeat", "-1"], "--repeat"),
        (["bench", "--json", "/nonexistent-dir/bench.json"], "--json"),
        (["info", "--quick"], "--quick"),
    ],
)
def test_main_rejects_bad_arguments(capsys, argv, expected):
    with pytest.raises(SystemExit) as excinfo:
        main(argv)
    assert excinfo.value.code == 2
    assert expected in capsys.readouterr().err


@pytest.mark.parametrize("argv", [["--help"], ["bench", "--help"], ["info", "--help"]])
def test_main_help_exits_zero(capsys, argv):
    with pytest.raises(SystemExit) as excinfo:
        main(argv)
    assert excinfo.value.code == 0
    assert "usage: cs231n-fast" in capsys.readouterr().out


def test_main_runs_as_module():
    proc = subprocess.run(
        [sys.executable, "-m", "cs231n_fast", "info"], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    assert "cs231n_fast" in proc.stdout
