#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Smoke test of the bench -> report.py path (suite `bench`).

    report_test.py MAPREG_BENCH REPORT_PY

Runs a smoke-sized bench over the scenarios the report plots, then report.py
on its output, and checks that the table has every scenario's section, that
every histogram found its run (report.py fails otherwise: the shim rebuilds
Google Benchmark's run names), and that the plots were drawn where
matplotlib is installed.  Nothing here reads a timing.
"""
import importlib.util
import json
import os
import subprocess
import sys
import tempfile


def entry(name, aggregate, real_time, line_ns):
    return {"name": name + "_" + aggregate, "run_name": name, "run_type": "aggregate",
            "aggregate_name": aggregate, "real_time": real_time, "cpu_time": real_time,
            "time_unit": "ns", "items_per_second": 1e9 / real_time, "cpu_line_ns": line_ns}


def slow_row_marked(report, tmp):
    """A row whose run probed slow lines is marked, and only that row (synthetic runs)."""
    runs = []
    for adapters, slow in ((1, False), (4, True)):
        for backend, ns in (("locked", 500.0), ("lockfree", 250.0)):
            name = "exhaustion/%s/adapters:%d/real_time/threads:1" % (backend, adapters)
            line = 160.0 if slow and backend == "lockfree" else 30.0
            runs += [entry(name, "median", ns, 30.0), entry(name, "mean", ns, line)]
    path = os.path.join(tmp, "synthetic.json")
    with open(path, "w") as f:
        json.dump({"context": {}, "benchmarks": runs}, f)
    out = subprocess.run([sys.executable, report, "--json", path, "--no-plots"],
                         capture_output=True, text=True).stdout
    rows = {line.split(" |")[0]: line for line in out.splitlines() if line.startswith("| adapters")}
    failures = []
    if "(† lockfree)" not in rows.get("| adapters=4 threads=1", ""):
        failures.append("the row with a slow probe is not marked with its side")
    if "(†" in rows.get("| adapters=1 threads=1", "(†"):
        failures.append("a row with quick probes is marked")
    if "1 of 4 runs above 2x the quickest" not in out:
        failures.append("the probe summary does not count the slow run")
    return failures


def main():
    bench, report = sys.argv[1], sys.argv[2]
    with tempfile.TemporaryDirectory() as tmp:
        out_json = os.path.join(tmp, "bench.json")
        out_hist = os.path.join(tmp, "hist.json")
        # --smoke runs 2000 iterations: enough requests that some must queue
        # behind the 64-register pool and be granted by frees (grant latency).
        subprocess.run([bench, "--smoke", "--hist-out=" + out_hist,
                        "--benchmark_out=" + out_json, "--benchmark_out_format=json",
                        "--benchmark_filter=^(fastpath|exhaustion|mixed)/|"
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
        for f in failures:
            print("FAIL:", f)
        checks = 11 + (len(pngs) if importlib.util.find_spec("matplotlib") else 0)
        print("%d passed, %d failed" % (checks - len(failures), len(failures)))
        return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
