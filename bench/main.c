/* SPDX-License-Identifier: MIT */
/*
 * mapreg-bench: every scenario against every backend the library serves
 * (probed at run time), plus the malloc baseline, in one process, so the
 * figures compare side by side.  Our options come first and are removed
 * before Google Benchmark parses the rest.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "probe.h"
#include "scenarios.h"

#ifdef MAPREG_FAULT_INJECTION
#include "hooks/fault.h"

/* The planted bugs the bench's own checks must catch (meson: bench-catches-*). */
static const struct {
	const char *name;
	enum mapreg_fault fault;
} faults[] = {
	{ "channel_overtake", FAULT_CHANNEL_OVERTAKE },	/* racy: by hand only */
	{ "double_grant", FAULT_DOUBLE_GRANT },
	{ "cancel_granted", FAULT_CANCEL_GRANTED },	/* racy: by hand only */
	{ "stats_skew", FAULT_STATS_SKEW },
};

static bool plant_fault(const char *name)
{
	for (size_t i = 0; i < sizeof(faults) / sizeof(faults[0]); i++) {
		if (strcmp(faults[i].name, name) == 0) {
			mapreg_fault_set(1u << faults[i].fault);
			return true;
		}
	}
	fprintf(stderr, "mapreg-bench: unknown fault %s\n", name);
	return false;
}
#endif

static const struct scenario *const scenarios[] = {
	&scenario_fastpath, &scenario_scaling, &scenario_exhaustion, &scenario_mixed,
	&scenario_cancel,   &scenario_crossfree, &scenario_poll,     &scenario_growth,
	&scenario_batches,
};
#define SCENARIOS (sizeof(scenarios) / sizeof(scenarios[0]))

static void print_help(void)
{
	printf("mapreg-bench: mapreg benchmarks on Google Benchmark.\n\n"
	       "Runs are named SCENARIO/BACKEND/ARG:VALUE.../threads:N; select with\n"
	       "--benchmark_filter=REGEX.  Scenarios:\n");
	for (size_t i = 0; i < SCENARIOS; i++)
		printf("  %-11s %s\n", scenarios[i]->name, scenarios[i]->description);
	printf("\nmapreg-bench options:\n"
	       "  --backend=LIST       comma list of backends (locked,lockfree); default:\n"
	       "                       every backend mapreg_pool_create accepts\n"
	       "  --list-backends      print the backends this library serves and exit\n"
	       "  --hist-out=FILE      write latency histograms and series as JSON\n"
	       "  --smoke              tiny runs for CI: --iterations=2000 unless given,\n"
	       "                       1 repetition\n"
	       "  --iterations=N       run every benchmark exactly N iterations\n"
	       "  --clock=tsc|gettime  timestamp source for latencies (default tsc\n"
	       "                       when the CPU has an invariant TSC)\n"
	       "  --seed=N             seed of the scenarios' random draws\n"
	       "  --deferred-cpu=N     run the lock-free backend's deferred frees on CPU N\n"
	       "                       (mapreg_deferred_cpus; the churn scenarios' submitter\n"
	       "                       is pinned to the first CPU, its freer to the second)\n\n"
	       "Must hold in every run (a run fails, and the exit status is 1, if not):\n"
	       "double_grants, fifo_inversions, routine_after_cancel, leaked_* = 0.\n\n"
	       "Google Benchmark options:\n");
}

struct args {
	int64_t iterations;
	const char *fault;
	const char *backends;
	const char *hist_out;
	bool list_backends;
	bool tsc;
	long deferred_cpu;	/* -1: the library's default */
};

/* Takes our options out of argv; returns false on a malformed one. */
static bool take_options(int *argc, char **argv, struct args *a)
{
	int kept = 1;

	for (int i = 1; i < *argc; i++) {
		const char *arg = argv[i];

		if (strncmp(arg, "--backend=", 10) == 0)
			a->backends = arg + 10;
		else if (strncmp(arg, "--hist-out=", 11) == 0)
			a->hist_out = arg + 11;
		else if (strcmp(arg, "--list-backends") == 0)
			a->list_backends = true;
		else if (strcmp(arg, "--smoke") == 0)
			bench_options.smoke = true;
		else if (strcmp(arg, "--clock=tsc") == 0)
			a->tsc = true;
		else if (strcmp(arg, "--clock=gettime") == 0)
			a->tsc = false;
		else if (strncmp(arg, "--iterations=", 13) == 0)
			a->iterations = strtoll(arg + 13, NULL, 0);
		else if (strncmp(arg, "--fault=", 8) == 0)
			a->fault = arg + 8;
		else if (strncmp(arg, "--seed=", 7) == 0)
			bench_options.seed = strtoull(arg + 7, NULL, 0);
		else if (strncmp(arg, "--deferred-cpu=", 15) == 0)
			a->deferred_cpu = strtol(arg + 15, NULL, 0);
		else if (strncmp(arg, "--clock", 7) == 0 || strncmp(arg, "--backend", 9) == 0)
			return fprintf(stderr, "mapreg-bench: bad option %s\n", arg), false;
		else
			argv[kept++] = argv[i];
	}
	*argc = kept;
	argv[kept] = NULL;
	return true;
}

#define SMOKE_ITERATIONS 2000

/* --smoke: one repetition, put first so that an explicit flag still wins. */
static char **smoke_argv(int *argc, char **argv)
{
	static char one_repetition[] = "--benchmark_repetitions=1";
	char **out = calloc((size_t)*argc + 2, sizeof(*out));

	if (out == NULL)
		return argv;
	out[0] = argv[0];
	out[1] = one_repetition;
	for (int i = 1; i < *argc; i++)
		out[i + 1] = argv[i];
	*argc += 1;
	return out;
}

/*
 * Every run is bracketed by a probe of how far apart the two CPUs are
 * (probe.h); the larger of the two is the run's counter cpu_line_ns, which
 * bench/report.py reads to mark runs made while lines crossed slowly.
 * 100000 transfers: 3 ms a probe in the quick state, 16 in the slow one.
 */
#define LINE_PROBE_TRANSFERS 100000u
#define LINE_PROBE_TRANSFERS_SMOKE 4002u	/* two chunks (probe.c) */
static double line_before_run;

static unsigned int line_probe_transfers(void)
{
	return bench_options.smoke ? LINE_PROBE_TRANSFERS_SMOKE : LINE_PROBE_TRANSFERS;
}

static void probe_around_run(cbench_state *s, bool after)
{
	double ns = cpu_line_transfer_ns(line_probe_transfers());

	if (!after) {
		line_before_run = ns;
		return;
	}
	if (ns > 0 || line_before_run > 0)
		cbench_counter(s, "cpu_line_ns", ns > line_before_run ? ns : line_before_run,
			       CBENCH_VALUE);
}

static void add_context(const struct bench_backend *backends, size_t n)
{
	char text[256] = "", number[64];

	for (size_t i = 0; i < n; i++) {
		strncat(text, i ? "," : "", sizeof(text) - strlen(text) - 1);
		strncat(text, backends[i].name, sizeof(text) - strlen(text) - 1);
	}
	cbench_context("mapreg_backends", text);
	cbench_context("latency_clock", clock_source_name());
	snprintf(number, sizeof(number), "%.3f", clock_info.overhead_ns);
	cbench_context("timer_overhead_ns", number);
	snprintf(number, sizeof(number), "%.6f", 1.0 / clock_info.ns_per_tick);
	cbench_context("timer_ticks_per_ns", number);
	snprintf(number, sizeof(number), "%d", SAMPLE_EVERY);
	cbench_context("latency_sample_every", number);
	snprintf(number, sizeof(number), "%llu", (unsigned long long)bench_options.seed);
	cbench_context("seed", number);
	snprintf(number, sizeof(number), "%.1f", cpu_line_transfer_ns(line_probe_transfers()));
	cbench_context("cpu_line_ns_at_start", number);
}

/* The process's second thread: blocked for its whole life (main). */
static void *idle_thread(void *arg)
{
	for (;;)
		pause();
	return arg;
}

int main(int argc, char **argv)
{
	struct args a = { .tsc = true, .deferred_cpu = -1 };
	/*
	 * A program that uses mapreg has more threads than the one calling it,
	 * and they are alive.  glibc skips a mutex's atomics while the process
	 * has only ever had one thread, and the kernel skips the file table's
	 * reference count in read(2) and write(2) (fdget, fput) while only one
	 * live thread shares it: the poll scenario's eventfd calls.  The
	 * lock-free backend's call_rcu thread makes its runs pay that count;
	 * the locked backend, alone in a one-thread process, would not (45 to
	 * 55 ns per polled request here, BENCHMARKS.md).  One thread, blocked
	 * for the process's life, puts both in the conditions of a real
	 * program, whatever order the runs come in.
	 */
	pthread_t t;
	if (pthread_create(&t, NULL, idle_thread, NULL) != 0 || pthread_detach(t) != 0)
		return 2;
	/*
	 * The CPUs pin_self() chooses from, read now: a helper started by a
	 * pinned benchmark thread inherits its one CPU, and would read that.
	 */
	allowed_cpu_count();
	const struct bench_backend *backends;
	char err[160];

	if (!take_options(&argc, argv, &a))
		return 2;
	size_t n = bench_backends_probe(a.backends, &backends, err, sizeof(err));
	if (a.list_backends) {
		for (size_t i = 0; i < n; i++)
			printf("%s\n", backends[i].name);
		return n > 0 ? 0 : 1;
	}
	if (n == 0) {
		fprintf(stderr, "mapreg-bench: %s\n", err[0] ? err : "no backend available");
		return 2;
	}
	if (bench_options.smoke) {
		argv = smoke_argv(&argc, argv);
		if (a.iterations == 0)
			a.iterations = SMOKE_ITERATIONS;
	}
	clock_init(a.tsc);
	for (size_t i = 0; i < SCENARIOS; i++) {
		if (scenarios[i]->register_baselines != NULL)
			scenarios[i]->register_baselines(scenarios[i]);
		for (size_t b = 0; b < n; b++)
			scenarios[i]->register_runs(scenarios[i], &backends[b]);
	}
	if (!cbench_initialize(&argc, argv, print_help))
		return 2;
	if (a.fault != NULL) {
#ifdef MAPREG_FAULT_INJECTION
		if (!plant_fault(a.fault))
			return 2;
#else
		fprintf(stderr, "mapreg-bench: --fault needs mapreg-bench-faulty\n");
		return 2;
#endif
	}
	if (a.deferred_cpu >= 0) {
		unsigned int cpu = (unsigned int)a.deferred_cpu;
		char text[32];

		if (mapreg_deferred_cpus(&cpu, 1) != MAPREG_OK) {
			fprintf(stderr, "mapreg-bench: --deferred-cpu=%ld refused\n", a.deferred_cpu);
			return 2;
		}
		snprintf(text, sizeof(text), "%u", cpu);
		cbench_context("deferred_cpu", text);
	}
	add_context(backends, n);
	cbench_around_runs(probe_around_run);
	int ran = cbench_run(a.iterations);
	if (a.hist_out != NULL && !cbench_write_histograms(a.hist_out)) {
		fprintf(stderr, "mapreg-bench: cannot write %s\n", a.hist_out);
		return 1;
	}
	if (ran == 0) {
		fprintf(stderr, "mapreg-bench: no benchmark matched the filter\n");
		return 1;
	}
	return cbench_any_failed() ? 1 : 0;
}
