"""What a user of ``cs231n-fast bench`` sees: each row's spread and noise flag, a selection
that runs nothing as a usage error, a chart read one way in both panels, the near-miss
option hints of the command line (issue 20). Nothing here asserts a timing."""

import json

import pytest

from cs231n_fast import benchmarking as bm
from cs231n_fast.__main__ import main
from cs231n_fast.bench.results import _with_spread


def _entry(times_ms, status="ok"):
    """An implementation's entry as the runner records it, from its timed calls (ms)."""
    return {"status": status, **bm.summarize([t / 1e3 for t in times_ms]),
            "times_ms": list(times_ms)}


def _row(kernel="pool", case="pool-case", dtype="float32", impls=None, peer="torch",
         paired=None):
    """A result row with the keys the table, the chart and the noise flag read."""
    impls = impls if impls is not None else {
        "fast": _entry([1.0, 1.01, 0.99, 1.0, 1.02]),
        "reference": _entry([10.0, 10.1, 9.9]),
        "torch": _entry([2.0, 2.02, 1.98, 2.0]),
    }

    def ms(impl):
        e = impls.get(impl)
        return e["median_ms"] if e and e["status"] == "ok" else None

    ours, ref = ms("fast"), ms("reference")
    peer_ms = ms(peer) if peer else None
    row = {
        "kernel": kernel, "case": case, "dtype": dtype, "n_threads": 2, "impls": impls,
        "rate": None, "peer": peer,
        "speedup_vs_reference": ref / ours if ours and ref else None,
        "ratio_vs_peer": ours / peer_ms if ours and peer_ms else None,
    }
    if paired:
        row["paired_ratios"] = paired
    return _with_spread(row)


def _paired(ratios):
    median = sorted(ratios)[len(ratios) // 2]
    return {"median": median, "min": min(ratios), "max": max(ratios),
            "mad": sorted(abs(r - median) for r in ratios)[len(ratios) // 2],
            "rounds": len(ratios)}


def test_summarize_reports_max_and_median_absolute_deviation():
    s = bm.summarize([0.001, 0.002, 0.003, 0.010])
    assert s["median_ms"] == pytest.approx(2.5)
    assert s["min_ms"] == pytest.approx(1.0) and s["max_ms"] == pytest.approx(10.0)
    # |x - 2.5| = 1.5, 0.5, 0.5, 7.5 ms: median 1.0 ms
    assert s["mad_ms"] == pytest.approx(1.0)
    assert s["repeats"] == 4


def test_row_spread_of_a_quiet_row_and_no_flag():
    row = _row()
    assert row["noisy"] == []
    spread = row["spread"]
    assert spread["min_ms"] == pytest.approx(0.99) and spread["max_ms"] == pytest.approx(1.02)
    assert spread["samples"] == 5
    assert spread["mad_pct"] == pytest.approx(1.0)  # MAD 0.01 ms of a 1.0 ms median


@pytest.mark.parametrize(
    "impl, times, reason",
    [
        # half the calls slowed: MAD 20% of the median
        ("fast", [1.0, 1.0, 1.5, 1.5, 1.2], "ours' calls"),
        # most calls slowed alike (small MAD), the fastest shows what the CPU can do
        ("fast", [0.3, 24.0, 24.0, 24.0, 24.0], "median 80.0x the fastest"),
        # the peer's calls scattered: the ratio is not trustworthy either
        ("torch", [2.0, 3.0, 2.0, 3.0, 2.5], "torch's calls"),
    ],
)
def test_row_is_flagged_noisy_when_its_calls_scatter(impl, times, reason):
    impls = {"fast": _entry([1.0, 1.01, 0.99]), "reference": _entry([10.0]),
             "torch": _entry([2.0, 2.01, 1.99])}
    impls[impl] = _entry(times)
    row = _row(impls=impls)
    assert row["noisy"], row
    assert any(reason in why for why in row["noisy"]), row["noisy"]


def test_row_is_flagged_noisy_when_its_paired_rounds_scatter():
    quiet = _row(paired={"torch": _paired([0.80, 0.81, 0.79, 0.80, 0.82])})
    assert quiet["noisy"] == []
    noisy = _row(paired={"torch": _paired([0.5, 0.8, 1.2, 0.6, 1.1])})
    assert any("paired ours/torch" in why for why in noisy["noisy"]), noisy["noisy"]


def test_too_few_samples_are_never_flagged():
    row = _row(impls={"fast": _entry([1.0, 30.0]), "reference": _entry([10.0]),
                      "torch": _entry([2.0])})
    assert row["noisy"] == []


def test_knn_row_is_judged_by_its_best_peer_only():
    # scipy (not the row's peer) scattered across rounds; sklearn, the best peer, did not.
    impls = {"fast": _entry([1.0, 1.0, 1.0]), "sklearn": _entry([2.0, 2.0, 2.0]),
             "scipy": _entry([5.0, 5.0, 5.0])}
    row = _row(kernel="knn", impls=impls, peer="sklearn",
               paired={"sklearn": _paired([0.5, 0.5, 0.5]), "scipy": _paired([0.1, 0.2, 0.4])})
    assert row["noisy"] == []


def test_table_shows_each_rows_spread_and_flags_noisy_rows():
    quiet = _row(case="pool-quiet")
    noisy = _row(case="pool-noisy", impls={"fast": _entry([0.3, 24.0, 24.0, 24.0]),
                                           "reference": _entry([10.0]),
                                           "torch": _entry([2.0])})
    text = bm.format_table([quiet, noisy])
    lines = text.splitlines()
    header = lines[0].split()
    assert "mad" in header and "note" in header
    quiet_line = next(line for line in lines if line.startswith("pool") and "pool-quiet" in line)
    noisy_line = next(line for line in lines if line.startswith("pool") and "pool-noisy" in line)
    assert "1%" in quiet_line.split() and bm.NOISY_NOTE not in quiet_line
    assert noisy_line.rstrip().endswith(bm.NOISY_NOTE)
    # the footnote names the row and the figures that make it noisy
    footnote = next(line for line in lines if line.startswith(f"{bm.NOISY_NOTE}: pool-noisy"))
    assert "0.3-24 ms" in footnote
    assert f"{bm.NOISY_NOTE}: pool-quiet" not in text


# --- a selection that runs nothing -----------------------------------------------------------


@pytest.fixture
def no_run(monkeypatch):
    def run(*args, **kwargs):
        raise AssertionError("the benchmarks ran although the options select nothing")

    monkeypatch.setattr(bm, "run", run)


@pytest.mark.parametrize(
    "argv, explanation",
    [
        # the quick kNN cases are float32 only
        (["--kernels", "knn", "--dtype", "float64", "--quick"], "knn --quick: dtypes float32"),
        # no kNN case runs torch
        (["--kernels", "knn", "--impls", "torch"], "knn: dtypes float32, float64; impls fast"),
        # the training steps have no NumPy twin
        (["--kernels", "models", "--impls", "reference"], "models: dtypes"),
    ],
)
def test_bench_selection_of_nothing_is_a_usage_error(capsys, no_run, argv, explanation):
    with pytest.raises(SystemExit) as excinfo:
        main(["bench", *argv])
    assert excinfo.value.code == 2
    err = capsys.readouterr().err
    assert "usage: cs231n-fast bench" in err
    assert "selects no benchmark case" in err
    assert explanation in err


def test_plan_is_what_run_times(monkeypatch):
    case = bm.PoolCase(2, 3, 8, 8, kh=2, kw=2, stride=2, quick=True)
    monkeypatch.setitem(bm.CASES, "pool", (case,))
    planned = bm.plan(("pool", "knn"), quick=True, dtypes=("float64",), impls=("fast",))
    assert planned == [(case, ["float64"], ["fast"])]  # no quick kNN case is float64
    results = bm.run(quick=True, dtypes=("float64",), impls=("fast",),
                     kernels=("pool", "knn"), repeat=1)
    assert [(r["case"], r["dtype"]) for r in results] == [(case.id, "float64")]
    assert bm.plan(("knn",), quick=True, dtypes=("float64",)) == []
    with pytest.raises(ValueError, match="dtypes"):
        bm.plan(("pool",), dtypes=("float16",))


def test_bench_notes_a_family_that_selects_nothing_and_runs_the_rest(capsys, monkeypatch,
                                                                     tmp_path):
    case = bm.PoolCase(2, 3, 8, 8, kh=2, kw=2, stride=2, quick=True)
    monkeypatch.setitem(bm.CASES, "pool", (case,))
    path = tmp_path / "bench.json"
    argv = ["bench", "--quick", "--kernels", "pool,knn", "--dtype", "float64", "--repeat", "1",
            "--impls", "fast,reference", "--json", str(path)]
    assert main(argv) == 0
    captured = capsys.readouterr()
    assert "note: no knn case matches the options (knn --quick: dtypes float32" in captured.err
    assert case.id in captured.out
    results = json.loads(path.read_text())["results"]
    assert [r["kernel"] for r in results] == ["pool"]
    for r in results:  # every row carries its spread and its (possibly empty) noise reasons
        assert r["spread"]["samples"] == 1 and r["spread"]["min_ms"] > 0
        assert isinstance(r["noisy"], list)


# --- the chart -------------------------------------------------------------------------------


def test_chart_reads_one_way_in_both_panels_and_keeps_every_row():
    pool = _row()  # ours 1 ms, reference 10 ms, torch 2 ms
    slower = _row(case="pool-slower", impls={"fast": _entry([4.0]),
                                             "reference": _entry([2.0]),
                                             "torch": _entry([1.0])})
    knn = _row(kernel="knn", case="knn-quick", peer=None,
               impls={"fast": _entry([3.0]),
                      "sklearn": {"status": "skipped", "reason": "not importable"}})
    labels, panels = bm.chart_data([pool, slower, knn])
    assert len(labels) == 3 and labels[2].startswith("knn")
    (ref_title, ref_label, versus_ref, ref_notes), (peer_title, peer_label, versus_peer,
                                                    peer_notes) = panels
    for label in (ref_label, peer_label):
        assert "> 1: ours faster" in label
    # higher is better on both: ours 10x the reference and 2x torch; the slower row < 1 on both
    assert versus_ref[:2] == [pytest.approx(10.0), pytest.approx(0.5)]
    assert versus_peer[:2] == [pytest.approx(2.0), pytest.approx(0.25)]
    assert peer_notes[0] == " vs torch"
    # a kNN row without reference or peer is still drawn, with the reason
    assert versus_ref[2] is None and ref_notes[2] == "no reference in this run"
    assert versus_peer[2] is None and "sklearn not importable" in peer_notes[2]


def test_chart_marks_noisy_rows():
    noisy = _row(impls={"fast": _entry([0.3, 24.0, 24.0, 24.0]), "reference": _entry([10.0]),
                        "torch": _entry([2.0])})
    labels, _ = bm.chart_data([noisy, _row()])
    assert labels[0].endswith("(noisy)") and not labels[1].endswith("(noisy)")


def test_plot_draws_rows_without_figures(tmp_path):
    pytest.importorskip("matplotlib")
    knn = _row(kernel="knn", case="knn-quick", peer=None, impls={"fast": _entry([3.0])})
    path = tmp_path / "chart.png"
    bm.plot_results([_row(), knn], path)
    assert path.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")


# --- the command line's hints ------------------------------------------------------------------


@pytest.mark.parametrize(
    "argv, hint",
    [
        (["train", "--dataset", "cifar10"], "--dataset: did you mean --data?"),
        (["train", "--dataset=cifar10"], "--dataset: did you mean --data?"),
        (["train", "--seeds", "3"], "did you mean --seed?"),
        (["bench", "--jsn", "out.json"], "did you mean --json?"),
        (["bench", "--kernel-list", "conv"], "did you mean --kernels?"),
        (["trian"], "did you mean train?"),
    ],
)
def test_cli_suggests_the_option_meant(capsys, monkeypatch, argv, hint):
    monkeypatch.setattr(bm, "run", lambda *a, **k: pytest.fail("bench ran"))
    with pytest.raises(SystemExit) as excinfo:
        main(argv)
    assert excinfo.value.code == 2
    err = capsys.readouterr().err
    assert hint in err
    assert "usage: cs231n-fast" in err


def test_cli_unrecognized_argument_without_a_near_option_gets_no_hint(capsys):
    with pytest.raises(SystemExit) as excinfo:
        main(["info", "--frobnicate-the-widgets"])
    assert excinfo.value.code == 2
    err = capsys.readouterr().err
    assert "unrecognized arguments: --frobnicate-the-widgets" in err
    assert "did you mean" not in err


def test_bench_help_gives_the_expected_run_time_of_each_mode(capsys):
    with pytest.raises(SystemExit) as excinfo:
        main(["bench", "--help"])
    assert excinfo.value.code == 0
    out = " ".join(capsys.readouterr().out.split())
    for mode in ("--quick", "--kernels layers,models --quick", "pytest benchmarks"):
        assert mode in out, mode
    assert "approximate" in out
