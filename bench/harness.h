/* SPDX-License-Identifier: MIT */
/*
 * What every mapreg benchmark scenario shares: the run-time backend list,
 * options, a deterministic random source, waiting without sleeping,
 * helper threads, queues between threads, and the checker that counts
 * double grants and FIFO inversions (the scenarios fail their run when a
 * count that must be 0 is not).
 */
#ifndef MAPREG_BENCH_HARNESS_H
#define MAPREG_BENCH_HARNESS_H

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <mapreg.h>

#include "cbench.h"
#include "clock.h"
#include "histogram.h"

/* Backends, probed at run time (harness.c holds the one table of names). */
struct bench_backend {
	mapreg_backend id;
	const char *name;
};

/* The backends mapreg_pool_create accepts; `only` (comma list) filters. */
size_t bench_backends_probe(const char *only, const struct bench_backend **out, char *err,
			    size_t errlen);

struct bench_options {
	bool smoke;		/* tiny sizes: the meson smoke tests */
	uint64_t seed;		/* every run of a scenario draws the same numbers */
};
extern struct bench_options bench_options;

/*
 * A scenario: a name (the first part of its run names), a line for --help,
 * its runs for one backend, and (optional) baselines that are no backend.
 */
struct scenario {
	const char *name;
	const char *description;
	void (*register_runs)(const struct scenario *sc, const struct bench_backend *backend);
	void (*register_baselines)(const struct scenario *sc);
};

/* Registers "<scenario>/<backend>" with its backend as the param. */
cbench *scenario_register(const struct scenario *sc, const struct bench_backend *backend,
			  cbench_body_fn body);
static inline mapreg_backend bench_backend_of(const cbench_state *s)
{
	return ((const struct bench_backend *)cbench_param(s))->id;
}

/* Pool and adapter for a run; on failure the run is failed and NULL returned. */
mapreg_pool *bench_pool(cbench_state *s, uint32_t registers);
mapreg_adapter *bench_adapter(cbench_state *s, mapreg_pool *pool, mapreg_dispatch dispatch);
/*
 * Destroys adapters then pool, after checking that the pool is quiescent
 * (C27: nothing held, nothing waiting, free + cached == registers) and that
 * every destroy succeeds (C3); fails the run otherwise.
 */
void bench_destroy(cbench_state *s, mapreg_pool *pool, mapreg_adapter **adapters, size_t count);

#define container_of(ptr, type, member) ((type *)((char *)(ptr) - offsetof(type, member)))

/* Keeps the compiler from removing what computed `p`. */
static inline void bench_escape(const void *p)
{
	__asm__ volatile("" : : "r"(p) : "memory");
}

/* splitmix64: a small, fast generator; seeded, so runs are reproducible. */
struct rng {
	uint64_t s;
};
static inline uint64_t rng_next(struct rng *r)
{
	uint64_t z = (r->s += 0x9e3779b97f4a7c15u);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
	return z ^ (z >> 31);
}
static inline uint32_t rng_below(struct rng *r, uint32_t n)
{
	return (uint32_t)(((rng_next(r) >> 32) * n) >> 32);
}
/* Uniform in (0, 1]. */
static inline double rng_unit(struct rng *r)
{
	return ((double)(rng_next(r) >> 11) + 1.0) / 9007199254740992.0;
}
/* Pareto(alpha) with minimum xmin. */
double rng_pareto(struct rng *r, double alpha, double xmin);
struct rng rng_for(uint64_t stream);

/*
 * Waiting for another thread without sleeping: spin briefly, then yield
 * (the machine has 2 CPUs shared with other work; a pure spin would steal
 * the time slice of the thread being waited for).
 */
struct spin {
	unsigned int spins;
};
static inline void spin_once(struct spin *sp)
{
	if (++sp->spins < 64) {
#if defined(__x86_64__) || defined(__i386__)
		__builtin_ia32_pause();
#endif
	} else {
		sp->spins = 0;
		sched_yield();
	}
}

/* Latency sampling: time one operation in SAMPLE_EVERY (a power of two). */
#define SAMPLE_EVERY 64
static inline bool sample_this(int64_t i)
{
	return (i & (SAMPLE_EVERY - 1)) == 0;
}

/*
 * Runs OP (an expression true on success) once per iteration of the timed
 * loop, timing one iteration in SAMPLE_EVERY into the histogram *H, and
 * clears OK if any OP failed.  Sampling keeps the timer's cost (tens of ns
 * on a VM) out of the throughput figure while the percentiles still come
 * from thousands of operations.
 */
#define SAMPLED_LOOP(S, H, OK, OP)						\
	do {									\
		int64_t n_;							\
		while ((n_ = cbench_batch(S)) > 0) {				\
			for (int64_t i_ = 0; i_ < n_; i_++) {			\
				if (sample_this(i_)) {				\
					uint64_t t0_ = clock_start();		\
					bool r_ = (OP);				\
					hist_record((H), clock_elapsed_ns(t0_, clock_stop())); \
					(OK) &= r_;				\
				} else {					\
					(OK) &= (OP);				\
				}						\
			}							\
		}								\
	} while (0)

/*
 * One synchronous I/O on the fast path: C8 allocate without a routine,
 * FreeAdapterObject keeping the registers (C24), FreeMapRegisters (C23).
 */
static inline bool sync_io(mapreg_adapter *adapter, mapreg_transfer *xfer, uint32_t nregs)
{
	mapreg_base base;

	return mapreg_allocate_channel_ex(adapter, NULL, xfer, nregs, MAPREG_SYNCHRONOUS_CALLBACK,
					  NULL, NULL, &base) == MAPREG_OK &&
	       mapreg_free_adapter_object(adapter, MAPREG_DEALLOCATE_OBJECT_KEEP_REGISTERS) ==
		       MAPREG_OK &&
	       mapreg_free_map_registers(adapter, base, nregs) == MAPREG_OK;
}

/* Helper threads. */
bool helper_start(pthread_t *t, void *(*fn)(void *), void *arg);
/*
 * Zeroed memory on whole 64-byte lines (free() it), for a struct whose
 * members written by different threads sit on lines of their own: calloc's
 * 16-byte alignment would let a line boundary fall anywhere in it, so that
 * which members share a line would change from run to run.
 */
void *bench_zalloc_lines(size_t size);
void helper_join(pthread_t t);
/* Pins the caller to the index-th allowed CPU (modulo their count). */
void pin_self(unsigned int index);
/* Lets the caller run on every CPU the process was allowed at start. */
void unpin_self(void);
unsigned int allowed_cpu_count(void);

/*
 * Vyukov's intrusive multi-producer single-consumer queue: push is one
 * exchange, wait-free; pop by one consumer only.
 */
struct mpsc_node {
	_Atomic(struct mpsc_node *) next;
};
/* The producers' end and the consumer's on lines of their own (as struct spsc). */
struct mpsc {
	_Atomic(struct mpsc_node *) head __attribute__((aligned(64)));	/* producers */
	struct mpsc_node *tail __attribute__((aligned(64)));		/* consumer */
	struct mpsc_node stub;
};
void mpsc_init(struct mpsc *q);
void mpsc_push(struct mpsc *q, struct mpsc_node *n);
/* NULL when empty (or when a push is half done: try again). */
struct mpsc_node *mpsc_pop(struct mpsc *q);

/*
 * Single-producer single-consumer ring of register runs.  Each index on a
 * line of its own, and what both sides read on each run (mask, items) on a
 * third that nobody writes: one line moves per run in each direction, and
 * no write of the ring evicts what the other side reads.  (A struct that
 * holds one is 64-byte aligned: allocate it with bench_zalloc_lines.)
 */
struct spsc {
	_Atomic uint64_t head __attribute__((aligned(64)));	/* consumer */
	_Atomic uint64_t tail __attribute__((aligned(64)));	/* producer */
	uint32_t mask __attribute__((aligned(64)));
	mapreg_base *items;
};
bool spsc_init(struct spsc *q, uint32_t capacity_pow2);
void spsc_fini(struct spsc *q);
bool spsc_push(struct spsc *q, mapreg_base item);
bool spsc_pop(struct spsc *q, mapreg_base *item);

/*
 * The grant checker.  An owner byte per register: a grant claims each of
 * its registers and a free gives them back, so a register granted twice
 * is seen at once (double_grants), as is a run of the wrong size.
 * fifo_check() counts a routine of an adapter that runs after one with a
 * later submission number (C11: per adapter, requests get the channel in
 * the order they were made).
 */
struct grant_check {
	uint32_t registers;
	_Atomic uint8_t *owner;
	_Atomic uint64_t double_grants;
	_Atomic uint64_t wrong_sizes;
	_Atomic uint64_t fifo_inversions;
};
bool grant_check_init(struct grant_check *gc, uint32_t registers);
void grant_check_fini(struct grant_check *gc);
void grant_check_take(struct grant_check *gc, mapreg_base base, uint32_t nregs);
void grant_check_give(struct grant_check *gc, mapreg_base base);
void fifo_check(struct grant_check *gc, _Atomic uint64_t *last_seq, uint64_t seq);
/* Sets the counters and fails the run if any count is not 0. */
void grant_check_report(cbench_state *s, struct grant_check *gc);

/*
 * Work a routine leaves for after the library call that ran it.  The
 * library finishes with a request (applies the routine's answer, frees the
 * transfer for reuse, C10) only after the routine returns, so a routine
 * must not hand its registers or its transfer to another thread itself:
 * that thread could free or reuse them before the library is done.  It
 * defers the hand-off instead, and every thread that calls into the
 * library runs its deferred work once the call has returned.
 */
struct deferred {
	struct deferred *next;
	void (*run)(struct deferred *d);
};
void defer_until_return(struct deferred *d);
void run_deferred(void);

/*
 * A hang detector for loops that wait on the library: true once `progress`
 * has not changed for 20 s (a lost wake-up, C14), so the loop can report
 * and abort instead of leaving a bare test time-out.
 */
struct progress_watch {
	uint64_t last;
	uint64_t since_ns;
	unsigned int polls;
};
bool progress_stalled(struct progress_watch *w, uint64_t progress);

/* Fails the run when a must-be-zero count is not; always sets the counter. */
void expect_zero(cbench_state *s, const char *counter, uint64_t value);

#endif /* MAPREG_BENCH_HARNESS_H */
