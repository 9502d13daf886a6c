/* SPDX-License-Identifier: MIT */
/*
 * Failure reports.  The first failing check wins: it prints what broke, the
 * world as the harness and the library see it, the seed and a command that
 * replays the run, then ends the process.  With --expect CHECK (the faulty
 * build's self-tests) a failure of exactly that check is the expected
 * result and exits 0; any other failure still exits 1.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "stress.h"

_Atomic(struct world *) current_world;
static const struct options *options;
static pthread_mutex_t fail_lock = PTHREAD_MUTEX_INITIALIZER;

void report_init(const struct options *opt)
{
	options = opt;
}

uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void print_replay(const struct options *opt)
{
	printf("replay: %s --seed %llu --backend %s --threads %u", opt->argv0,
	       (unsigned long long)opt->seed, opt->backend_name, opt->threads);
	if (opt->duration > 0)
		printf(" --duration %g", opt->duration);
	if (opt->ops > 0)
		printf(" --ops %llu", (unsigned long long)opt->ops);
	printf(" --registers %u --adapters %u --epoch-ms %u --stall-ms %u --mix %s",
	       opt->registers, opt->adapters, opt->epoch_ms, opt->stall_ms,
	       opt->keep_registers_mix ? "keep-registers" : "balanced");
	if (opt->fault != NULL)
		printf(" --fault %s", opt->fault);
	if (opt->expect != NULL)
		printf(" --expect %s", opt->expect);
	printf("\n");
}

static void print_stats(mapreg_pool *pool)
{
	mapreg_pool_stats st;

	if (mapreg_pool_get_stats(pool, &st) != MAPREG_OK) {
		printf("stats: unavailable\n");
		return;
	}
	printf("stats: registers %llu free %llu cached %llu held %llu waiting_channel %llu "
	       "waiting_registers %llu grants %llu cancels %llu sync_failures %llu "
	       "caller_errors %llu\n",
	       (unsigned long long)st.registers, (unsigned long long)st.free,
	       (unsigned long long)st.cached, (unsigned long long)st.held,
	       (unsigned long long)st.waiting_channel, (unsigned long long)st.waiting_registers,
	       (unsigned long long)st.grants, (unsigned long long)st.cancels,
	       (unsigned long long)st.sync_failures, (unsigned long long)st.caller_errors);
}

/*
 * Relaxed: only a failure report reads these, racily, and a breadcrumb read
 * with its neighbour's time misstates a report by one step, nothing more.
 */
void doing(struct actor *a, const char *what)
{
	if (atomic_load_explicit(&a->tid, memory_order_relaxed) == 0)
		atomic_store_explicit(&a->tid, gettid(), memory_order_relaxed);
	atomic_store_explicit(&a->doing_since, now_ns(), memory_order_relaxed);
	atomic_store_explicit(&a->doing, what, memory_order_relaxed);
}

static const char *kind_name(enum actor_kind k)
{
	static const char *const names[] = { "worker", "prober", "churner", "poller", "main" };

	return names[k];
}

/*
 * A thread's scheduling state and CPU time (clock ticks) from /proc: a
 * thread that stalls others is runnable and starved, or spinning, or asleep.
 */
static bool thread_sched(int tid, char *state, unsigned long long *ticks)
{
	char path[64], buf[512];
	unsigned long long utime, stime;

	snprintf(path, sizeof(path), "/proc/self/task/%d/stat", tid);
	FILE *f = fopen(path, "r");
	if (f == NULL)
		return false;
	bool ok = fgets(buf, sizeof(buf), f) != NULL;
	fclose(f);
	char *p = ok ? strrchr(buf, ')') : NULL;	/* the name may hold spaces */
	if (p == NULL || sscanf(p + 2, "%c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu",
				state, &utime, &stime) != 3)
		return false;
	*ticks = utime + stime;
	return true;
}

/*
 * Where every thread is: a stall's culprit is often a thread, not a queue.
 * Each thread's breadcrumb, and its scheduling state and CPU time over
 * 200 ms (the others keep running meanwhile).
 */
static void print_actors(struct world *w)
{
	unsigned long long *before = calloc(w->nactors, sizeof(*before));
	struct timespec pause = { 0, 200000000 };
	uint64_t now = now_ns();
	char state;

	if (before == NULL)
		return;
	for (uint32_t i = 0; i < w->nactors; i++) {
		int tid = atomic_load_explicit(&w->actors[i]->tid, memory_order_relaxed);

		if (tid == 0 || !thread_sched(tid, &state, &before[i]))
			before[i] = ~0ull;
	}
	nanosleep(&pause, NULL);
	printf("threads (breadcrumb; state and CPU ticks over the next 200 ms):\n");
	for (uint32_t i = 0; i < w->nactors; i++) {
		struct actor *a = w->actors[i];
		const char *what = atomic_load_explicit(&a->doing, memory_order_relaxed);
		uint64_t since = atomic_load_explicit(&a->doing_since, memory_order_relaxed);
		int tid = atomic_load_explicit(&a->tid, memory_order_relaxed);
		unsigned long long after;

		printf("  actor %u (%s, tid %d): %s for %llu ms", i, kind_name(a->kind), tid,
		       what != NULL ? what : "not started",
		       what != NULL ? (unsigned long long)((now - since) / 1000000) : 0ull);
		if (before[i] != ~0ull && thread_sched(tid, &state, &after))
			printf("; %c, +%llu ticks", state, after - before[i]);
		else if (tid != 0)
			printf("; exited");
		printf("\n");
	}
	free(before);
}

static const char *phase_name(enum phase p)
{
	static const char *const names[] = { "idle", "pending", "ran", "cancelled" };

	return names[p];
}

static void print_pending(struct world *w)
{
	for (uint32_t i = 0; i < w->nactors; i++) {
		struct actor *a = w->actors[i];

		for (uint32_t j = 0; j < a->nslots; j++) {
			struct slot *s = &a->slots[j];
			uint64_t st = atomic_load(&s->state);

			if (STATE_PHASE(st) != PHASE_PENDING)
				continue;
			struct actor *on = atomic_load(&s->ran_on);

			printf("  actor %u slot %u gen %llu: %s on adapter %u, %u registers",
			       i, j, (unsigned long long)STATE_GEN(st),
			       phase_name(STATE_PHASE(st)), atomic_load(&s->adapter),
			       atomic_load(&s->nregs));
			if (on != NULL)
				printf(" (its routine began on actor %u)", on->index);
			printf("\n");
		}
	}
}

static void print_holds(const char *name, struct hold_list *list)
{
	pthread_mutex_lock(&list->lock);
	printf("  %s holds:", name);
	for (struct hold *h = list->head; h != NULL; h = h->next)
		printf(" %s@%u[%u+%u]", h->channel ? "channel" : "run", h->adapter,
		       h->base.first, h->base.count);
	printf("\n");
	pthread_mutex_unlock(&list->lock);
}

void dump_world(struct world *w)
{
	printf("epoch %u, live %lld\n", w->epoch, (long long)atomic_load(&w->live));
	print_stats(w->pool);
	shadow_print(w);
	printf("pending requests:\n");
	print_pending(w);
	print_holds("shared", &w->shared_holds);
	print_holds("probe", &w->probe_holds);
	print_holds("churn", &w->churn_holds);
	print_actors(w);
}

void defer_failure(struct world *w, const char *check, const char *fmt, ...)
{
	va_list ap;

	pthread_mutex_lock(&w->deferred_lock);
	if (w->deferred_check == NULL) {
		w->deferred_check = check;
		va_start(ap, fmt);
		vsnprintf(w->deferred, sizeof(w->deferred), fmt, ap);
		va_end(ap);
	}
	pthread_mutex_unlock(&w->deferred_lock);
}

void fail_deferred(struct world *w)
{
	pthread_mutex_lock(&w->deferred_lock);
	const char *check = w->deferred_check;
	pthread_mutex_unlock(&w->deferred_lock);
	if (check != NULL)
		fail(check, "%s (seen earlier in this epoch)", w->deferred);
}

/*
 * A stall's cause is where the threads are, which no counter shows: with
 * gdb installed (CI installs it), a stall or progress failure prints every
 * thread's stack.  MAPREG_STRESS_STACKS=0 turns that off.
 */
static void print_stacks(const char *check)
{
	const char *off = getenv("MAPREG_STRESS_STACKS");
	char pid[32];

	if ((off != NULL && strcmp(off, "0") == 0) ||
	    (strcmp(check, "watchdog") != 0 && strcmp(check, "progress") != 0))
		return;
	snprintf(pid, sizeof(pid), "%d", (int)getpid());
	prctl(PR_SET_PTRACER, PR_SET_PTRACER_ANY, 0, 0, 0);	/* Yama's ptrace_scope 1 */
	fflush(stdout);
	pid_t child = fork();

	if (child == 0) {
		dup2(STDOUT_FILENO, STDERR_FILENO);
		execlp("gdb", "gdb", "-batch", "-nx", "-p", pid, "-ex", "thread apply all bt",
		       (char *)NULL);
		_exit(127);
	}
	if (child > 0)
		waitpid(child, NULL, 0);
}

/*
 * End the process from the failing thread, the others abandoned where they
 * are.  Not _exit(): under ThreadSanitizer it runs TSan's finalisation,
 * which reports every thread that has finished but was not joined as a
 * "thread leak" and turns the status into 66.  A failure found while the
 * run drains, after some actors have returned, then failed the self-tests
 * that expect it (CI, stress-fault-locked-cancel-granted; the regression
 * is stress-selftest-exit).  No report is lost this way: every stress test
 * runs with halt_on_error=1, so a race has ended the process before here.
 */
static _Noreturn void end_process(int status)
{
	syscall(SYS_exit_group, status);
	abort();			/* not reached */
}

_Noreturn void fail(const char *check, const char *fmt, ...)
{
	va_list ap;

	pthread_mutex_lock(&fail_lock);		/* never unlocked: we exit */
	fflush(stdout);
	printf("\nFAIL [%s] ", check);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	struct world *w = atomic_load(&current_world);

	if (w != NULL)
		dump_world(w);
	print_replay(options);
	bool expected = options->expect != NULL && strcmp(options->expect, check) == 0;
	if (!expected)
		print_stacks(check);
	if (expected)
		printf("caught: the planted fault '%s' was reported by the '%s' check\n",
		       options->fault ? options->fault : "(none)", check);
	fflush(stdout);
	end_process(expected ? 0 : 1);
}
