/* SPDX-License-Identifier: MIT */
/*
 * cbench: Google Benchmark (1.7.1) seen from C.  shim.cc implements it and
 * is the only C++ in the project.
 *
 * A benchmark is a C body run on each of its threads, with an optional
 * fixture: setup runs once per run on thread 0 before any thread starts its
 * body, teardown once on thread 0 after every thread has left its body
 * (unlike a bare thread_index() == 0 check, which races other threads'
 * clean-up).  Neither is timed.  The body's timed loop is:
 *
 *	int64_t n;
 *	while ((n = cbench_batch(s)) > 0)
 *		for (int64_t i = 0; i < n; i++)
 *			one_operation();
 *
 * cbench_batch() hands out the whole run as one batch (KeepRunningBatch:
 * about 0.5 ns of harness per iteration instead of 3 ns for KeepRunning),
 * then 0.  A body that fails calls cbench_fail() and may return at once:
 * the shim finishes the loop for it, so Google Benchmark's start and stop
 * barriers never deadlock, and the process exits non-zero (Google
 * Benchmark alone would exit 0).
 */
#ifndef MAPREG_BENCH_CBENCH_H
#define MAPREG_BENCH_CBENCH_H

#include <stdbool.h>
#include <stdint.h>

#include "histogram.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cbench cbench;			/* a registered benchmark */
typedef struct cbench_state cbench_state;	/* one thread of one run */

typedef void (*cbench_body_fn)(cbench_state *s);
/* Thread 0, before the bodies: returns what cbench_shared() gives every thread. */
typedef void *(*cbench_setup_fn)(cbench_state *s);
/* Thread 0, after every body: may set counters and report latencies. */
typedef void (*cbench_teardown_fn)(cbench_state *s, void *shared);

/*
 * Called on thread 0 of every run, untimed, whatever becomes of the run:
 * before the fixture's setup (after == false) and after its teardown
 * (after == true).  For probes of the machine around each run (main.c).
 */
typedef void (*cbench_around_fn)(cbench_state *s, bool after);
void cbench_around_runs(cbench_around_fn fn);

/* Registration (before cbench_run).  `param` is handed back by cbench_param(). */
cbench *cbench_register(const char *name, cbench_body_fn body, const void *param);
void cbench_fixture(cbench *b, cbench_setup_fn setup, cbench_teardown_fn teardown);
/* Names the arguments: "nregs" makes runs read ".../nregs:8/...". */
void cbench_arg_names(cbench *b, int count, const char *const names[]);
/* Adds one run with these arguments (as many as there are names). */
void cbench_args(cbench *b, int count, const int64_t args[]);
/*
 * Adds the runs of a grid: argument i takes lo[i], then powers of
 * `multiplier` (Google Benchmark's RangeMultiplier; 8 if 0) up to hi[i].
 */
void cbench_ranges(cbench *b, int count, const int64_t lo[], const int64_t hi[],
		   int multiplier);
/* Adds a thread count; every argument set runs with each thread count. */
void cbench_threads(cbench *b, int threads);
/* Pins thread i to the i-th allowed CPU in runs with no more threads than CPUs. */
void cbench_pin_threads(cbench *b);
/* Runs exactly this many iterations (for runs whose state depends on length). */
void cbench_fixed_iterations(cbench *b, int64_t iterations);
/* Times by the wall clock (needed with threads, or items/s is per CPU second). */
void cbench_use_real_time(cbench *b);
/*
 * Times every thread by the wall clock from the first thread's loop start to
 * the last thread's loop end (reported as manual time).  Use it with
 * threads: Google Benchmark's real time is the mean of the threads' own
 * spans, which reads short when threads outnumber CPUs and run in turn.
 */
void cbench_use_wall_time(cbench *b);
/* Times by cbench_set_iteration_time() only. */
void cbench_use_manual_time(cbench *b);

/* The timed loop. */
int64_t cbench_batch(cbench_state *s);
void cbench_pause(cbench_state *s);
void cbench_resume(cbench_state *s);
/* Manual time: seconds the batch just run took (call once per batch). */
void cbench_set_iteration_time(cbench_state *s, double seconds);

/* What the body knows. */
int64_t cbench_arg(const cbench_state *s, int index);
int cbench_thread_index(const cbench_state *s);
int cbench_thread_count(const cbench_state *s);
const void *cbench_param(const cbench_state *s);
void *cbench_shared(const cbench_state *s);
/* Iterations this run asks of every thread; and how many the loop has run. */
int64_t cbench_max_iterations(const cbench_state *s);
int64_t cbench_iterations(const cbench_state *s);

/* Results.  Counters of all threads are summed (CBENCH_AVG_THREADS averages). */
enum cbench_counter_kind {
	CBENCH_VALUE = 0,		/* reported as set */
	CBENCH_RATE = 1 << 0,		/* divided by the run's time: per second */
	CBENCH_AVG_THREADS = 1 << 1,	/* divided by the thread count */
	CBENCH_AVG_ITERATIONS = 1 << 3,	/* divided by the iteration count */
};
void cbench_items_processed(cbench_state *s, int64_t items);
void cbench_counter(cbench_state *s, const char *name, double value, unsigned int kind);
/*
 * Marks this run failed (the process will exit 1) with a printf-style reason.
 * Only from the run's own threads: Google Benchmark's State is not thread-
 * safe, so helper threads count what went wrong and the body reports it.
 */
void cbench_fail(cbench_state *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
bool cbench_failed(const cbench_state *s);

/*
 * Sets counters <metric>_p50_ns, _p99_ns, _p999_ns, _p9999_ns, _max_ns (and _samples)
 * from `h`, and keeps `h` for cbench_write_histograms() under this run's
 * name.  Call it from one thread per run (teardown, after merging).
 */
void cbench_report_latency(cbench_state *s, const char *metric, const struct hist *h);

/*
 * Keeps a series of (x, y) points, like a histogram, for the side file
 * (the longest run's; ties keep the first repetition's).
 */
void cbench_report_series(cbench_state *s, const char *metric, int count, const double x[],
			  const double y[]);

/* A key/value written into the JSON context and the histogram file. */
void cbench_context(const char *key, const char *value);

/*
 * Parses Google Benchmark's flags out of argv (prints `help` before Google
 * Benchmark's own text on --help), then complains about anything left.
 * Returns false on unrecognised arguments.
 */
bool cbench_initialize(int *argc, char **argv, void (*help)(void));
/*
 * Runs what the filter selects; returns how many benchmarks ran.  With
 * `iterations` > 0 every benchmark runs exactly that many (smoke tests: no
 * estimation runs, and every run long enough to exercise its queues).
 */
int cbench_run(int64_t iterations);
/* Whether any run called cbench_fail(). */
bool cbench_any_failed(void);
/*
 * Writes the reported histograms as JSON: for each run name and metric the
 * non-empty buckets [low, high, count] of its longest run, repetitions of
 * that length merged (shorter runs are Google Benchmark's iteration
 * estimates); then the series.  False if the file cannot be written.
 */
bool cbench_write_histograms(const char *path);

#ifdef __cplusplus
}
#endif

#endif /* MAPREG_BENCH_CBENCH_H */
