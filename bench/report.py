#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Turns mapreg-bench output into a markdown table of ratios and PNG plots.

    report.py --json bench.json [--hist hist.json] [--machine lscpu.txt]
              [--out DIR] [--no-plots] [--command TEXT]
              [--publish BENCHMARKS.md --publish-plots DIR]

bench.json is Google Benchmark's --benchmark_out; hist.json is mapreg-bench's
--hist-out.  Each run is taken at its median when the run was repeated
(--benchmark_repetitions), else at its single measurement.  Every backend
found is a column; ratios compare each backend with 'locked' (the reference
design) and the fast path also with glibc malloc(64)/free.  With only
'locked' present the ratio columns are simply left out.  Where runs carry
mapreg-bench's cross-CPU probe (cpu_line_ns), rows a side of which ran while
lines crossed slowly are marked, and given the ratio of the repetitions both
sides made in one state.

Plots (matplotlib, Debian's python3-matplotlib: run with /usr/bin/python3):
throughput vs threads (scaling), grant-latency CDF and percentile spectrum
(exhaustion), largest free run over time (mixed).
"""
import argparse
import json
import math
import os
import sys

REFERENCE = "locked"
BASELINE = "malloc"
# mapreg-bench probes how long a cache line takes to cross between the two
# CPUs it pins to, before and after every run (bench/probe.h).  A run whose
# probe read more than SLOW_LINES times the quickest run's ran, at least in
# part, while the vCPUs were far apart: its row's ratio is marked.
LINE_COUNTER = "cpu_line_ns"
SLOW_LINES = 2.0
SLOW_MARK = " († %s)"


def parse_run_name(run_name, flags=None):
    """'scaling/locked/shared:1/manual_time/threads:4' -> (scenario, backend, params);
    parts without a value ('real_time', 'manual_time') are added to `flags`."""
    parts = run_name.split("/")
    params = {}
    for part in parts[2:]:
        if ":" in part:
            key, value = part.split(":", 1)
            params[key] = int(value) if value.lstrip("-").isdigit() else value
        elif flags is not None:
            flags.add(part)
    return parts[0], parts[1] if len(parts) > 1 else "", params


def to_ns(value, unit):
    return value * {"ns": 1, "us": 1e3, "ms": 1e6, "s": 1e9}[unit]


def median(values):
    values = sorted(values)
    n = len(values)
    if n == 0:
        return None
    return values[n // 2] if n % 2 else (values[n // 2 - 1] + values[n // 2]) / 2


class Run:
    """One benchmark run: its median figures and its spread."""

    def __init__(self, run_name, entries, aggregates):
        self.run_name = run_name
        self.flags = set()
        self.scenario, self.backend, self.params = parse_run_name(run_name, self.flags)
        self.values = {}
        self.cv = {}
        self.mean = {}
        if "median" in aggregates:
            self.values = self._figures(aggregates["median"])
            if "cv" in aggregates:
                self.cv = self._figures(aggregates["cv"], raw=True)
            if "mean" in aggregates:
                self.mean = self._figures(aggregates["mean"])
        else:
            figures = [self._figures(e) for e in entries]
            for key in figures[0]:
                self.values[key] = median([f[key] for f in figures if key in f])
        self.repetitions = max(1, len(entries))
        # The iterations of the repetitions: what the histograms (--hist-out) count over.
        self.iterations = sum(e.get("iterations", 0) for e in entries)
        # Each repetition's own figures, where the JSON has them (tools/bench.sh
        # writes them beside the aggregates): for comparing like with like.
        self.reps = [Repetition(self.flags, self._figures(e)) for e in entries]

    @staticmethod
    def _figures(entry, raw=False):
        skip = {"name", "run_name", "run_type", "aggregate_name", "aggregate_unit",
                "family_index", "per_family_instance_index", "repetitions",
                "repetition_index", "threads", "iterations", "time_unit", "label",
                "error_occurred", "error_message"}
        out = {}
        for key, value in entry.items():
            if key in skip or not isinstance(value, (int, float)):
                continue
            if key in ("real_time", "cpu_time") and not raw:
                value = to_ns(value, entry.get("time_unit", "ns"))
            out[key] = value
        return out

    def get(self, key):
        return self.values.get(key)

    def line_ns(self):
        """The cross-CPU line probe around this run: the slowest repetition's where
        they are known, else their mean aggregate, so that one repetition in the
        slow state shows (mapreg-bench's cpu_line_ns)."""
        probes = [r.get(LINE_COUNTER) for r in self.reps if r.get(LINE_COUNTER)]
        if probes:
            return max(probes)
        return self.mean.get(LINE_COUNTER, self.values.get(LINE_COUNTER))

    def row_key(self):
        return tuple(sorted((k, v) for k, v in self.params.items()))


class Repetition:
    """One repetition of a run, read through the same accessors as a Run."""

    def __init__(self, flags, figures):
        self.flags = flags
        self.figures = figures

    def get(self, key):
        return self.figures.get(key)


def load_runs(path):
    with open(path) as f:
        data = json.load(f)
    by_name = {}
    for entry in data.get("benchmarks", []):
        if entry.get("error_occurred"):
            continue
        slot = by_name.setdefault(entry["run_name"], {"entries": [], "aggregates": {}})
        if entry.get("run_type") == "aggregate":
            slot["aggregates"][entry["aggregate_name"]] = entry
        else:
            slot["entries"].append(entry)
    runs = [Run(name, s["entries"], s["aggregates"]) for name, s in by_name.items()
            if s["entries"] or "median" in s["aggregates"]]
    return data.get("context", {}), runs


# What each scenario's table shows: the primary figure (and whether it is a
# time, lower better, or a rate, higher better), then counters beside it.
def ns_per_op(run):
    """Per iteration: wall (or manual) time where the run is timed so, else CPU time."""
    timed_by_wall = run.flags & {"real_time", "manual_time"}
    return run.get("real_time") if timed_by_wall else run.get("cpu_time")


def per_second(run):
    return run.get("items_per_second")


SCENARIOS = [
    ("fastpath", "Fast path: one thread, sync allocate + free_adapter_object + "
     "free_map_registers", "ns/op", ns_per_op, "time",
     ["op_p50_ns", "op_p99_ns", "op_p999_ns", "op_p9999_ns"]),
    ("scaling", "Scaling: I/Os per second, all threads", "Mops/s",
     lambda r: per_second(r) and per_second(r) / 1e6, "rate", ["op_p99_ns"]),
    ("exhaustion", "Exhaustion: pool 64, async 1..8, frees on another thread", "k req/s",
     lambda r: per_second(r) and per_second(r) / 1e3, "rate",
     ["grant_p50_ns", "grant_p99_ns", "grant_p999_ns", "grant_p9999_ns", "grant_max_ns",
      "grant_samples", "wait_p99_ns", "wait_p999_ns", "wait_p9999_ns", "queued_pct",
      "fifo_inversions"]),
    ("mixed", "Mixed Pareto sizes and lifetimes (time: library calls only)", "ns/tick",
     ns_per_op, "time",
     ["sync_fail_pct", "frag_fail_pct", "largest_run_share_mean", "alloc_p99_ns",
      "alloc_p999_ns", "alloc_p9999_ns", "alloc_max_ns"]),
    ("cancel", "Cancellation storm: half the submissions cancel a random live request",
     "k req/s", lambda r: per_second(r) and per_second(r) / 1e3, "rate",
     ["cancelled", "cancel_too_late", "grant_p99_ns", "grant_p999_ns", "grant_p9999_ns",
      "grant_samples", "cancel_grant_p50_ns", "cancel_grant_p99_ns", "cancel_grant_samples",
      "wait_p99_ns", "wait_p999_ns", "wait_p9999_ns", "routine_after_cancel",
      "double_grants", "leaked_requests"]),
    ("crossfree", "Cross-thread free: allocate on CPU 0, free on CPU 1", "ns/op", ns_per_op,
     "time", ["free_p50_ns", "free_p99_ns", "alloc_retries"]),
    ("poll", "Poll mode: reactor per poll adapter, pool 64", "k req/s",
     lambda r: per_second(r) and per_second(r) / 1e3, "rate",
     ["wait_p50_ns", "wait_p99_ns", "wait_p999_ns", "wait_p9999_ns", "wait_max_ns",
      "eventfd_waits", "eventfd_timeouts"]),
    ("growth", "Growth under load: exhaustion + mapreg_pool_grow", "k req/s",
     lambda r: per_second(r) and per_second(r) / 1e3, "rate",
     ["grow_p50_ns", "grow_p99_ns", "grant_p99_ns", "grant_p999_ns", "grant_p9999_ns",
      "grant_samples", "grow_grant_p50_ns", "grow_grant_p99_ns", "grow_grant_samples",
      "wait_p99_ns", "wait_p999_ns", "wait_p9999_ns", "queued_pct",
      "final_registers"]),
    ("batches", "Batches: own adapters, free 32 single-register runs then claim 32",
     "M runs/s", lambda r: per_second(r) and per_second(r) / 1e6, "rate",
     ["batch_p50_ns", "batch_p99_ns"]),
]


def fmt(value):
    if value is None:
        return "-"
    if isinstance(value, float) and not value.is_integer() or abs(value) < 10:
        if abs(value) >= 100:
            return "%.0f" % value
        return "%.3g" % value
    return "%d" % value


def fmt_params(params):
    return " ".join("%s=%s" % (k, v) for k, v in sorted(params.items())
                    if k not in ("threads",)) + \
        (" threads=%s" % params["threads"] if "threads" in params else "")


def speedup(kind, mine, reference):
    """How many times faster `mine` is than `reference` (> 1: faster)."""
    if mine is None or reference is None or mine == 0 or reference == 0:
        return None
    return reference / mine if kind == "time" else mine / reference


def line_quickest(runs):
    probes = [r.get(LINE_COUNTER) for r in runs if r.get(LINE_COUNTER)]
    return min(probes) if probes else None


def slow_lines(run, quickest):
    """Whether `run` ran (in part) while lines crossed CPUs slowly."""
    ns = run.line_ns() if run is not None else None
    return bool(ns and quickest and ns > SLOW_LINES * quickest)


def same_state_speedup(kind, primary, run, ref, quickest):
    """The speed-up from the repetitions of both sides that ran in one machine
    state (the quick one if both have some there), as text, or None."""
    if run is None or ref is None or not run.reps or not ref.reps or not quickest:
        return None

    def state(rep):
        ns = rep.get(LINE_COUNTER)
        return "slow" if ns and ns > SLOW_LINES * quickest else "quick"

    for wanted in ("quick", "slow"):
        mine = [primary(r) for r in run.reps if state(r) == wanted and primary(r)]
        theirs = [primary(r) for r in ref.reps if state(r) == wanted and primary(r)]
        if mine and theirs:
            return "%s (%s: %d / %d)" % (fmt(speedup(kind, median(mine), median(theirs))),
                                         wanted, len(theirs), len(mine))
    return "-"


def scenario_table(name, title, unit, primary, kind, extras, runs, backends):
    mine = [r for r in runs if r.scenario == name and r.backend != BASELINE]
    if not mine:
        return []
    baseline = [r for r in runs if r.scenario == name and r.backend == BASELINE]
    base_value = primary(baseline[0]) if baseline else None
    others = [b for b in backends if b != REFERENCE]
    header = ["run"] + ["%s %s" % (b, unit) for b in backends]
    # The same-state column, where repetitions were kept with their probes.
    paired = REFERENCE in backends and any(
        rep.get(LINE_COUNTER) for r in mine for rep in r.reps)
    if REFERENCE in backends:
        header += ["%s speed-up vs %s" % (b, REFERENCE) for b in others]
    if paired:
        header += ["same state (repetitions %s / %s)" % (REFERENCE, b) for b in others]
    if base_value is not None:
        header += ["%s cost in mallocs" % b for b in backends]
    header += ["%s %s" % (b, e) for e in extras for b in backends]
    rows = {}
    for r in mine:
        rows.setdefault(r.row_key(), {})[r.backend] = r
    quickest = line_quickest(runs)
    marked = 0
    lines = ["### %s" % title, ""]
    if base_value is not None:
        lines += ["glibc malloc(64)+free baseline: %s ns/op (p99 %s ns)." % (
            fmt(base_value), fmt(baseline[0].get("op_p99_ns"))), ""]
    lines += ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for key in sorted(rows):
        by_backend = rows[key]
        cells = [fmt_params(dict(key))]
        for b in backends:
            run = by_backend.get(b)
            value = primary(run) if run else None
            cell = fmt(value)
            cv = None
            if run is not None:
                cv = run.cv.get("items_per_second" if kind == "rate" else
                                "real_time" if run.flags & {"real_time", "manual_time"}
                                else "cpu_time")
            if cv is not None and value is not None:
                cell += " ±%.0f%%" % (100 * cv)
            cells.append(cell)
        ref = by_backend.get(REFERENCE)
        if REFERENCE in backends:
            same = []
            for b in others:
                run = by_backend.get(b)
                cell = fmt(speedup(kind, primary(run) if run else None,
                                   primary(ref) if ref else None))
                slow = [name for name, r in ((REFERENCE, ref), (b, run))
                        if slow_lines(r, quickest)]
                if slow:
                    cell += SLOW_MARK % ("both" if len(slow) == 2 else slow[0])
                    marked += 1
                cells.append(cell)
                # Only where a mark says the sides may differ: else it is the ratio.
                same.append(same_state_speedup(kind, primary, run, ref, quickest) or "-"
                            if slow else "")
            if paired:
                cells += same
        if base_value is not None:
            for b in backends:
                run = by_backend.get(b)
                value = primary(run) if run else None
                cells.append(fmt(value / base_value if value and kind == "time" else None))
        for e in extras:
            for b in backends:
                run = by_backend.get(b)
                cells.append(fmt(run.get(e) if run else None))
        lines.append("| " + " | ".join(cells) + " |")
    if marked:
        lines += ["", "(† backend) that backend's run of this row ran, in at least one "
                  "repetition, while a cache line took more than %gx the quickest probe's "
                  "time to cross between the CPUs (cpu_line_ns above); with one side "
                  "marked, the two sides did not run on the same machine.  \"same "
                  "state\": the speed-up from the medians of the repetitions that ran in "
                  "one state on both sides (the quick one where both have some), and how "
                  "many; - where no state holds both." % SLOW_LINES]
    return lines + [""]


def machine_summary(path):
    """The lscpu lines that say what the figures ran on."""
    if not path or not os.path.exists(path):
        return []
    wanted = ("Model name", "CPU(s)", "Thread(s) per core", "Hypervisor vendor",
              "L1d cache", "L2 cache", "L3 cache", "NUMA node(s)")
    out = []
    with open(path) as f:
        for line in f:
            key, _, value = line.partition(":")
            if key.strip() in wanted:
                out.append("%s: %s" % (key.strip(), value.strip()))
    return ["- machine (lscpu): " + "; ".join(out)] if out else []


def line_summary(context, runs):
    """One line on the cross-CPU probe: how quick, how slow, how many runs marked."""
    probed = [r for r in runs if r.line_ns()]
    if not probed:
        return []
    quickest = line_quickest(runs)
    slowest = max(r.line_ns() for r in probed)
    slow = sum(1 for r in probed if slow_lines(r, quickest))
    text = ("- cpu_line_ns (one cache line's trip between the two pinned CPUs, probed "
            "before and after every run): quickest run %s ns, slowest %s; %d of %d runs "
            "above %gx the quickest" % (fmt(quickest), fmt(slowest), slow, len(probed),
                                        SLOW_LINES))
    if "cpu_line_ns_at_start" in context:
        text += " (at start: %s ns)" % context["cpu_line_ns_at_start"]
    return [text]


def markdown(context, runs, backends, machine=None, command=None, side=None):
    lines = ["## Results", ""]
    if command:
        lines += ["- command: `%s`" % command]
    lines += machine_summary(machine)
    keys = ["date", "host_name", "num_cpus", "mhz_per_cpu", "load_avg", "library_build_type",
            "mapreg_backends", "latency_clock", "timer_overhead_ns", "latency_sample_every"]
    for k in keys:
        if k in context:
            value = context[k]
            if isinstance(value, list):
                value = ", ".join("%.2f" % v for v in value)
            lines.append("- %s: %s" % (k, value))
    lines += ["- runs: medians of the repetitions where repeated (±: coefficient of "
              "variation across them)"]
    lines += line_summary(context, runs)
    lines += [""]
    for spec in SCENARIOS:
        lines += scenario_table(*spec, runs, backends)
    lines += slow_table(side or {}, runs, backends)
    return "\n".join(lines)


# Per million requests, how many waited longer than each bound: the tail as a
# share of all requests, beside the percentiles, which are of the requests a
# histogram holds.  A grant is timed only for a request that queued and was
# served by a free, and the backends queue different shares (queued_pct): the
# lock-free one's grant p99.9 can be the 20th slowest of 20,000 grants where
# the locked one's is the 500th of 500,000.  Counted from the histograms over
# every repetition, a bucket counted when its low edge is at or above the
# bound (HDR-style buckets: within about 3 % of it).
SLOW_BOUNDS_NS = (10_000, 100_000, 1_000_000)
SLOW_METRICS = {"exhaustion": ("grant", "wait"), "cancel": ("grant", "cancel_grant", "wait"),
                "growth": ("grant", "grow_grant", "wait"), "poll": ("wait",)}


def slower_than(hist, bound):
    return sum(count for low, _, count in hist["buckets"] if low >= bound)


def slow_table(side, runs, backends):
    hists = {(h["run_name"], h["metric"]): h for h in side.get("histograms", [])}
    by_name = {r.run_name: r for r in runs}
    rows = {}
    for (name, metric), hist in hists.items():
        run = by_name.get(name)
        if run is None or metric not in SLOW_METRICS.get(run.scenario, ()) \
                or run.iterations == 0:
            continue
        key = (run.scenario, run.row_key(), metric)
        rows.setdefault(key, {})[run.backend] = (run, hist)
    if not rows:
        return []
    header = ["run", "metric"] + ["%s samples per request" % b for b in backends]
    header += ["%s > %s" % (b, fmt_bound(bound)) for bound in SLOW_BOUNDS_NS for b in backends]
    lines = ["### Slow requests per million requests", "",
             "Requests whose grant or wait took longer than the bound, per million "
             "requests of the run (every repetition; from the histograms).  The "
             "percentiles above are of the samples; these are of all requests.", "",
             "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for scenario, key, metric in sorted(rows):
        sides = rows[(scenario, key, metric)]
        cells = ["%s %s" % (scenario, fmt_params(dict(key))), metric]
        for b in backends:
            run, hist = sides.get(b, (None, None))
            cells.append(fmt(hist["count"] / run.iterations if run else None))
        for bound in SLOW_BOUNDS_NS:
            for b in backends:
                run, hist = sides.get(b, (None, None))
                cells.append(fmt(1e6 * slower_than(hist, bound) / run.iterations
                                 if run else None))
        lines.append("| " + " | ".join(cells) + " |")
    return lines + [""]


def fmt_bound(ns):
    return "%g ms" % (ns / 1e6) if ns >= 1e6 else "%g us" % (ns / 1e3)


def load_side(path):
    if not path or not os.path.exists(path):
        return {"histograms": [], "series": []}
    with open(path) as f:
        return json.load(f)


def check_side_names(side, runs):
    """Every histogram must belong to a run in the JSON (names are rebuilt by the shim)."""
    names = {r.run_name for r in runs}
    return sorted({h["run_name"] for h in side.get("histograms", [])} - names)


def plot_scaling(plt, runs, backends, out):
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for b in backends:
        for shared, label in ((0, "own adapter"), (1, "shared adapter")):
            points = sorted((r.params["threads"], per_second(r) / 1e6) for r in runs
                            if r.scenario == "scaling" and r.backend == b
                            and r.params.get("shared") == shared and per_second(r))
            if points:
                ax.plot(*zip(*points), marker="o", label="%s, %s" % (b, label))
    ax.set_xscale("log", base=2)
    ax.set_xlabel("threads (1-2 pinned; 4-16 oversubscribe 2 CPUs)")
    ax.set_ylabel("million I/Os per second")
    ax.set_title("scaling: throughput vs threads")
    ax.grid(True, alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(os.path.join(out, "scaling_throughput.png"), dpi=100)
    plt.close(fig)


def cdf_points(hist):
    total = hist["count"]
    seen = 0
    xs, ys = [], []
    for low, high, count in hist["buckets"]:
        seen += count
        xs.append(max(high, 1))
        ys.append(seen / total)
    return xs, ys


def plot_grant_latency(plt, side, out):
    hists = [h for h in side.get("histograms", [])
             if h["metric"] == "grant" and h["run_name"].startswith("exhaustion/")
             and h["count"] > 0]
    if not hists:
        return False
    fig, (cdf, spectrum) = plt.subplots(1, 2, figsize=(11, 4.5))
    for h in sorted(hists, key=lambda h: h["run_name"]):
        _, backend, params = parse_run_name(h["run_name"])
        label = "%s, %d adapter%s" % (backend, params.get("adapters", 0),
                                      "s" if params.get("adapters") != 1 else "")
        xs, ys = cdf_points(h)
        cdf.step(xs, ys, where="post", label=label)
        # Percentile spectrum: x = 1 / (1 - p), as HdrHistogram plots tails.
        tail = [(1 / (1 - y), x) for x, y in zip(xs, ys) if y < 1]
        if tail:
            spectrum.step(*zip(*tail), where="post", label=label)
    cdf.set_xscale("log")
    cdf.set_xlabel("grant latency, free start -> routine start (ns)")
    cdf.set_ylabel("fraction of grants")
    cdf.set_title("exhaustion: grant latency CDF")
    spectrum.set_xscale("log")
    spectrum.set_yscale("log")
    spectrum.set_xticks([1, 10, 100, 1000, 10000, 100000])
    spectrum.set_xticklabels(["0%", "90%", "99%", "99.9%", "99.99%", "99.999%"])
    spectrum.set_xlabel("percentile")
    spectrum.set_ylabel("grant latency (ns)")
    spectrum.set_title("exhaustion: grant latency by percentile")
    for ax in (cdf, spectrum):
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize="small")
    fig.tight_layout()
    fig.savefig(os.path.join(out, "grant_latency_cdf.png"), dpi=100)
    plt.close(fig)
    return True


def plot_free_run(plt, side, out):
    series = [s for s in side.get("series", []) if s["metric"] == "largest_free_run"
              and s["points"]]
    if not series:
        return False
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for s in sorted(series, key=lambda s: s["run_name"]):
        _, backend, params = parse_run_name(s["run_name"])
        ax.plot(*zip(*s["points"]), label="%s, load %s%%" % (backend, params.get("load")))
    ax.set_xlabel("tick (one allocation attempt per tick)")
    ax.set_ylabel("largest free run (registers)")
    ax.set_title("mixed: largest free run over time, pool 4096")
    ax.grid(True, alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(os.path.join(out, "mixed_largest_free_run.png"), dpi=100)
    plt.close(fig)
    return True


def make_plots(runs, side, backends, out):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("report.py: no matplotlib here (use /usr/bin/python3 with Debian's "
              "python3-matplotlib): plots skipped", file=sys.stderr)
        return []
    made = []
    if any(r.scenario == "scaling" for r in runs):
        plot_scaling(plt, runs, backends, out)
        made.append("scaling_throughput.png")
    if plot_grant_latency(plt, side, out):
        made.append("grant_latency_cdf.png")
    if plot_free_run(plt, side, out):
        made.append("mixed_largest_free_run.png")
    return made


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", required=True, help="Google Benchmark JSON (--benchmark_out)")
    ap.add_argument("--hist", help="mapreg-bench --hist-out file")
    ap.add_argument("--out", help="directory for results.md and the PNGs")
    ap.add_argument("--no-plots", action="store_true")
    ap.add_argument("--machine", help="lscpu output to summarise")
    ap.add_argument("--command", help="the command that made the figures")
    ap.add_argument("--publish", help="markdown file whose generated part to rewrite")
    ap.add_argument("--publish-plots", help="directory to copy the PNGs into")
    args = ap.parse_args()

    context, runs = load_runs(args.json)
    if not runs:
        print("report.py: no successful runs in %s" % args.json, file=sys.stderr)
        return 1
    side = load_side(args.hist)
    orphans = check_side_names(side, runs)
    if orphans:
        print("report.py: histograms of runs missing from the JSON: %s" % ", ".join(orphans),
              file=sys.stderr)
        return 1
    found = {r.backend for r in runs if r.backend != BASELINE}
    backends = ([REFERENCE] if REFERENCE in found else []) + sorted(found - {REFERENCE})
    text = markdown(context, runs, backends, args.machine, args.command, side)
    print(text)
    plots = []
    if args.out:
        os.makedirs(args.out, exist_ok=True)
        with open(os.path.join(args.out, "results.md"), "w") as f:
            f.write(text + "\n")
        if not args.no_plots:
            plots = make_plots(runs, side, backends, args.out)
            for name in plots:
                print("plot: %s" % os.path.join(args.out, name), file=sys.stderr)
    if args.publish:
        return publish(args, text, plots)
    return 0


BEGIN = "<!-- generated by tools/bench.sh --publish: begin -->"
END = "<!-- generated by tools/bench.sh --publish: end -->"


def publish(args, text, plots):
    """Rewrites the generated part of the doc and copies the plots beside it."""
    import shutil
    with open(args.publish) as f:
        doc = f.read()
    if BEGIN not in doc or END not in doc:
        print("report.py: %s lacks the generated-part markers" % args.publish, file=sys.stderr)
        return 1
    images = []
    if args.publish_plots and args.out:
        os.makedirs(args.publish_plots, exist_ok=True)
        for name in plots:
            shutil.copy(os.path.join(args.out, name), os.path.join(args.publish_plots, name))
            rel = os.path.relpath(os.path.join(args.publish_plots, name),
                                  os.path.dirname(os.path.abspath(args.publish)))
            images.append("![%s](%s)" % (name[:-4].replace("_", " "), rel))
    body = text + ("\n\n### Plots\n\n" + "\n\n".join(images) if images else "")
    head, rest = doc.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    with open(args.publish, "w") as f:
        f.write(head + BEGIN + "\n" + body + "\n" + END + tail)
    print("published: %s" % args.publish, file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
