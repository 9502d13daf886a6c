/* SPDX-License-Identifier: MIT */
/*
 * The stress harness: shared types and the functions its files offer each
 * other.  README.md in this directory describes the run and every check.
 *
 * Vocabulary.
 *  - A run is a sequence of epochs.  Each epoch builds a fresh world (one
 *    small pool, its adapters, the actor threads), runs until its time or
 *    operation budget is used, drains to quiescence, checks the counters
 *    (C27) and tears the world down (C3).
 *  - An actor is a harness thread with a context (struct actor): workers,
 *    the prober, the churner and the pollers.  Routines run on actors, and
 *    count what they do in the context of the actor they run on.
 *  - A slot is an actor's reusable request record: the mapreg_transfer, the
 *    request's outcome state and what its routine must check and do.
 *  - A hold is something a routine (or a synchronous call) kept: a channel
 *    (MAPREG_KEEP_OBJECT) or a run (MAPREG_DEALLOCATE_OBJECT_KEEP_REGISTERS),
 *    waiting on a hold list for some actor to free it.
 *  - The shadow is the harness's own view of who holds which register and
 *    channel (shadow.c): claimed once the library has granted, released
 *    before the library is asked to free.
 */
#ifndef STRESS_H
#define STRESS_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <mapreg.h>

/* Options (main.c); fixed for the whole run. */
struct options {
	uint64_t seed;
	unsigned threads;		/* worker actors */
	double duration;		/* seconds; 0 with ops set: no time limit */
	uint64_t ops;			/* library calls in all; 0: no limit */
	const char *backend_name;
	mapreg_backend backend;
	uint32_t registers;		/* pool size at the start of each epoch */
	unsigned adapters;		/* shared adapters */
	unsigned epoch_ms;
	unsigned stall_ms;		/* the watchdog's bound (C13, C14) */
	bool keep_registers_mix;	/* routines mostly keep their registers */
	const char *fault;		/* faulty build: the planted fault */
	const char *expect;		/* faulty build: the check that must catch it */
	bool retire_cancelled;		/* a fault is planted: see slot_free */
	bool tty;			/* stdout is a terminal: progress line */
	const char *argv0;
};

/* A small, fast, seedable generator (splitmix64). */
struct rng {
	uint64_t state;
};

static inline uint64_t rng_next(struct rng *r)
{
	uint64_t z = (r->state += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* Uniform in [0, n); 0 when n is 0. */
static inline uint32_t rng_below(struct rng *r, uint32_t n)
{
	return (uint32_t)(((rng_next(r) >> 32) * n) >> 32);
}

static inline bool rng_percent(struct rng *r, unsigned percent)
{
	return rng_below(r, 100) < percent;
}

/* Every stream of the run derives from the seed and a few small numbers. */
static inline struct rng rng_for(uint64_t seed, uint64_t a, uint64_t b)
{
	struct rng r = { seed ^ (a * 0xd1b54a32d192ed03ull) ^ (b * 0xabc98388fb8fac03ull) };

	rng_next(&r);
	return r;
}

/* Monotonic nanoseconds. */
uint64_t now_ns(void);

/* Adapters. */

enum adapter_role {
	ROLE_SHARED,		/* any actor submits, cancels, frees */
	ROLE_PROBE,		/* the prober's alone: its channel state is known */
	ROLE_EPHEMERAL,		/* the churner's alone: created and destroyed */
};

struct sadapter {
	mapreg_adapter *ad;		/* NULL while an ephemeral entry is unused */
	_Atomic bool alive;		/* ad is usable: for reports from any thread */
	/*
	 * Held around a destroy and its `alive` store; a report that uses `ad`
	 * takes it with trylock and skips the adapter if it is taken, so a
	 * report never reads an adapter while it is freed and never waits
	 * (a failing thread may hold it: fail() does not return).
	 */
	pthread_mutex_t destroying;
	uint32_t index;			/* in world.adapters; shadow tokens name it */
	enum adapter_role role;
	mapreg_dispatch dispatch;
	uint32_t max;			/* the per-request limit (C2) */
	_Atomic uint64_t channel_owner;	/* shadow: token of the holder, 0 free */
	/* Stable poll adapters: the poller actor and the fd that stops it. */
	struct actor *poller;
	int stop_fd;
};

/* Holds and hold lists. */

struct hold {
	struct hold *next;
	bool channel;			/* KEEP_OBJECT: mapreg_free_channel */
	bool probed;			/* C23's bad frees were tried on it */
	uint32_t adapter;
	mapreg_base base;
	uint64_t token;			/* the shadow claims it carries */
	struct hold_list *home;		/* where it goes once it can be freed */
};

struct hold_list {
	pthread_mutex_t lock;
	struct hold *head;
};

/* Slots. */

enum phase {
	PHASE_IDLE,			/* names no request */
	PHASE_PENDING,			/* submitted (or about to be), no outcome yet */
	PHASE_RAN,			/* its routine ran (or a C8 hold was granted) */
	PHASE_CANCELLED,		/* mapreg_cancel_channel returned true */
};

#define STATE(gen, phase) (((uint64_t)(gen) << 2) | (phase))
#define STATE_GEN(state) ((state) >> 2)
#define STATE_PHASE(state) ((enum phase)((state) & 3u))

/* The action a routine answers; PLAN_BAD is an invalid answer (C19). */
enum plan {
	PLAN_DEALLOCATE,
	PLAN_KEEP_OBJECT,
	PLAN_KEEP_REGISTERS,
	PLAN_BAD,
};

struct slot {
	mapreg_transfer xfer;
	/*
	 * One outcome per request: the owner sets PENDING (new generation)
	 * before submitting; exactly one of the routine, a canceller whose
	 * cancel returned true, or the owner (refused submission, C8 hold)
	 * moves it on, by compare-and-swap.  Any other move is a failure.
	 */
	_Atomic uint64_t state;
	/* Read by cancellers and the watchdog without any other ordering. */
	_Atomic uint32_t adapter;
	_Atomic uint32_t nregs;
	_Atomic bool cancellable;	/* an _ex request on a shared adapter */
	/* C21: calls of mapreg_cancel_channel on this xfer, begun and ended. */
	_Atomic uint64_t cancels_begun, cancels_ended;
	_Atomic(struct actor *) ran_on;	/* where the routine ran (from its first line) */
	_Atomic uint64_t settled;	/* when its last request's outcome came */
	/* Written by the owner before submitting, read by the routine. */
	struct actor *owner;
	uint32_t seq;			/* owner's submission number on the adapter */
	enum plan plan;
	struct hold_list *holds;	/* where the routine leaves what it keeps */
	struct slot *granted_after;	/* C12 probe: must be granted before us */
	bool ex;			/* an _ex request: the routine gets &xfer */
	/* Owner only. */
	bool reserved;			/* in use by its owner: not free for reuse */
	bool may_lag;			/* async and ran: the library may still be finishing (C10) */
	mapreg_adapter *bound;		/* the adapter the xfer is bound to */
	struct marks {			/* C21: cancels seen when last known unmarked */
		uint64_t begun;
		bool clean;		/* none was in flight then */
	} unmarked;
	/* Written by the routine, read by the owner after a C8 call. */
	mapreg_base granted_base;
};

/* Actors. */

enum actor_kind { ACTOR_WORKER, ACTOR_PROBER, ACTOR_CHURNER, ACTOR_POLLER, ACTOR_MAIN };

/* Counted by one thread, summed after it is joined (or read relaxed). */
struct tally {
	_Atomic uint64_t ops;		/* library calls */
	_Atomic uint64_t routines;	/* routines run on this thread */
	_Atomic uint64_t sync_holds;	/* C8 grants without a routine */
	_Atomic uint64_t cancels;	/* mapreg_cancel_channel true returns */
	_Atomic uint64_t sync_failures;	/* C8/C11/C12 refusals */
	_Atomic uint64_t caller_errors;	/* MAPREG_INVALID_PARAMETER + bad answers */
};

struct actor {
	struct world *w;
	uint32_t index;			/* in world.actors */
	enum actor_kind kind;
	struct rng rng;
	struct slot *slots;
	uint32_t nslots;
	uint32_t *seq;			/* per adapter: this thread's submissions */
	int last_adapter;		/* of the last pick, for bursts; -1: none */
	uint32_t running[16];		/* adapters whose routines run here (C9) */
	uint32_t depth;
	struct tally tally;
	_Atomic uint64_t probing;	/* token of the hold whose bad frees we try */
	struct hold *unapplied;		/* kept by routines run here: see keep() */
	pthread_t thread;
	struct sadapter *polls;		/* pollers: their adapter */
	/*
	 * What the thread does now, and since when: a stall report names the
	 * thread a pending request waits on (report.c).  Diagnostic only.
	 */
	_Atomic(const char *) doing;
	_Atomic uint64_t doing_since;
	_Atomic int tid;		/* its kernel thread id, once it left a breadcrumb */
};

/* Leaves a breadcrumb: what `a` does from now on. */
void doing(struct actor *a, const char *what);

/* The world of one epoch. */

struct shadow {
	uint32_t capacity;		/* registers the pool may grow to */
	_Atomic uint32_t registers;	/* the pool's size as far as we know */
	_Atomic uint64_t *owner;	/* per register: holder's token, 0 free */
	_Atomic uint64_t version;	/* bumped after every change */
	_Atomic uint32_t busy;		/* changes and library frees in flight */
	_Atomic uint64_t serial;	/* for tokens */
	uint32_t boundary;		/* C30: the pool's run boundary, 0: none */
};

struct world {
	const struct options *opt;
	uint32_t epoch;
	mapreg_pool *pool;
	struct shadow shadow;
	struct sadapter *adapters;
	uint32_t nadapters;
	uint32_t nshared;		/* [0, nshared) shared */
	uint32_t first_probe;		/* two probe adapters */
	uint32_t first_ephemeral;	/* up to nadapters */
	struct hold_list shared_holds, probe_holds, churn_holds;
	struct actor **actors;
	uint32_t nactors;
	_Atomic uint32_t *last_granted;	/* C11: [actor][adapter] last seq granted */
	_Atomic bool stopping;		/* drain: submit nothing new */
	_Atomic int64_t live;		/* pending requests + holds */
	_Atomic uint64_t *ops_left;	/* the run's --ops budget, or NULL */
	/* The first failure whose report waits for quiescence (report.c). */
	pthread_mutex_t deferred_lock;
	const char *deferred_check;
	char deferred[256];
};

/* report.c: failures end the run. */
extern _Atomic(struct world *) current_world;
void report_init(const struct options *opt);
/* A broken invariant: print it, the world and the replay command, exit. */
_Noreturn void fail(const char *check, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/*
 * A broken invariant reported at the next quiescence (fail_deferred), once
 * every routine has run: for checks that another fault can mimic.
 */
void defer_failure(struct world *w, const char *check, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void fail_deferred(struct world *w);
void dump_world(struct world *w);
void print_replay(const struct options *opt);

/* shadow.c */
void shadow_init(struct shadow *sh, uint32_t registers, uint32_t capacity);
void shadow_fini(struct shadow *sh);
uint64_t token_new(struct shadow *sh, uint32_t adapter);
/* Bracket claims and releases, and a library free with its releases. */
void shadow_begin(struct shadow *sh);
void shadow_end(struct shadow *sh);
void shadow_claim(struct world *w, uint32_t adapter, mapreg_base base, uint64_t token,
		  bool channel);
void shadow_release(struct world *w, uint32_t adapter, mapreg_base base, uint64_t token,
		    bool channel);
/* Largest run of registers nobody holds in [0, registers), in a snapshot. */
/* Registers the shadow says are held. */
uint32_t shadow_held(struct shadow *sh);
uint32_t shadow_largest_free_run(struct shadow *sh);
void shadow_print(struct world *w);

/* requests.c */
extern _Thread_local struct actor *self;
void hold_list_init(struct hold_list *list);
void hold_push(struct hold_list *list, struct hold *h);
struct hold *hold_pop(struct hold_list *list);
bool hold_list_empty(struct hold_list *list);
/* Pops one hold and frees it (probing C23 on the way); see requests.c. */
bool free_one_hold(struct actor *a, struct hold_list *list);
/* Hands the holds our routines kept to their lists (between library calls). */
void publish_holds(struct actor *a);
void count(_Atomic uint64_t *counter);
uint64_t tally_get(_Atomic uint64_t *counter);

enum kind { KIND_ASYNC_EX, KIND_ASYNC_PLAIN, KIND_SYNC_ROUTINE, KIND_SYNC_HOLD };
struct submit {
	enum kind kind;
	uint32_t adapter;
	uint32_t nregs;
	enum plan plan;
	struct hold_list *holds;
	struct slot *granted_after;
};
/* A free slot of `a` (least recently used), or NULL. */
struct slot *slot_free(struct actor *a);
/* Submits, checks the call's outcome against the contract; the status. */
mapreg_status submit(struct actor *a, struct slot *s, const struct submit *req);
/* mapreg_cancel_channel on any actor's slot; true if it returned true. */
bool cancel(struct actor *a, struct slot *s);
void cancel_random(struct actor *a);
/* The owner cancels its own pending _ex request, on any adapter. */
bool cancel_own(struct actor *a, struct slot *s);
/* mapreg_poll on a shared poll adapter whose routine is not running here. */
void poll_elsewhere(struct actor *a);
/* C5 on `adapter`. */
void too_big_probe(struct actor *a, uint32_t adapter);
/* C21 on a free slot of `a` bound to `adapter`. */
void mark_probe(struct actor *a, struct slot *s, uint32_t adapter);
bool slot_pending(struct slot *s);
uint32_t random_nregs(struct rng *r, uint32_t max);
enum plan random_plan(struct actor *a);
void live_add(struct world *w, int64_t n);

/* actors.c */
void *worker_main(void *arg);
void *prober_main(void *arg);
void *churner_main(void *arg);
void *poller_main(void *arg);
/* Calls service (yielding when it did nothing) until nothing is live. */
void drain(struct actor *a, bool (*service)(struct actor *a));
/* A random shared adapter not running a routine on this thread, or -1. */
int pick_shared_adapter(struct actor *a);

/* watchdog.c */
struct watchdog;
struct watchdog *watchdog_start(struct world *w);
void watchdog_stop(struct watchdog *wd);

/* world.c */
struct world *world_create(const struct options *opt, uint32_t epoch, _Atomic uint64_t *ops_left);
void world_run(struct world *w);		/* starts the actors */
void world_quiesce(struct world *w);		/* stops them, drains, joins */
void world_check_balance(struct world *w);	/* C27 at quiescence */
void world_destroy(struct world *w);		/* C3 */
struct actor *actor_new(struct world *w, enum actor_kind kind, uint32_t nslots);
void world_totals(struct world *w, struct tally *sum);

#endif /* STRESS_H */
