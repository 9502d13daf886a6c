/* SPDX-License-Identifier: MIT */
/*
 * stress: multi-threaded torture of mapreg against one backend.
 * `stress --help` lists the options; README.md describes the run and the
 * checks.  The run is a sequence of epochs (world.c); on failure it prints
 * the seed and the exact command that replays it (report.c).
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "stress.h"

/*
 * ThreadSanitizer's build (the watchdog's bound, below), detected as
 * core/base/rcu.h does: this program sees the public header only.
 */
#if defined(__SANITIZE_THREAD__)
#define STRESS_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define STRESS_TSAN 1
#endif
#endif
#ifndef STRESS_TSAN
#define STRESS_TSAN 0
#endif

#ifdef MAPREG_PERTURB
#include "hooks/perturb.h"
#endif

#ifdef MAPREG_FAULT_INJECTION
#include "hooks/fault.h"

static const char *const fault_names[FAULT_COUNT] = {
	[FAULT_CHANNEL_OVERTAKE] = "channel-overtake",
	[FAULT_REGISTER_OVERTAKE] = "register-overtake",
	[FAULT_LOST_WAKEUP] = "lost-wakeup",
	[FAULT_DOUBLE_GRANT] = "double-grant",
	[FAULT_CANCEL_GRANTED] = "cancel-granted",
	[FAULT_FOREIGN_FREE] = "foreign-free",
	[FAULT_STATS_SKEW] = "stats-skew",
	[FAULT_FREE_CHANNEL_UNCHECKED] = "free-channel-unchecked",
	[FAULT_BOUNDARY_IGNORED] = "boundary-ignored",
};

static void plant_fault(const char *name)
{
	for (unsigned i = 0; i < FAULT_COUNT; i++) {
		if (strcmp(name, fault_names[i]) == 0) {
			mapreg_fault_set(1u << i);
			return;
		}
	}
	if (strcmp(name, "none") != 0) {
		fprintf(stderr, "stress: unknown fault '%s'\n", name);
		exit(2);
	}
}
#else
static void plant_fault(const char *name)
{
	fprintf(stderr, "stress: --fault %s needs the fault-injection build (stress-faulty)\n",
		name);
	exit(2);
}
#endif

static const char usage[] =
	"usage: stress [options]\n"
	"  --seed N           random seed (default: from the clock; printed)\n"
	"  --threads N        worker threads (default $MAPREG_STRESS_THREADS or 4)\n"
	"  --duration SEC     run time (default $MAPREG_STRESS_DURATION or 2)\n"
	"  --ops N            stop after N worker operations (with --duration: first wins)\n"
	"  --backend NAME     default | locked | lockfree (default: default)\n"
	"  --registers N      pool size at the start of each epoch (default 32)\n"
	"  --adapters N       shared adapters (default 4, at least 2)\n"
	"  --epoch-ms N       epoch length: quiescence and C27 checks between (default 250)\n"
	"  --stall-ms N       watchdog bound for a satisfiable waiter (default 2000;\n"
	"                     6000 under ThreadSanitizer)\n"
	"  --mix NAME         balanced | keep-registers (routines mostly keep registers)\n"
	"  --fault NAME       (stress-faulty) plant a core/hooks/fault.h fault\n"
	"  --expect CHECK     (stress-faulty) succeed only if CHECK reports the failure\n";

static unsigned env_or(const char *name, unsigned fallback)
{
	const char *v = getenv(name);

	return v != NULL && *v != '\0' ? (unsigned)strtoul(v, NULL, 10) : fallback;
}

static double env_or_double(const char *name, double fallback)
{
	const char *v = getenv(name);

	return v != NULL && *v != '\0' ? strtod(v, NULL) : fallback;
}

static mapreg_backend parse_backend(const char *name)
{
	mapreg_backend backend;

	if (mapreg_backend_by_name(name, &backend) == MAPREG_OK)
		return backend;
	fprintf(stderr, "stress: unknown backend '%s'\n", name);
	exit(2);
}

static uint64_t clock_seed(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ((uint64_t)ts.tv_sec * 1000000007u) ^ (uint64_t)ts.tv_nsec ^ ((uint64_t)getpid() << 32);
}

static void parse(int argc, char **argv, struct options *opt)
{
	static const struct option longs[] = {
		{ "seed", required_argument, NULL, 's' },
		{ "threads", required_argument, NULL, 't' },
		{ "duration", required_argument, NULL, 'd' },
		{ "ops", required_argument, NULL, 'o' },
		{ "backend", required_argument, NULL, 'b' },
		{ "registers", required_argument, NULL, 'r' },
		{ "adapters", required_argument, NULL, 'a' },
		{ "epoch-ms", required_argument, NULL, 'e' },
		{ "stall-ms", required_argument, NULL, 'w' },
		{ "mix", required_argument, NULL, 'm' },
		{ "fault", required_argument, NULL, 'f' },
		{ "expect", required_argument, NULL, 'x' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	bool duration_given = false;
	int c;

	/*
	 * The watchdog's bound.  A stall it looks for (a lost wake-up, a
	 * channel held by nobody) is permanent, so the bound only has to
	 * outlast the longest time a thread that is about to deliver a grant
	 * can be held up.  Under ThreadSanitizer, with meson running two
	 * stress programs at once on 2 CPUs (30 threads), such a delay passed
	 * 2 s twice: once in CI, once in about 500 runs here, one on each
	 * backend (the locked one's grant was delivered within a second of
	 * the report: its drain had ended by the time gdb attached); so 6 s
	 * there.
	 */
	const unsigned stall_ms = STRESS_TSAN ? 6000 : 2000;

	*opt = (struct options){
		.seed = clock_seed(), .threads = env_or("MAPREG_STRESS_THREADS", 4),
		.duration = env_or_double("MAPREG_STRESS_DURATION", 2), .backend_name = "default",
		.registers = 32, .adapters = 4, .epoch_ms = 250, .stall_ms = stall_ms,
		.argv0 = argv[0], .tty = isatty(STDOUT_FILENO),
	};
	while ((c = getopt_long(argc, argv, "h", longs, NULL)) != -1) {
		switch (c) {
		case 's': opt->seed = strtoull(optarg, NULL, 0); break;
		case 't': opt->threads = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'd': opt->duration = strtod(optarg, NULL); duration_given = true; break;
		case 'o': opt->ops = strtoull(optarg, NULL, 10); break;
		case 'b': opt->backend_name = optarg; break;
		case 'r': opt->registers = (uint32_t)strtoul(optarg, NULL, 10); break;
		case 'a': opt->adapters = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'e': opt->epoch_ms = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'w': opt->stall_ms = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'm': opt->keep_registers_mix = strcmp(optarg, "keep-registers") == 0; break;
		case 'f': opt->fault = optarg; break;
		case 'x': opt->expect = optarg; break;
		case 'h': fputs(usage, stdout); exit(0);
		default: fputs(usage, stderr); exit(2);
		}
	}
	if (opt->ops > 0 && !duration_given)
		opt->duration = 0;			/* --ops alone: no time limit */
	opt->backend = parse_backend(opt->backend_name);
	if (optind != argc || opt->threads < 1 || opt->adapters < 2 || opt->registers < 2 ||
	    opt->registers > MAPREG_MAX_REGISTERS / 2 || opt->epoch_ms < 1 ||
	    (opt->duration <= 0 && opt->ops == 0)) {
		fputs(usage, stderr);
		exit(2);
	}
}

struct run {
	const struct options *opt;
	struct tally total;
	uint32_t epochs;
	uint64_t start, deadline, last_progress;
	_Atomic uint64_t ops_left;
};

static bool run_over(struct run *run)
{
	if (run->opt->ops > 0 && atomic_load(&run->ops_left) == 0)
		return true;
	return run->opt->duration > 0 && now_ns() >= run->deadline;
}

/* The progress line, on a terminal only, once a second. */
static void show_progress(struct run *run, struct world *w)
{
	uint64_t now = now_ns();

	if (!run->opt->tty || now - run->last_progress < 1000000000u)
		return;
	struct tally t = { 0 };
	world_totals(w, &t);
	run->last_progress = now;
	printf("\r%7.1f s  epoch %u  ops %llu  routines %llu  cancels %llu   ",
	       (double)(now - run->start) / 1e9, run->epochs,
	       (unsigned long long)(tally_get(&run->total.ops) + tally_get(&t.ops)),
	       (unsigned long long)(tally_get(&run->total.routines) + tally_get(&t.routines)),
	       (unsigned long long)(tally_get(&run->total.cancels) + tally_get(&t.cancels)));
	fflush(stdout);
}

static void run_epoch(struct run *run)
{
	const struct options *opt = run->opt;
	struct world *w = world_create(opt, run->epochs, opt->ops ? &run->ops_left : NULL);
	uint64_t end = now_ns() + (uint64_t)opt->epoch_ms * 1000000;
	struct timespec nap = { 0, 5000000 };

	atomic_store(&current_world, w);
	world_run(w);
	while (now_ns() < end && !run_over(run)) {
		nanosleep(&nap, NULL);
		show_progress(run, w);
	}
	world_quiesce(w);
	world_check_balance(w);
	world_totals(w, &run->total);
	atomic_store(&current_world, NULL);
	world_destroy(w);
	run->epochs++;
}

static void print_summary(struct run *run)
{
	struct tally *t = &run->total;

	if (run->opt->tty)
		printf("\n");
	printf("stress: ok: %s, %u workers, %s mix: %u epochs in %.1f s; ops %llu, routines %llu, "
	       "synchronous holds %llu, cancels %llu, synchronous failures %llu, caller errors "
	       "%llu\n", run->opt->backend_name, run->opt->threads,
	       run->opt->keep_registers_mix ? "keep-registers" : "balanced", run->epochs,
	       (double)(now_ns() - run->start) / 1e9, (unsigned long long)tally_get(&t->ops),
	       (unsigned long long)tally_get(&t->routines),
	       (unsigned long long)tally_get(&t->sync_holds),
	       (unsigned long long)tally_get(&t->cancels),
	       (unsigned long long)tally_get(&t->sync_failures),
	       (unsigned long long)tally_get(&t->caller_errors));
}

int main(int argc, char **argv)
{
	struct options opt;
	struct run run = { .opt = &opt };

	parse(argc, argv, &opt);
	report_init(&opt);
	if (opt.fault != NULL)
		plant_fault(opt.fault);
#ifdef MAPREG_PERTURB
	/* The seed drives the schedule noise too (core/hooks/perturb.h). */
	unsigned int nap_odds = 4, yield_odds = 16, spin_odds = 64, max_spin = 2048;
	const char *odds = getenv("MAPREG_PERTURB_ODDS");	/* "nap,yield,spin,max" */
	if (odds != NULL && sscanf(odds, "%u,%u,%u,%u", &nap_odds, &yield_odds, &spin_odds,
				   &max_spin) != 4) {
		fprintf(stderr, "stress: MAPREG_PERTURB_ODDS is \"nap,yield,spin,max_spin\"\n");
		exit(2);
	}
	mapreg_perturb_set(opt.seed, yield_odds, spin_odds, max_spin, nap_odds);
	printf("stress: schedule perturbation: at each protocol step, nap %u/1024, "
	       "yield %u/1024, spin up to %u pauses %u/1024\n", nap_odds, yield_odds, max_spin,
	       spin_odds);
#endif
	opt.retire_cancelled = opt.fault != NULL && strcmp(opt.fault, "none") != 0;
	printf("stress: seed %llu, backend %s, %u workers, %u shared adapters, %u registers\n",
	       (unsigned long long)opt.seed, opt.backend_name, opt.threads, opt.adapters,
	       opt.registers);
	print_replay(&opt);
	fflush(stdout);
	run.start = now_ns();
	run.deadline = run.start + (uint64_t)(opt.duration * 1e9);
	atomic_init(&run.ops_left, opt.ops);
	do
		run_epoch(&run);
	while (!run_over(&run));
	print_summary(&run);
	if (opt.expect != NULL) {
		printf("FAIL: the planted fault '%s' went unreported by the '%s' check\n",
		       opt.fault ? opt.fault : "(none)", opt.expect);
		return 1;
	}
	return 0;
}
