#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""tools/io-bench.sh's report: reads every run's JSON (mapreg-io --json and fio
--output-format=json), prints the table, writes it as Markdown and plots it.

Each file is named VARIANT,bs=..,depth=..,threads=...json.  Exits 1 if a run
is missing or not ok (the table is still printed).

mapreg's share of an engine run's CPU, two ways:
  timed    the engine's: lfence+rdtsc around every 16th I/O's allocate and
           free and every poll, less the timer's own span, over getrusage CPU
           per I/O.  Serialized, so a call's cache misses cannot overlap the
           engine's work around it as they do untimed; and wall time, so a
           call that sleeps (the locked backend's mutex) counts its sleep.
  sampled  with --samples (perf script -F pid,ip,dso of a system-wide
           `perf record -e cpu-clock` over all runs): the share of the run's
           process's samples that fall in libmapreg.so (the engine's routines
           are its own code), with its binomial standard deviation.  No timer
           in the code; a statistical error instead."""
import argparse
import glob
import json
import math
import os
import sys

VARIANTS = ["lockfree", "locked", "malloc", "fio", "fio-batch"]


def size(s):
    return int(s[:-1]) * 1024 if s.endswith("K") else int(s)


def load_engine(d):
    return {
        "iops": d["iops"],
        "cpu_us": d["cpu_us_per_io"],
        "p50": d["lat_ns"]["p50"] / 1e3,
        "p99": d["lat_ns"]["p99"] / 1e3,
        "p999": d["lat_ns"]["p99.9"] / 1e3,
        "share": d["mapreg_share_pct"] if d["backend"] != "malloc" else None,
        "mapreg_ns": d["mapreg_ns_per_io"] if d["backend"] != "malloc" else None,
        "pid": d.get("pid"),
        "waits": d["waits"],
        "ok": d["ok"],
    }


def load_fio(d):
    job = d["jobs"][0]
    r = job["read"]
    # lat (submission + completion) is what the engine's "ask to completion" is;
    # clat alone starts at submission, after the I/O was batched.
    pct = r["lat_ns"]["percentile"]
    cpct = r["clat_ns"]["percentile"]
    cpu_s = (job["usr_cpu"] + job["sys_cpu"]) / 100.0 * job["job_runtime"] / 1000.0
    return {
        "iops": r["iops"],
        "cpu_us": cpu_s * 1e6 / r["total_ios"] if r["total_ios"] else 0.0,
        "p50": pct["50.000000"] / 1e3,
        "p99": pct["99.000000"] / 1e3,
        "p999": pct["99.900000"] / 1e3,
        "share": None,
        "mapreg_ns": None,
        "waits": None,
        "clat": (cpct["50.000000"] / 1e3, cpct["99.000000"] / 1e3, cpct["99.900000"] / 1e3),
        "ok": job["error"] == 0 and r["total_ios"] > 0,
    }


def load_samples(path):
    """Per process: (all samples, samples in libmapreg)."""
    counts = {}
    with open(path) as f:
        for line in f:
            parts = line.split()
            if len(parts) < 3 or not parts[0].isdigit():
                continue
            total, ours = counts.get(int(parts[0]), (0, 0))
            counts[int(parts[0])] = (total + 1, ours + ("libmapreg" in parts[-1]))
    return counts


def sampled_share(samples, r):
    """(share %, sd %) of an engine run, or None."""
    if samples is None or r.get("pid") is None or r["share"] is None:
        return None
    total, ours = samples.get(r["pid"], (0, 0))
    if total == 0:
        return None
    p = ours / total
    return (100 * p, 100 * math.sqrt(p * (1 - p) / total))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir", required=True)
    ap.add_argument("--runtime", default="?")
    ap.add_argument("--md")
    ap.add_argument("--plot")
    ap.add_argument("--samples", help="perf script -F pid,ip,dso output")
    a = ap.parse_args()
    samples = load_samples(a.samples) if a.samples else None

    runs, configs, bad = {}, [], []
    for path in sorted(glob.glob(os.path.join(a.dir, "*.json"))):
        name = os.path.basename(path)[:-5]
        variant, tag = name.split(",", 1)
        kv = dict(x.split("=") for x in tag.split(","))
        cfg = (size(kv["bs"]), int(kv["depth"]), int(kv["threads"]), kv["bs"])
        try:
            with open(path) as f:
                d = json.load(f)
            r = load_fio(d) if variant.startswith("fio") else load_engine(d)
        except (ValueError, KeyError, IndexError) as e:
            bad.append("%s: unreadable (%s)" % (name, e))
            continue
        if not r["ok"]:
            bad.append("%s: not ok" % name)
        runs[(variant, cfg)] = r
        if cfg not in configs:
            configs.append(cfg)
    configs.sort()

    lines = []
    lines.append("Random reads of a page-cached 1 GiB file, %s s per run. IOPS over all threads; "
                 "CPU = (user + system) / I/Os; latency in us (engine: ask for registers to completion reaped; fio: lat = "
                 "submission + completion, with its clat p50/p99/p99.9 after it); mapreg = share of CPU per I/O spent in mapreg calls, "
                 "timed by the engine%s." % (a.runtime, ", and sampled by perf (+- one standard deviation)" if samples else ""))
    lines.append("")
    sampled_col = " mapreg sampled |" if samples else ""
    lines.append("| bs | depth | threads | run | IOPS | vs fio | vs fio-batch | CPU us/IO | p50 | p99 | p99.9 | mapreg timed (fio: clat) |"
                 + sampled_col)
    lines.append("|---|---|---|---|---|---|---|---|---|---|---|---|" + ("---|" if samples else ""))
    iops_bar, share_bar, sampled_bar = [], [], []
    for cfg in configs:
        bs, depth, threads, bs_name = cfg
        fio = runs.get(("fio", cfg))
        fiob = runs.get(("fio-batch", cfg))
        for v in VARIANTS:
            r = runs.get((v, cfg))
            if r is None:
                bad.append("%s %s: missing" % (v, cfg[3:]))
                continue
            vs = "%.2fx" % (r["iops"] / fio["iops"]) if fio and fio["iops"] else ""
            vsb = "%.2fx" % (r["iops"] / fiob["iops"]) if fiob and fiob["iops"] else ""
            share = "%.1f %%" % r["share"] if r["share"] is not None else ""
            if "clat" in r:
                share = "clat %.1f / %.1f / %.1f" % r["clat"]
            name = "**%s**" % v if v == "lockfree" else v
            sampled = sampled_share(samples, r)
            cell = ""
            if samples:
                cell = " %s |" % ("%.1f %% +- %.1f" % sampled if sampled else "")
            lines.append("| %s | %d | %d | %s | %.0f | %s | %s | %.2f | %.1f | %.1f | %.1f | %s |"
                         % (bs_name, depth, threads, name, r["iops"], vs if not v.startswith("fio") else "",
                            vsb if not v.startswith("fio") else "", r["cpu_us"], r["p50"], r["p99"],
                            r["p999"], share) + cell)
            if v == "lockfree":
                if sampled:
                    sampled_bar.append((cfg,) + sampled)
                if fio:
                    iops_bar.append((cfg, r["iops"] / fio["iops"], r["iops"] / fiob["iops"] if fiob else 0))
                share_bar.append((cfg, r["share"]))
    lines.append("")
    if iops_bar:
        worst = min(iops_bar, key=lambda x: x[1])
        worst_b = min(iops_bar, key=lambda x: x[2])
        lines.append("Bar 1, lock-free engine IOPS >= fio's at the same bs/depth/threads: %s "
                     "(lowest ratio %.2fx at bs=%s depth=%d threads=%d; against fio-batch: lowest %.2fx "
                     "at bs=%s depth=%d threads=%d)."
                     % ("met in %d of %d" % (sum(1 for x in iops_bar if x[1] >= 1), len(iops_bar)),
                        worst[1], worst[0][3], worst[0][1], worst[0][2],
                        worst_b[2], worst_b[0][3], worst_b[0][1], worst_b[0][2]))
    if share_bar:
        hi = max(share_bar, key=lambda x: x[1])
        lines.append("Bar 2, mapreg's share of CPU per I/O < 5 %%, timed: met in %d of %d (highest %.1f %% at "
                     "bs=%s depth=%d threads=%d)."
                     % (sum(1 for x in share_bar if x[1] < 5), len(share_bar), hi[1], hi[0][3],
                        hi[0][1], hi[0][2]))
    if sampled_bar:
        hi = max(sampled_bar, key=lambda x: x[1])
        lines.append("Bar 2, sampled: met in %d of %d (highest %.1f %% +- %.1f at bs=%s depth=%d threads=%d)."
                     % (sum(1 for x in sampled_bar if x[1] < 5), len(sampled_bar), hi[1], hi[2],
                        hi[0][3], hi[0][1], hi[0][2]))
    text = "\n".join(lines)
    print(text)
    if a.md:
        with open(a.md, "w") as f:
            f.write(text + "\n")
    if a.plot and configs:
        plot(a.plot, configs, runs, a.runtime)
    for b in bad:
        print("io-bench: " + b, file=sys.stderr)
    return 1 if bad else 0


def plot(path, configs, runs, runtime):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(13, 4.8))
    labels = ["%s\nQD%d x%d" % (c[3], c[1], c[2]) for c in configs]
    width = 0.16
    colors = {"lockfree": "#1f77b4", "locked": "#9ecae1", "malloc": "#7f7f7f",
              "fio": "#d62728", "fio-batch": "#ff9896"}
    for ax, key, scale, title in ((axes[0], "iops", 1e6, "million IOPS (all threads)"),
                                  (axes[1], "cpu_us", 1, "CPU us per I/O (user + system)")):
        for i, v in enumerate(VARIANTS):
            xs = [j + (i - 2) * width for j in range(len(configs))]
            ys = [runs[(v, c)][key] / scale if (v, c) in runs else 0 for c in configs]
            ax.bar(xs, ys, width, label=v, color=colors[v])
        ax.set_xticks(range(len(configs)))
        ax.set_xticklabels(labels, fontsize=8)
        ax.set_title(title)
        ax.grid(axis="y", alpha=0.3)
    axes[0].legend(fontsize=8)
    fig.suptitle("mapreg-io (io_uring, registered buffers from a mapreg pool) beside fio: "
                 "random reads, page-cached 1 GiB file, %s s per run" % runtime, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


if __name__ == "__main__":
    sys.exit(main())
