#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Smoke test of the bench -> report.py path (suite `bench`).

    report_test.py MAPREG_BENCH REPORT_PY

Runs a smoke-sized bench over the scenarios the report plots, and the storm
and growth, then report.py on its output, and checks that the table has every
scenario's section, that every histogram found its run (report.py fails
otherwise: the shim rebuilds Google Benchmark's run names), that the storm's
and growth's grants made in cancels and grows have histograms of their own,
and that the plots were drawn where matplotlib is installed.  Nothing here
reads a timing.
"""
import importlib.util
import json
import os
import subprocess
import sys
import tempfile


def entry(name, aggregate, real_time, line_ns):
    """A run's aggregate (aggregate: "median", "mean") or, with None, a repetition."""
    out = {"name": name, "run_name": name, "run_type": "iteration", "real_time": real_time,
           "cpu_time": real_time, "time_unit": "ns", "items_per_second": 1e9 / real_time,
           "cpu_line_ns": line_ns}
    if aggregate is not None:
        out.update(name=name + "_" + aggregate, run_type="aggregate", aggregate_name=aggregate)
    return out


def cells_of(out, key):
    """The row's cells after its name: values, ratio, same-state ratio, ..."""
    line = next((line for line in out.splitlines() if line.startswith("| " + key + " |")), "")
    return [c.strip() for c in line.strip("|").split("|")][1:] + ["", "", "", ""]


def slow_row_marked(report, tmp):
    """Rows whose runs probed slow lines are marked, with their side, and get the
    ratio of the repetitions made in one state; a row probed quick is not marked
    (synthetic runs: three repetitions a side, ns a request and probe each)."""
    rows = {
        1: {"locked": [(500, 30)] * 3, "lockfree": [(250, 30)] * 3},
        4: {"locked": [(500, 30)] * 3, "lockfree": [(250, 30), (250, 30), (800, 160)]},
        8: {"locked": [(500, 30), (500, 30), (1500, 160)],
            "lockfree": [(250, 30), (800, 160), (800, 160)]},
        16: {"locked": [(500, 30)] * 3, "lockfree": [(800, 160)] * 3},
    }
    runs = []
    for adapters, sides in rows.items():
        for backend, reps in sides.items():
            name = "exhaustion/%s/adapters:%d/real_time/threads:1" % (backend, adapters)
            times = sorted(ns for ns, _ in reps)
            runs += [entry(name, None, ns, line) for ns, line in reps]
            runs += [entry(name, "median", times[1], 30.0),
                     entry(name, "mean", sum(times) / 3, sum(p for _, p in reps) / 3)]
    path = os.path.join(tmp, "synthetic.json")
    with open(path, "w") as f:
        json.dump({"context": {}, "benchmarks": runs}, f)
    out = subprocess.run([sys.executable, report, "--json", path, "--no-plots"],
                         capture_output=True, text=True).stdout
    failures = []
    quick, one_slow, both, apart = (cells_of(out, "adapters=%d threads=1" % a)
                                    for a in (1, 4, 8, 16))
    if "(†" in quick[2]:
        failures.append("a row with quick probes is marked")
    if not one_slow[2].endswith("(† lockfree)"):
        failures.append("the row with a slow repetition is not marked with its side")
    if one_slow[3] != "2 (quick: 3 / 2)":
        failures.append("the same-state ratio is not the quick repetitions' 2x")
    if both[3] != "2 (quick: 2 / 1)":
        failures.append("with both states on both sides, the same-state ratio is not the quick one")
    if apart[3] != "-":
        failures.append("sides in different states have a same-state ratio")
    if "4 of 8 runs above 2x the quickest" not in out:
        failures.append("the probe summary does not count the slow runs")
    return failures


def slow_requests_counted(report, tmp):
    """The slow-requests table counts, per million requests of all repetitions,
    the histogram's samples whose bucket starts at or above each bound
    (synthetic: two repetitions of 500 requests a side)."""
    hists = {
        "locked": [[5000, 5119, 900], [9984, 10111, 5], [20000, 20479, 85],
                   [200000, 204799, 9], [2000000, 2047999, 1]],
        "lockfree": [[5000, 5119, 50], [150000, 151999, 2]],
    }
    runs, side = [], {"histograms": [], "series": []}
    for backend, buckets in hists.items():
        name = "exhaustion/%s/adapters:1/real_time/threads:1" % backend
        for _ in range(2):
            runs.append(dict(entry(name, None, 100.0, 30.0), iterations=500))
        side["histograms"].append({"run_name": name, "metric": "grant",
                                   "count": sum(c for _, _, c in buckets), "buckets": buckets})
    paths = [os.path.join(tmp, f) for f in ("slow.json", "slow_hist.json")]
    for path, data in zip(paths, ({"context": {}, "benchmarks": runs}, side)):
        with open(path, "w") as f:
            json.dump(data, f)
    out = subprocess.run([sys.executable, report, "--json", paths[0], "--hist", paths[1],
                          "--no-plots"], capture_output=True, text=True).stdout
    table = out[out.find("### Slow requests"):]
    cells = cells_of(table, "exhaustion adapters=1 threads=1")
    # metric; samples per request, locked / lock-free; then > 10 us, 100 us, 1 ms.
    want = ["grant", "1", "0.052", "95000", "2000", "10000", "2000", "1000", "0"]
    if cells[:len(want)] != want:
        return ["slow-requests row %s, want %s" % (cells[:len(want)], want)]
    return []


def main():
    bench, report = sys.argv[1], sys.argv[2]
    with tempfile.TemporaryDirectory() as tmp:
        out_json = os.path.join(tmp, "bench.json")
        out_hist = os.path.join(tmp, "hist.json")
        # --smoke runs 2000 iterations: enough requests that some must queue
        # behind the 64-register pool and be granted by frees (grant latency).
        subprocess.run([bench, "--smoke", "--hist-out=" + out_hist,
                        "--benchmark_out=" + out_json, "--benchmark_out_format=json",
                        "--benchmark_filter=^(fastpath|exhaustion|mixed|cancel|growth)/|"
                        "^scaling/.*/threads:[12]$"],
                       check=True, stdout=subprocess.DEVNULL)
        result = subprocess.run([sys.executable, report, "--json", out_json,
                                 "--hist", out_hist, "--out", tmp],
                                capture_output=True, text=True)
        failures = []
        if result.returncode != 0:
            failures.append("report.py exited %d: %s" % (result.returncode, result.stderr))
        table = result.stdout
        for section in ("### Fast path", "### Scaling", "### Exhaustion", "### Mixed",
                        "glibc malloc(64)+free baseline", "cost in mallocs"):
            if section not in table:
                failures.append("table lacks %r" % section)
        # Grants made in cancels and grows are histograms of their own, not
        # merged into the frees' "grant" (bench/churn.c, churn_report), and
        # rows of their own in the slow-requests table.
        with open(out_hist) as f:
            metrics = {(h["run_name"].split("/")[0], h["metric"])
                       for h in json.load(f).get("histograms", [])}
        slow = table[table.find("### Slow requests"):]
        for scenario, metric in (("cancel", "cancel_grant"), ("growth", "grow_grant")):
            if (scenario, "grant") not in metrics or (scenario, metric) not in metrics:
                failures.append("%s lacks its grant and %s histograms" % (scenario, metric))
            elif not any(line.startswith("| " + scenario + " ") and "| %s |" % metric in line
                         for line in slow.splitlines()):
                failures.append("the slow-requests table has no %s %s row" % (scenario, metric))
        if importlib.util.find_spec("matplotlib") is not None:
            # The grant-latency plot needs sampled grants of queued requests:
            # a smoke run on a loaded machine may grant every request at once.
            with open(out_hist) as f:
                grants = sum(h["count"] for h in json.load(f).get("histograms", [])
                             if h["metric"] == "grant"
                             and h["run_name"].startswith("exhaustion/"))
            pngs = ["scaling_throughput.png", "mixed_largest_free_run.png"]
            if grants > 0:
                pngs.append("grant_latency_cdf.png")
            else:
                print("note: no grant sampled in the exhaustion runs: no CDF to check")
            for png in pngs:
                path = os.path.join(tmp, png)
                if not os.path.exists(path) or os.path.getsize(path) == 0:
                    failures.append("no plot %s" % png)
        # With two CPUs to pin to, every run was probed (bench/probe.h).
        probed = len(os.sched_getaffinity(0)) >= 2
        if probed and "cpu_line_ns (one cache line" not in table:
            failures.append("table lacks the cross-CPU probe's summary")
        failures += slow_row_marked(report, tmp)
        failures += slow_requests_counted(report, tmp)
        if "### Slow requests per million requests" not in table:
            failures.append("table lacks the slow requests per million")
        for f in failures:
            print("FAIL:", f)
        checks = 18 + (len(pngs) if importlib.util.find_spec("matplotlib") else 0)
        print("%d passed, %d failed" % (checks - len(failures), len(failures)))
        return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
