/* SPDX-License-Identifier: MIT */
/*
 * The biased channel's revocations (core/lockfree/bias.h), through the
 * public API only.
 *
 * A lock-free adapter starts BIASED: the first thread to take its channel
 * owns it and takes and gives it back with plain stores; any other thread's
 * use revokes the bias (a membarrier), for good.  The windows that matter
 * are revocations landing in the middle of the owner's own operations: its
 * take, a C8 hold, the end of a hold keeping its run, the release after an
 * asynchronous routine.  This program makes them, round after round, and
 * checks the contract after each.
 *
 * A round: a fresh adapter on a pool of 16 registers, and two threads.
 *  - The owner O (pinned to the first CPU we may use) claims the bias by
 *    using the adapter first, then runs a random sequence of cycles: a C8 hold ended with
 *    DEALLOCATE_OBJECT_KEEP_REGISTERS then mapreg_free_map_registers (C24,
 *    C23), or ended with DEALLOCATE_OBJECT; an asynchronous request (C6, C7)
 *    whose routine answers DEALLOCATE_OBJECT or _KEEP_REGISTERS; now and
 *    then one whose routine calls its own adapter (C9, C22, C23, C24: all
 *    must be refused), and rarely a hold with O's own request queued behind
 *    it, or a KEEP_OBJECT answer (both end the bias from the owner's side).
 *    Half its routines and holds last a random while (o_work), so that its
 *    releases land anywhere inside a revocation too.
 *  - The foreign thread F (pinned to the second CPU) waits for O's claim,
 *    spins for a random time (f_delay: it places F's action anywhere in O's
 *    sequence, or after it; the window is calibrated on O's earlier
 *    sequences), in half the rounds freezes O where it stands (o_freeze: a
 *    preemption at a random instruction, which opens the owner's shortest
 *    windows), then does one thing: an asynchronous request
 *    (granted exactly once, C14, C15), a C8 hold and its end, a
 *    mapreg_free_adapter_object() with no hold of its own (C24: refused,
 *    unless it meets O's open hold, which it may end: then exactly one of
 *    O's end and F's end succeeds), a free of a run O kept (below), or
 *    nothing (O alone: then O's holds are never refused, C8, and its
 *    routines run at once on O, C6).
 *  - F's free of a run O kept (C23), through the same adapter: the records'
 *    bias (bias_records, bias_claim_record) revoked while O claims a record
 *    with plain loads and stores.  In these rounds O publishes each run it
 *    keeps (kept_pub: a hold's KEEP_REGISTERS end, a routine's; one such
 *    hold is always planned) and spins a random while (as o_work does)
 *    before freeing it itself; F, placed by f_delay, takes a publication
 *    and frees that run, racing O's own free: exactly one of the two must
 *    succeed, the other return MAPREG_INVALID_PARAMETER.  Half the time F
 *    first freezes O (o_freeze) aimed at O's free call (the signal's
 *    latency is measured), so that F's whole revocation runs inside O's
 *    claim.  The other variant: O sets a kept run aside until the end of
 *    its sequence, and F frees it while O goes on with other cycles (and
 *    other records): O's own free of it at the end must then fail.  In
 *    the perturbation build (which links the fault hooks) the round also
 *    checks that the channel is still biased when F's only call was that
 *    free (mapreg_adapter_biased): only the records' bias was revoked.
 * Whoever runs a routine that keeps something frees it after its own call
 * returns (the answer is applied when the routine returns, C19).
 *
 * After each round, with both threads done: every routine ran exactly once
 * (C15); every hold was ended exactly once (C24); the channel and the
 * registers were never had by two at once (routines and holds of one
 * adapter run one after another: the header's memory-ordering section; a
 * register is granted once until freed) unless F ended O's hold, when O's
 * own bookkeeping of that hold is stale by design; the pool's stats show
 * every register free or cached and nothing held or waiting, and as many
 * caller errors as MAPREG_INVALID_PARAMETERs were returned (C27); as
 * many of O's frees of its kept runs were refused as F's free of one won
 * (C23); the
 * adapter's destroy (itself a revocation when F did nothing) returns
 * MAPREG_OK (C3).  A round that does not end within the stall limit is
 * reported with what is pending (C13, C14).
 *
 * Usage: stress-revoke [--backend NAME] [--duration SEC] [--seed N]
 *                      [--same-cpu] [--stall-ms MS]
 * --seed replays the rounds' plans (not their interleavings).  Built also
 * against the perturbation library (stress-revoke-perturbed), where the
 * seed drives core/hooks/perturb.h's schedule noise too, so that the
 * windows open on one CPU (--same-cpu: only preemption interleaves O and
 * F) as on two.  Exits 1 on any failure, 77 if F never acted inside O's
 * sequence, else 0.  The spins named above only place actions; none waits
 * for an outcome, and every outcome is checked.  The checks hold on both backends; only the lock-free
 * one biases (where membarrier is there, and MAPREG_NO_BIAS is not set: the
 * summary says).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE	/* pthread_setaffinity_np, CPU_SET */
#endif
#include <errno.h>
#include <linux/membarrier.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/rseq.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <mapreg.h>

#include "two_cpus.h"

#ifdef MAPREG_PERTURB
#include "hooks/perturb.h"
#endif
#ifdef MAPREG_FAULT_INJECTION	/* the perturbation build links the test hooks */
#include "hooks/fault.h"
#define CHECK_CHANNEL_BIAS 1
#endif

#define REGISTERS 16
#define MAX_CYCLES 12
#define F_REC MAX_CYCLES		/* F's request's record */
#define MAX_RECS (MAX_CYCLES + 1)

enum who { WHO_NOBODY, WHO_O, WHO_F, WHO_MAIN };
static const char *const who_name[] = { "nobody", "O", "F", "main" };
static _Thread_local int me;

enum cycle {
	CY_HOLD_KEEP,		/* C8 hold, KEEP_REGISTERS end, then free the run */
	CY_HOLD_DEALLOCATE,	/* C8 hold, DEALLOCATE_OBJECT end */
	CY_ASYNC,		/* asynchronous request */
	CY_NESTED,		/* asynchronous, its routine calls its own adapter */
	CY_HOLD_OWN_REQUEST,	/* C8 hold, O's own request queued behind it, end */
	CY_KEEP_OBJECT,		/* asynchronous, answers KEEP_OBJECT, free_channel */
	CY_KINDS
};
static const char *const cycle_name[] = {
	"hold-keep", "hold-deallocate", "async", "nested", "hold-own-request", "keep-object",
};
/* Out of 100.  The last two revoke from the owner's side: rare, so that most
 * revocations are F's. */
static const int cycle_weight[] = { 30, 30, 28, 6, 3, 3 };

enum f_action {
	F_NONE, F_ASYNC, F_HOLD, F_FREE_UNHELD,
	F_FREE_KEPT,		/* frees a run O kept, racing O's own free of it */
	F_FREE_KEPT_IDLE,	/* frees a run O kept and set aside for later */
	F_ACTIONS
};
static const char *const f_name[] = {
	"nothing", "async request", "hold", "free-unheld", "free-kept", "free-kept-idle",
};
static const int f_weight[] = { 10, 22, 22, 22, 16, 8 };

/*
 * O's publication of a kept run, for F (F_FREE_KEPT*): count, first, O's
 * sequence number (never 0), whether O set it aside, and F's mark: F takes
 * a publication by setting PUB_TAKEN, O withdraws it by exchanging 0.
 */
#define KEPT_SLOTS 4
#define PUB_DEFERRED (1ull << 62)
#define PUB_TAKEN (1ull << 63)
#define PUB_BASE(v) ((mapreg_base){ (uint32_t)((v) >> 8) & 0xff, (uint32_t)(v) & 0xff })

/* One asynchronous request and its routine. */
struct rec {
	bool used;			/* part of the plan */
	int owner;			/* who submits it */
	uint32_t nregs;
	mapreg_action answer;
	bool nested;			/* its routine calls its own adapter */
	bool with_xfer;			/* _ex with a transfer, else allocate_channel */
	mapreg_transfer xfer;
	mapreg_transfer nested_xfer;	/* for the routine's refused _ex (C9) */
	atomic_int ran;			/* routine runs: must end at 1 (C15) */
	atomic_int ran_on;		/* the thread that ran it */
	atomic_bool submitted;		/* its submission returned MAPREG_OK */
	bool ran_at_return;		/* submitter: it had run when the call returned */
};

/*
 * A round's plan (written by main before the round starts), progress and
 * outcome.  Main resets it while O and F wait for the next round; the round
 * mutex orders that before and after their work.
 */
struct round {
	unsigned long n;
	uint64_t seed;
	mapreg_adapter *adapter;

	int ncycles;
	enum cycle cycles[MAX_CYCLES];
	uint32_t hold_nregs[MAX_CYCLES];
	double work_frac[MAX_CYCLES];	/* how long O holds the channel: see o_work */
	int64_t revoke_ns;		/* a foreign call's usual length */
	mapreg_action own_request_end[MAX_CYCLES];
	enum f_action f_action;
	uint32_t f_nregs;
	mapreg_action f_end;		/* F's hold end, or F's unheld free */
	bool f_races_claim;		/* F does not wait for O's claim */
	double f_freeze;		/* F freezes O first (o_freeze): 0, or how long */
	double f_frac;			/* where F acts: a fraction of the window */
	int64_t f_window_ns;		/* O's usual time for this many cycles */
	struct rec recs[MAX_RECS];

	atomic_bool f_ready;		/* F is running: O may start */
	atomic_bool claimed;		/* O's first call returned: O owns the bias */
	atomic_bool f_armed;		/* F saw the claim: O goes on, F's clock starts */
	_Atomic int64_t t_claim, t_o_end, t_f_act, t_f_end;
	_Atomic(const char *) o_phase, f_phase;
	atomic_int o_cycle;

	/* O's holds: made, ended by O, refused to O's end. */
	int o_holds_ok, o_holds_refused, o_ends_ok, o_ends_refused;
	mapreg_base stolen;		/* the run of the hold F ended */
	mapreg_status f_status, f_end_status;
	bool f_stole;			/* F's unheld free ended O's hold */

	/* F's free of a run O kept (F_FREE_KEPT, F_FREE_KEPT_IDLE). */
	int keep_cycle;			/* a CY_HOLD_KEEP the plan forces; idle: set aside */
	double free_frac[MAX_CYCLES];	/* O's spin before freeing its kept run (o_spin) */
	int64_t aim_ns;			/* aimed freeze: its landing around O's free call */
	_Atomic uint64_t kept_pub[KEPT_SLOTS];
	unsigned int kept_seq;		/* O's publications */
	_Atomic int64_t kept_free_at[KEPT_SLOTS];	/* when O calls free on it */
	int64_t f_aimed_at;		/* the free time of the run F took */
	atomic_bool o_pub_over;		/* O publishes no more */
	uint64_t f_target;		/* the publication F took, 0: none */
	mapreg_status f_free_status;
	atomic_bool f_free_done;	/* F's free returned: f_free_status */
	_Atomic int64_t t_f_free0, t_f_free1;
	int o_kept_frees, o_kept_refused, o_kept_refused_untargeted;
	bool o_met_f;			/* O's free of F's target overlapped F's free */
	bool aba;			/* F's late free met a run O kept again at the same base */
	atomic_bool froze_in_free;	/* the freeze stopped O inside its free of a kept run */
	_Atomic int64_t t_kill, t_frozen;
	int deferred_slot;		/* the run O set aside: its publication, or -1 */
	mapreg_base deferred;
	bool o_request_early;		/* hold-own-request: ran before the hold ended */

	atomic_int occupancy;		/* routines, holds, kept objects in progress */
	_Atomic int shadow[REGISTERS];	/* each register's holder token, 0: free */
	atomic_bool clashed;
	char clash[256];
	atomic_ulong invalid_returns;	/* MAPREG_INVALID_PARAMETERs we got (C27) */
	atomic_bool failed;
};

static struct round round_state;
static mapreg_pool *pool;
static mapreg_backend backend = MAPREG_BACKEND_DEFAULT;
static bool same_cpu;
static int cpus_to_use[2];
static unsigned long long seed;
static double duration = 2;
static long stall_ms = 2000;
static const char *argv0;

/* Round hand-off: main publishes round_no, O and F report done. */
static pthread_mutex_t round_mutex = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t round_start = PTHREAD_COND_INITIALIZER;
static pthread_cond_t round_end = PTHREAD_COND_INITIALIZER;
static unsigned long round_no;
static bool o_done, f_done, quitting;
/* F's end of its action, for O's check of a hold F ended (acquire/release). */
static atomic_bool f_acted;

/* The freeze signal's latency (ns), measured: aims F's freeze (F_FREE_KEPT). */
static _Atomic int64_t sig_ns = 3000;
/* O is inside its free of a kept run (read by o_freeze). */
static atomic_bool o_in_free;

static pthread_mutex_t print_mutex = PTHREAD_MUTEX_INITIALIZER;
static atomic_int fail_lines;

static uint64_t splitmix(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static unsigned int pick(uint64_t *rng, unsigned int n)
{
	return (unsigned int)(splitmix(rng) % n);
}

static int pick_weighted(uint64_t *rng, const int *weight, int n)
{
	int total = 0, at;

	for (int i = 0; i < n; i++)
		total += weight[i];
	at = (int)pick(rng, (unsigned int)total);
	for (int i = 0; i < n; i++) {
		if (at < weight[i])
			return i;
		at -= weight[i];
	}
	return n - 1;
}

/* Mostly small, sometimes half the pool: then waiting for registers happens. */
static uint32_t pick_nregs(uint64_t *rng)
{
	static const uint32_t sizes[] = { 0, 1, 2, 3, 4, 8 };

	return sizes[pick(rng, sizeof(sizes) / sizeof(sizes[0]))];
}

static int64_t now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

static void replay_hint(void)
{
	fprintf(stderr, "replay: %s --backend %s --seed %llu --duration %g%s\n", argv0,
		mapreg_backend_name(backend), seed, duration, same_cpu ? " --same-cpu" : "");
}

/* A contract violation: printed at once (from any thread), the round fails. */
static void fail(struct round *r, const char *fmt, ...)
{
	va_list ap;

	atomic_store(&r->failed, true);
	if (atomic_fetch_add(&fail_lines, 1) >= 20)
		return;
	pthread_mutex_lock(&print_mutex);
	fprintf(stderr, "FAIL round %lu (seed %llu): ", r->n, seed);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	pthread_mutex_unlock(&print_mutex);
}

/*
 * Two users of the channel or of a register at once.  A failure unless F
 * ended O's hold: O only learns that when its own end is refused, so its
 * bookkeeping of that hold (occupancy, registers) is stale until then.
 * Judged at the end of the round (main).
 */
static void clash(struct round *r, const char *fmt, ...)
{
	va_list ap;

	if (atomic_exchange(&r->clashed, true))
		return;
	va_start(ap, fmt);
	vsnprintf(r->clash, sizeof(r->clash), fmt, ap);
	va_end(ap);
}

static mapreg_status counted(struct round *r, mapreg_status s)
{
	if (s == MAPREG_INVALID_PARAMETER)
		atomic_fetch_add(&r->invalid_returns, 1);
	return s;
}

static void expect_status(struct round *r, mapreg_status got, mapreg_status want,
			  const char *rule, const char *what)
{
	if (got != want)
		fail(r, "%s: %s by %s returned %s, expected %s", rule, what, who_name[me],
		     mapreg_status_str(got), mapreg_status_str(want));
}

/* The channel's users: routines, holds, kept objects, one at a time. */
static void channel_enter(struct round *r, const char *what)
{
	int before = atomic_fetch_add(&r->occupancy, 1);

	if (before != 0)
		clash(r, "%s (%s) had the channel while %d other user(s) had it", what,
		      who_name[me], before);
}

static void channel_leave(struct round *r)
{
	atomic_fetch_sub(&r->occupancy, 1);
}

static bool base_in_pool(struct round *r, mapreg_base base, uint32_t nregs, const char *what)
{
	if (base.count != nregs || (nregs != 0 && (base.first >= REGISTERS ||
						   base.count > REGISTERS - base.first))) {
		fail(r, "%s: base {%u, %u} for %u registers (C4, C8)", what, base.first,
		     base.count, nregs);
		return false;
	}
	return true;
}

static void registers_take(struct round *r, int token, mapreg_base base, const char *what)
{
	for (uint32_t i = base.first; i < base.first + base.count; i++) {
		int was = atomic_exchange(&r->shadow[i], token);

		if (was != 0)
			clash(r, "register %u granted to %s (%s) while held by holder %d", i, what,
			      who_name[me], was);
	}
}

static void registers_give(struct round *r, int token, mapreg_base base)
{
	for (uint32_t i = base.first; i < base.first + base.count; i++)
		if (atomic_exchange(&r->shadow[i], 0) != token)
			clash(r, "register %u was not holder %d's when it freed it", i, token);
}

/* Holder tokens of the register shadow: requests 1.., O's holds, F's holds. */
#define TOKEN_O_HOLD 100
#define TOKEN_F_HOLD 200
static int rec_token(struct round *r, struct rec *rec)
{
	return 1 + (int)(rec - r->recs);
}

/*
 * What a routine leaves to its runner (C19): a kept run, or a kept object.
 * The routine runs inside one of this thread's calls (inline dispatch,
 * C16), and its answer is applied only when it returns: so the thread frees
 * these after that call returns (owed_drain), not from the routine.
 */
struct owed {
	struct rec *rec;
	mapreg_base base;
	bool object;		/* KEEP_OBJECT: free_channel; else the run */
};
static _Thread_local struct owed owed[4 * MAX_RECS];
static _Thread_local int nowed;

static void owe(struct round *r, struct rec *rec, mapreg_base base, bool object)
{
	if (nowed == (int)(sizeof(owed) / sizeof(owed[0]))) {
		fail(r, "more kept runs and objects than requests");
		return;
	}
	owed[nowed++] = (struct owed){ rec, base, object };
}

static void o_free_kept(struct round *r, mapreg_base base, int c, const char *what);

static void owed_drain(struct round *r)
{
	while (nowed > 0) {		/* each free may run routines that owe more */
		struct owed o = owed[--nowed];

		if (o.object) {
			registers_give(r, rec_token(r, o.rec), o.base);
			channel_leave(r);
			expect_status(r, counted(r, mapreg_free_channel(r->adapter)), MAPREG_OK,
				      "C22", "free_channel after KEEP_OBJECT");
		} else if (me == WHO_O) {	/* may race F's free of it (o_free_kept) */
			registers_give(r, rec_token(r, o.rec), o.base);
			o_free_kept(r, o.base, o.rec->owner == WHO_O ? (int)(o.rec - r->recs) : -1,
				    "free_map_registers of a kept run");
		} else {
			registers_give(r, rec_token(r, o.rec), o.base);
			expect_status(r, counted(r, mapreg_free_map_registers(r->adapter, o.base,
									      o.base.count)),
				      MAPREG_OK, "C23", "free_map_registers of a kept run");
		}
	}
}

static mapreg_action never_runs(void *device, mapreg_transfer *xfer, mapreg_base base,
				void *context)
{
	(void)device, (void)xfer, (void)base;
	fail(&round_state, "C9: a request made from its own adapter's routine ran");
	(void)context;
	return MAPREG_DEALLOCATE_OBJECT;
}

/* Calls on its own adapter from inside a routine: each must be refused. */
static void nested_calls(struct round *r, struct rec *rec, mapreg_base base)
{
	mapreg_adapter *a = r->adapter;
	mapreg_base b;

	expect_status(r, counted(r, mapreg_allocate_channel(a, NULL, 0, never_runs, NULL)),
		      MAPREG_INVALID_PARAMETER, "C9", "allocate_channel from its adapter's routine");
	expect_status(r, counted(r, mapreg_allocate_channel_ex(a, NULL, &rec->nested_xfer, 0,
							       MAPREG_SYNCHRONOUS_CALLBACK, NULL,
							       NULL, &b)),
		      MAPREG_INVALID_PARAMETER, "C9", "a C8 hold from its adapter's routine");
	/* The routine's request holds the channel: no hold is open (C24). */
	expect_status(r, counted(r, mapreg_free_adapter_object(a, MAPREG_DEALLOCATE_OBJECT)),
		      MAPREG_INVALID_PARAMETER, "C24", "free_adapter_object from a routine");
	/* It has not answered KEEP_OBJECT yet (C22; the bias's owner revokes here). */
	expect_status(r, counted(r, mapreg_free_channel(a)), MAPREG_INVALID_PARAMETER, "C22",
		      "free_channel from a routine");
	if (base.count != 0)	/* not a kept run (yet): C23 */
		expect_status(r, counted(r, mapreg_free_map_registers(a, base, base.count)),
			      MAPREG_INVALID_PARAMETER, "C23",
			      "free_map_registers of the routine's own run");
}

/*
 * O's use of the channel it holds (a routine of O's, a hold of O's) lasts a
 * random time from none to about one and a half foreign calls (a
 * revocation's CAS, membarrier and read, measured on F's unheld frees).  A
 * spin, not a sleep, and it hides nothing: it places the owner's release
 * anywhere in a revocation, most of all in the narrow window between the
 * revoker's read of the owner's state and its store of the real word
 * (bias_revoke), which an owner done in nanoseconds never reaches.
 */
static void o_work(struct round *r, int c)
{
	int64_t until;

	if (me != WHO_O || c < 0 || r->work_frac[c] == 0)
		return;
	until = now_ns() + (int64_t)(r->work_frac[c] * (double)r->revoke_ns);
	while (now_ns() < until)
		if (same_cpu)
			sched_yield();
}

static void o_phase(struct round *r, const char *what);

/* A spin until `until` (o_work's kind of placement, yielding on one CPU). */
static void spin_until(int64_t until)
{
	while (now_ns() < until)
		if (same_cpu)
			sched_yield();
}

static bool publishing(struct round *r)
{
	return r->f_action == F_FREE_KEPT || r->f_action == F_FREE_KEPT_IDLE;
}

/* O shows F a run it keeps: the slot, or -1 if all are in use (then F never sees it). */
static int kept_publish(struct round *r, mapreg_base base, bool deferred, int64_t free_at)
{
	uint64_t v = (uint64_t)++r->kept_seq << 16 | (uint64_t)base.first << 8 | base.count |
		     (deferred ? PUB_DEFERRED : 0);

	/* Only O stores a publication into an empty slot: its own look suffices. */
	for (int i = 0; i < KEPT_SLOTS; i++)
		if (atomic_load_explicit(&r->kept_pub[i], memory_order_relaxed) == 0) {
			/* Release: the free time before, for F's aim. */
			atomic_store_explicit(&r->kept_free_at[i], free_at, memory_order_relaxed);
			atomic_store_explicit(&r->kept_pub[i], v, memory_order_release);
			return i;
		}
	return -1;
}

static bool owed_has(mapreg_base base)
{
	for (int i = 0; i < nowed; i++)
		if (!owed[i].object && owed[i].base.first == base.first &&
		    owed[i].base.count == base.count)
			return true;
	return false;
}

/* O waits for F's free of the run F took to return (a handshake after both calls). */
static mapreg_status o_await_f_free(struct round *r)
{
	for (unsigned int spins = 0;
	     !atomic_load_explicit(&r->f_free_done, memory_order_acquire); spins++)
		if (same_cpu || spins > 256)
			sched_yield();
	return r->f_free_status;
}

/*
 * O's free of its kept run `base`, published at `slot`: then withdrawn.  If
 * F took it meanwhile, exactly one of the two frees must succeed (C23).
 */
static void o_kept_free(struct round *r, mapreg_base base, int slot, bool deferred,
			const char *what)
{
	uint64_t v = 0;

	if (deferred && slot >= 0) {
		/*
		 * The run O set aside: withdrawn first, so that F frees it
		 * only while O is not freeing it; and if F took it, O frees
		 * only once F is done (its drain included), so that no other
		 * run kept at the same base can meet O's free: it must fail
		 * exactly when F's won.
		 */
		v = atomic_exchange(&r->kept_pub[slot], 0);
		atomic_store_explicit(&r->o_pub_over, true, memory_order_release);
		if (v & PUB_TAKEN) {
			o_phase(r, "waiting for F (F took the run set aside)");
			o_await_f_free(r);
			while (!atomic_load_explicit(&f_acted, memory_order_acquire))
				sched_yield();
		}
	}
	o_phase(r, "free_map_registers (a kept run, F may free it too)");
	int64_t t0 = now_ns();
	atomic_store(&o_in_free, true);
	mapreg_status s = counted(r, mapreg_free_map_registers(r->adapter, base, base.count));
	atomic_store(&o_in_free, false);
	int64_t t1 = now_ns();

	r->o_kept_frees++;
	if (s != MAPREG_OK && s != MAPREG_INVALID_PARAMETER)
		fail(r, "C23: %s {%u, %u} returned %s", what, base.first, base.count,
		     mapreg_status_str(s));
	r->o_kept_refused += s == MAPREG_INVALID_PARAMETER;
	if (!deferred && slot >= 0)
		v = atomic_exchange(&r->kept_pub[slot], 0);
	if (v & PUB_TAKEN) {
		mapreg_status f = o_await_f_free(r);

		if (t0 <= atomic_load(&r->t_f_free1) && atomic_load(&r->t_f_free0) <= t1)
			r->o_met_f = true;
		if ((s == MAPREG_OK) + (f == MAPREG_OK) != 1) {
			/*
			 * Both succeeded: correct only if F's free came after
			 * O's and met a run kept again at the same base inside
			 * O's free (an inline grant): O's free of that one must
			 * then fail (the round's count).
			 */
			if (s == MAPREG_OK && f == MAPREG_OK && !deferred && owed_has(base))
				r->aba = true;
			else
				fail(r, "C23: O's free of its kept run {%u, %u} returned %s, F's "
				     "free of it %s: exactly one must succeed%s", base.first,
				     base.count, mapreg_status_str(s), mapreg_status_str(f),
				     deferred ? " (the run O set aside)" : "");
		}
	} else if (s != MAPREG_OK) {
		/* F did not take this one: only a late free of F's may have met it. */
		r->o_kept_refused_untargeted++;
	}
}

/*
 * O frees a run it kept (C23).  In the rounds of F's free of a kept run,
 * O publishes it first, and spins a random while (`free_frac` of a foreign
 * call) before its free, so that F's free, once F has taken the
 * publication, lands anywhere around O's.
 */
static void o_free_kept(struct round *r, mapreg_base base, int c, const char *what)
{
	if (!publishing(r)) {
		expect_status(r, counted(r, mapreg_free_map_registers(r->adapter, base,
								      base.count)),
			      MAPREG_OK, "C23", what);
		return;
	}
	int64_t at = now_ns() + (c < 0 ? 0 : (int64_t)(r->free_frac[c] * (double)r->revoke_ns));

	/* F's freeze is aimed at the free: O leaves it the signal's latency to get there. */
	if (r->f_freeze != 0)
		at += atomic_load(&sig_ns) + 1000;

	int slot = kept_publish(r, base, false, at);

	o_phase(r, "published a kept run, spinning before its free");
	spin_until(at);
	o_kept_free(r, base, slot, false, what);
}

static mapreg_action routine(void *device, mapreg_transfer *xfer, mapreg_base base,
			     void *context)
{
	struct round *r = &round_state;
	struct rec *rec = context;
	int token = rec_token(r, rec);

	(void)device, (void)xfer;
	if (atomic_fetch_add(&rec->ran, 1) != 0)
		fail(r, "C15: request %d's routine ran twice", token);
	atomic_store(&rec->ran_on, me);
	channel_enter(r, "a routine");
	if (base_in_pool(r, base, rec->nregs, "routine"))
		registers_take(r, token, base, "a routine");
	if (rec->nested)
		nested_calls(r, rec, base);
	if (rec->owner == WHO_O)
		o_work(r, (int)(rec - r->recs));

	switch (rec->answer) {
	case MAPREG_KEEP_OBJECT:	/* channel and run stay ours until free_channel */
		owe(r, rec, base, true);
		break;
	case MAPREG_DEALLOCATE_OBJECT_KEEP_REGISTERS:
		channel_leave(r);
		if (base.count != 0)
			owe(r, rec, base, false);
		break;
	default:
		registers_give(r, token, base);
		channel_leave(r);
		break;
	}
	return rec->answer;
}

/* An asynchronous request (C6, C7): always MAPREG_OK. */
static void submit(struct round *r, struct rec *rec)
{
	mapreg_status s;

	if (rec->with_xfer) {
		memset(&rec->xfer, 0, sizeof(rec->xfer));
		expect_status(r, counted(r, mapreg_transfer_init(r->adapter, &rec->xfer)),
			      MAPREG_OK, "C9", "transfer_init");
	}
	memset(&rec->nested_xfer, 0, sizeof(rec->nested_xfer));
	if (rec->nested)
		expect_status(r, counted(r, mapreg_transfer_init(r->adapter, &rec->nested_xfer)),
			      MAPREG_OK, "C9", "transfer_init");
	if (rec->with_xfer)
		s = mapreg_allocate_channel_ex(r->adapter, NULL, &rec->xfer, rec->nregs, 0,
					       routine, rec, NULL);
	else
		s = mapreg_allocate_channel(r->adapter, NULL, rec->nregs, routine, rec);
	expect_status(r, counted(r, s), MAPREG_OK, "C6/C7", "an asynchronous request");
	rec->ran_at_return = atomic_load(&rec->ran) != 0;
	atomic_store(&rec->submitted, s == MAPREG_OK);
}

static void o_phase(struct round *r, const char *what)
{
	atomic_store_explicit(&r->o_phase, what, memory_order_relaxed);
}

static void f_phase(struct round *r, const char *what)
{
	atomic_store_explicit(&r->f_phase, what, memory_order_relaxed);
}

/*
 * After each of O's calls: the first one claimed the bias (lock-free).  O
 * then waits for F to see the claim, so that F's placement is measured
 * from the moment O goes on (F's reaction, a cache miss or a wake-up, is
 * as long as a whole biased sequence).  A handshake, not a delay: F's own
 * spin places its action (f_delay).
 */
static void o_called(struct round *r)
{
	if (atomic_load_explicit(&r->claimed, memory_order_relaxed))
		return;
	if (r->f_races_claim)
		atomic_store(&r->t_claim, now_ns());
	atomic_store_explicit(&r->claimed, true, memory_order_release);
	if (r->f_races_claim)
		return;
	o_phase(r, "waiting for F to see the claim");
	for (unsigned int spins = 0; !atomic_load_explicit(&r->f_armed, memory_order_acquire);
	     spins++)
		if (same_cpu || spins > 256)
			sched_yield();
}

static _Thread_local mapreg_transfer hold_xfer;

/*
 * A C8 hold of O's, ended with `end`.  F may end it first (its unheld free,
 * C24): then O's end is refused, and O keeps the run to check, once F's
 * call has returned, whether F kept it (C23: only then is it O's to free).
 */
static void o_hold(struct round *r, int c, mapreg_action end, struct rec *own)
{
	uint32_t nregs = r->hold_nregs[c];
	mapreg_base base = { UINT32_MAX, UINT32_MAX };

	o_phase(r, "allocate_channel_ex (C8 hold)");
	mapreg_status s = counted(r, mapreg_allocate_channel_ex(r->adapter, NULL, &hold_xfer,
								   nregs,
								   MAPREG_SYNCHRONOUS_CALLBACK,
								   NULL, NULL, &base));
	o_called(r);
	if (s == MAPREG_INSUFFICIENT_RESOURCES) {	/* F has it, or C11, C12 */
		r->o_holds_refused++;
		return;
	}
	expect_status(r, s, MAPREG_OK, "C8", "a C8 hold");
	if (s != MAPREG_OK || !base_in_pool(r, base, nregs, "O's hold"))
		return;
	r->o_holds_ok++;
	channel_enter(r, "O's hold");
	registers_take(r, TOKEN_O_HOLD, base, "O's hold");
	o_work(r, c);
	if (own != NULL) {
		/* The channel is held: it must queue (C11), running nothing. */
		o_phase(r, "own request behind the hold");
		submit(r, own);
		r->o_request_early = own->ran_at_return;
	}

	channel_leave(r);
	if (end == MAPREG_DEALLOCATE_OBJECT)
		registers_give(r, TOKEN_O_HOLD, base);
	o_phase(r, "free_adapter_object (end of the hold)");
	s = counted(r, mapreg_free_adapter_object(r->adapter, end));
	if (end != MAPREG_DEALLOCATE_OBJECT)
		registers_give(r, TOKEN_O_HOLD, base);
	if (s == MAPREG_INVALID_PARAMETER) {		/* F ended it (C24) */
		r->o_ends_refused++;
		r->stolen = base;
		return;
	}
	expect_status(r, s, MAPREG_OK, "C24", "end of a C8 hold");
	r->o_ends_ok++;
	if (s == MAPREG_OK && end != MAPREG_DEALLOCATE_OBJECT && nregs != 0) {
		if (r->f_action == F_FREE_KEPT_IDLE && c == r->keep_cycle &&
		    r->deferred_slot < 0) {
			/* Set aside until the end of the sequence: F may free it meanwhile. */
			r->deferred = base;
			r->deferred_slot = kept_publish(r, base, true, INT64_MAX);
			if (r->deferred_slot >= 0)
				return;
		}
		o_phase(r, "free_map_registers (the hold's kept run)");
		o_free_kept(r, base, c, "free_map_registers after a KEEP_REGISTERS end");
	}
}

static void o_sequence(struct round *r)
{
	memset(&hold_xfer, 0, sizeof(hold_xfer));
	if (counted(r, mapreg_transfer_init(r->adapter, &hold_xfer)) != MAPREG_OK)
		fail(r, "transfer_init of O's hold transfer");
	/*
	 * Start only once F runs: woken together, F may be scheduled tens of
	 * microseconds after O, longer than O's whole sequence.
	 */
	o_phase(r, "waiting for F to run");
	for (unsigned int spins = 0; !atomic_load_explicit(&r->f_ready, memory_order_acquire);
	     spins++)
		if (same_cpu || spins > 256)
			sched_yield();
	for (int c = 0; c < r->ncycles; c++) {
		atomic_store_explicit(&r->o_cycle, c, memory_order_relaxed);
		switch (r->cycles[c]) {
		case CY_HOLD_KEEP:
			o_hold(r, c, MAPREG_DEALLOCATE_OBJECT_KEEP_REGISTERS, NULL);
			break;
		case CY_HOLD_DEALLOCATE:
			o_hold(r, c, MAPREG_DEALLOCATE_OBJECT, NULL);
			break;
		case CY_HOLD_OWN_REQUEST:
			o_hold(r, c, r->own_request_end[c], &r->recs[c]);
			break;
		default:
			o_phase(r, "asynchronous request");
			submit(r, &r->recs[c]);
			o_called(r);
			break;
		}
		o_phase(r, "freeing what routines kept");
		owed_drain(r);
	}
	if (r->deferred_slot >= 0) {
		o_kept_free(r, r->deferred, r->deferred_slot, true,
			    "free_map_registers of the run set aside");
		owed_drain(r);
	}
	atomic_store(&r->t_o_end, now_ns());
	atomic_store_explicit(&r->o_pub_over, true, memory_order_release);

	if (r->o_ends_refused != 0) {
		/*
		 * F ended one of O's holds.  F's end keeps the run only when it
		 * returns (the record is made after the channel is let go:
		 * channel_end_sync_keeping_run), so wait for F's call to
		 * return, then the run must be O's to free exactly when F kept it.
		 */
		o_phase(r, "waiting for F's call to return (F ended O's hold)");
		while (!atomic_load_explicit(&f_acted, memory_order_acquire))
			sched_yield();
		if (r->stolen.count != 0) {
			bool kept = r->f_stole && r->f_end == MAPREG_DEALLOCATE_OBJECT_KEEP_REGISTERS;

			o_phase(r, "free_map_registers (the run of the hold F ended)");
			expect_status(r, counted(r, mapreg_free_map_registers(r->adapter, r->stolen,
									      r->stolen.count)),
				      kept ? MAPREG_OK : MAPREG_INVALID_PARAMETER, "C23/C24",
				      "free of the run of a hold F ended");
			/* Its registers may let a waiter in: its routine runs here (C16). */
			owed_drain(r);
		}
	}
	o_phase(r, "done");
}

/*
 * F's placement.  A spin, not a sleep: it only chooses where in O's
 * sequence F acts (a fraction of O's usual sequence length, measured on the
 * earlier rounds), and hides no race: every outcome is checked.  On one CPU
 * it yields as it spins, so that O runs meanwhile.
 */
static void f_delay(struct round *r)
{
	int64_t until = atomic_load(&r->t_claim) + (int64_t)(r->f_frac * (double)r->f_window_ns);

	while (now_ns() < until)
		if (same_cpu)
			sched_yield();
}

/*
 * Preemption, at a random instruction of O's: F signals O, whose handler
 * spins (up to two revocations' length) before O goes on from wherever it
 * was, and F acts as soon as O is frozen.  So a revocation runs whole
 * inside the owner's shortest windows, e.g. between its look at the word
 * and its store to bias_held (bias_mine, bias_store), which no PERTURB()
 * point of the library widens and which on two CPUs only a preemption or
 * an interrupt opens.  A spin in a signal handler, not a sleep: it stands
 * for the scheduler, and every outcome is checked as usual.  It ends by
 * itself, since F's call may wait for O (a revocation O began).
 */
static pthread_t o_thread;
static _Atomic int64_t freeze_ns;
static atomic_bool frozen;

static void o_freeze(int sig)
{
	int saved = errno;
	int64_t until = now_ns() + atomic_load(&freeze_ns);

	(void)sig;
	atomic_store(&round_state.t_frozen, now_ns());
	if (atomic_load(&o_in_free))
		atomic_store(&round_state.froze_in_free, true);
	atomic_store(&frozen, true);
	while (now_ns() < until)
		if (same_cpu)
			sched_yield();
	errno = saved;
}

static void f_freeze_o(struct round *r)
{
	atomic_store(&frozen, false);
	atomic_store(&freeze_ns, (int64_t)(r->f_freeze * (double)r->revoke_ns));
	f_phase(r, "freezing O");
	atomic_store(&r->t_kill, now_ns());
	pthread_kill(o_thread, SIGUSR1);
	for (unsigned int spins = 0; !atomic_load(&frozen); spins++)
		if (same_cpu || spins > 256)
			sched_yield();
}

/*
 * F frees a run O kept (C23), through the same adapter: the first
 * publication of O's it can take (the run set aside, for F_FREE_KEPT_IDLE),
 * or nothing if O keeps no more.  Racing O's own free: half the time F
 * first freezes O, aimed (by the measured signal latency) at O's free call
 * plus a planned offset, so that F's revocation of the records' bias runs
 * inside O's claim of the record.
 */
static void f_free_kept(struct round *r)
{
	bool idle = r->f_action == F_FREE_KEPT_IDLE;
	uint64_t v = 0;

	f_phase(r, "waiting for a run O kept");
	for (unsigned int spins = 0; v == 0; spins++) {
		bool over = atomic_load_explicit(&r->o_pub_over, memory_order_acquire);

		for (int i = 0; i < KEPT_SLOTS && v == 0; i++) {
			uint64_t seen = atomic_load_explicit(&r->kept_pub[i], memory_order_acquire);

			if (seen != 0 && !(seen & PUB_TAKEN) && !(seen & PUB_DEFERRED) == !idle &&
			    atomic_compare_exchange_strong(&r->kept_pub[i], &seen, seen | PUB_TAKEN)) {
				v = seen;
				r->f_aimed_at = atomic_load_explicit(&r->kept_free_at[i],
								     memory_order_relaxed);
			}
		}
		if (v == 0 && over) {		/* O kept nothing (more) for F */
			atomic_store(&r->t_f_act, now_ns());
			return;
		}
		if (v == 0 && (same_cpu || spins > 1024))
			sched_yield();
	}
	r->f_target = v;
	if (r->f_freeze != 0) {
		if (!idle)
			spin_until(r->f_aimed_at - atomic_load(&sig_ns) + r->aim_ns);
		f_freeze_o(r);
	}
	mapreg_base base = PUB_BASE(v);

	f_phase(r, "free_map_registers (a run O kept)");
	atomic_store(&r->t_f_act, now_ns());
	atomic_store(&r->t_f_free0, now_ns());
	mapreg_status s = counted(r, mapreg_free_map_registers(r->adapter, base, base.count));
	atomic_store(&r->t_f_free1, now_ns());
	r->f_free_status = s;
	atomic_store_explicit(&r->f_free_done, true, memory_order_release);
	if (s != MAPREG_OK && s != MAPREG_INVALID_PARAMETER)
		fail(r, "C23: F's free of O's kept run {%u, %u} returned %s", base.first,
		     base.count, mapreg_status_str(s));
}

static void f_act(struct round *r)
{
	mapreg_status s;
	mapreg_base base = { UINT32_MAX, UINT32_MAX };

	memset(&hold_xfer, 0, sizeof(hold_xfer));
	if (counted(r, mapreg_transfer_init(r->adapter, &hold_xfer)) != MAPREG_OK)
		fail(r, "transfer_init of F's hold transfer");
	atomic_store_explicit(&r->f_ready, true, memory_order_release);
	if (!r->f_races_claim) {
		f_phase(r, "waiting for O's claim");
		for (unsigned int spins = 0;
		     !atomic_load_explicit(&r->claimed, memory_order_acquire); spins++)
			if (same_cpu || spins > 256)
				sched_yield();
		atomic_store(&r->t_claim, now_ns());
		atomic_store_explicit(&r->f_armed, true, memory_order_release);
		f_delay(r);
	}
	if (r->f_freeze != 0 && r->f_action != F_NONE && !publishing(r))
		f_freeze_o(r);
	atomic_store(&r->t_f_act, now_ns());
	switch (r->f_action) {
	case F_NONE:
		break;
	case F_ASYNC:
		f_phase(r, "asynchronous request");
		submit(r, &r->recs[F_REC]);
		break;
	case F_HOLD:
		f_phase(r, "allocate_channel_ex (C8 hold)");
		s = counted(r, mapreg_allocate_channel_ex(r->adapter, NULL, &hold_xfer, r->f_nregs,
							  MAPREG_SYNCHRONOUS_CALLBACK, NULL, NULL,
							  &base));
		r->f_status = s;
		if (s == MAPREG_INSUFFICIENT_RESOURCES)		/* O has it (C8, C11, C12) */
			break;
		expect_status(r, s, MAPREG_OK, "C8", "a C8 hold");
		if (s != MAPREG_OK || !base_in_pool(r, base, r->f_nregs, "F's hold"))
			break;
		channel_enter(r, "F's hold");
		registers_take(r, TOKEN_F_HOLD, base, "F's hold");
		channel_leave(r);
		if (r->f_end == MAPREG_DEALLOCATE_OBJECT)
			registers_give(r, TOKEN_F_HOLD, base);
		f_phase(r, "free_adapter_object (end of the hold)");
		s = counted(r, mapreg_free_adapter_object(r->adapter, r->f_end));
		r->f_end_status = s;
		/* Nobody else ends a hold but with one of its own (C24). */
		expect_status(r, s, MAPREG_OK, "C24", "end of a C8 hold");
		if (r->f_end != MAPREG_DEALLOCATE_OBJECT)
			registers_give(r, TOKEN_F_HOLD, base);
		if (s == MAPREG_OK && r->f_end != MAPREG_DEALLOCATE_OBJECT && r->f_nregs != 0) {
			f_phase(r, "free_map_registers (the hold's kept run)");
			expect_status(r, counted(r, mapreg_free_map_registers(r->adapter, base,
									      r->f_nregs)),
				      MAPREG_OK, "C23", "free_map_registers after a KEEP_REGISTERS end");
		}
		break;
	case F_FREE_KEPT:
	case F_FREE_KEPT_IDLE:
		f_free_kept(r);
		break;
	case F_FREE_UNHELD:
		f_phase(r, "free_adapter_object without a hold");
		s = counted(r, mapreg_free_adapter_object(r->adapter, r->f_end));
		r->f_status = s;
		if (s == MAPREG_OK)
			r->f_stole = true;	/* it met O's open hold: checked by main */
		else
			expect_status(r, s, MAPREG_INVALID_PARAMETER, "C24",
				      "free_adapter_object without a hold");
		break;
	default:
		break;
	}
	atomic_store(&r->t_f_end, now_ns());
	f_phase(r, "freeing what routines kept");
	owed_drain(r);
	atomic_store_explicit(&f_acted, true, memory_order_release);
	f_phase(r, "done");
}

static void *thread_main(void *arg)
{
	unsigned long seen = 0;

	me = (int)(intptr_t)arg;
	two_cpus_pin(cpus_to_use[me == WHO_O ? 0 : 1]);
	for (;;) {
		pthread_mutex_lock(&round_mutex);
		while (round_no == seen && !quitting)
			pthread_cond_wait(&round_start, &round_mutex);
		if (quitting) {
			pthread_mutex_unlock(&round_mutex);
			return NULL;
		}
		seen = round_no;
		pthread_mutex_unlock(&round_mutex);

		if (me == WHO_O)
			o_sequence(&round_state);
		else
			f_act(&round_state);

		pthread_mutex_lock(&round_mutex);
		if (me == WHO_O)
			o_done = true;
		else
			f_done = true;
		pthread_cond_signal(&round_end);
		pthread_mutex_unlock(&round_mutex);
	}
}

static void plan(struct round *r, uint64_t rng, int64_t cycle_ns, int64_t revoke_ns)
{
	r->ncycles = 1 + (int)pick(&rng, MAX_CYCLES);
	for (int c = 0; c < r->ncycles; c++) {
		enum cycle kind = (enum cycle)pick_weighted(&rng, cycle_weight, CY_KINDS);
		struct rec *rec = &r->recs[c];

		r->cycles[c] = kind;
		r->hold_nregs[c] = pick_nregs(&rng);
		r->own_request_end[c] = pick(&rng, 2) ? MAPREG_DEALLOCATE_OBJECT
						       : MAPREG_DEALLOCATE_OBJECT_KEEP_REGISTERS;
		/* Half the cycles at full speed, the others held up to 1.5 revocations. */
		r->work_frac[c] = pick(&rng, 2) ? 0 : (double)pick(&rng, 1500) / 1000.0;
		/* Before freeing a kept run (F_FREE_KEPT*): mostly within a revocation. */
		r->free_frac[c] = pick(&rng, 4) == 0 ? 0 : (double)pick(&rng, 1500) / 1000.0;
		if (kind == CY_HOLD_KEEP || kind == CY_HOLD_DEALLOCATE)
			continue;
		rec->used = true;
		rec->owner = WHO_O;
		rec->nregs = pick_nregs(&rng);
		rec->answer = pick(&rng, 2) ? MAPREG_DEALLOCATE_OBJECT
					    : MAPREG_DEALLOCATE_OBJECT_KEEP_REGISTERS;
		if (kind == CY_KEEP_OBJECT)
			rec->answer = MAPREG_KEEP_OBJECT;
		rec->nested = kind == CY_NESTED;
		rec->with_xfer = pick(&rng, 2);
	}
	r->f_action = (enum f_action)pick_weighted(&rng, f_weight, F_ACTIONS);
	r->f_nregs = pick_nregs(&rng);
	r->f_end = pick(&rng, 2) ? MAPREG_DEALLOCATE_OBJECT : MAPREG_DEALLOCATE_OBJECT_KEEP_REGISTERS;
	/* Now and then F races O's first take too: both may claim (bias_claim). */
	r->f_races_claim = pick(&rng, 32) == 0;
	/* Half the time F acts inside a preemption of O's. */
	r->f_freeze = pick(&rng, 2) ? 0 : (double)(1 + pick(&rng, 2000)) / 1000.0;
	/* Up to 1.25 windows: mostly inside O's sequence, some after it. */
	r->f_frac = (double)pick(&rng, 1250) / 1000.0;
	r->f_window_ns = cycle_ns * r->ncycles;
	r->f_status = r->f_end_status = r->f_free_status = (mapreg_status)-1;	/* no such call */
	r->keep_cycle = r->deferred_slot = -1;
	if (r->f_action == F_FREE_KEPT || r->f_action == F_FREE_KEPT_IDLE) {
		/* O keeps a run at least: a hold's (for the idle variant, set aside). */
		static const uint32_t sizes[] = { 1, 2, 3, 4, 8 };
		int k = (int)pick(&rng, (unsigned int)r->ncycles);

		r->keep_cycle = k;
		r->cycles[k] = CY_HOLD_KEEP;
		r->hold_nregs[k] = sizes[pick(&rng, 5)];
		memset(&r->recs[k], 0, sizeof(r->recs[k]));
		/* The aimed freeze lands from 300 ns before O's free call to 300 after. */
		r->aim_ns = (int64_t)pick(&rng, 601) - 300;
	}
	r->revoke_ns = revoke_ns;
	if (r->f_action == F_ASYNC) {
		struct rec *rec = &r->recs[F_REC];

		rec->used = true;
		rec->owner = WHO_F;
		rec->nregs = r->f_nregs;
		rec->answer = r->f_end;
		rec->with_xfer = pick(&rng, 2);
	}
}

static void describe(struct round *r)
{
	fprintf(stderr, "  round %lu: O's cycles:", r->n);
	for (int c = 0; c < r->ncycles; c++)
		fprintf(stderr, " %s(%u)", cycle_name[r->cycles[c]],
			r->recs[c].used ? r->recs[c].nregs : r->hold_nregs[c]);
	fprintf(stderr, "\n  F: %s, %u registers, %s, at %.2f of %lld ns%s\n",
		f_name[r->f_action], r->f_nregs, r->f_end == MAPREG_DEALLOCATE_OBJECT ?
		"DEALLOCATE_OBJECT" : "DEALLOCATE_OBJECT_KEEP_REGISTERS", r->f_frac,
		(long long)r->f_window_ns, r->f_races_claim ? ", racing O's claim" : "");
	if (r->f_freeze != 0)
		fprintf(stderr, "  F froze O for %.0f ns first\n", r->f_freeze * (double)r->revoke_ns);
	fprintf(stderr, "  O: at cycle %d, %s; F: %s\n", atomic_load(&r->o_cycle),
		atomic_load(&r->o_phase) ? atomic_load(&r->o_phase) : "not started",
		atomic_load(&r->f_phase) ? atomic_load(&r->f_phase) : "not started");
	fprintf(stderr, "  O's holds: %d made, %d refused, %d ended by O, %d ends refused "
		"(run {%u, %u}); F's call: %s, its end %s; F acted %lld ns after O's claim, "
		"O's sequence took %lld ns\n", r->o_holds_ok, r->o_holds_refused, r->o_ends_ok,
		r->o_ends_refused, r->stolen.first, r->stolen.count,
		(int)r->f_status < 0 ? "none" : mapreg_status_str(r->f_status),
		(int)r->f_end_status < 0 ? "none" : mapreg_status_str(r->f_end_status),
		(long long)(atomic_load(&r->t_f_act) - atomic_load(&r->t_claim)),
		(long long)(atomic_load(&r->t_o_end) - atomic_load(&r->t_claim)));
	if (publishing(r))
		fprintf(stderr, "  kept runs: O freed %d (%d refused, %d of them not F's target)%s; "
			"F took %s {%u, %u} (publication %llu), its free %s%s%s; run set aside: "
			"%s {%u, %u}\n", r->o_kept_frees, r->o_kept_refused,
			r->o_kept_refused_untargeted, r->aba ? ", F's late free met a run kept again" : "",
			r->f_target == 0 ? "none" : (r->f_target & PUB_DEFERRED) ? "the run set aside"
			: "a run", PUB_BASE(r->f_target).first, PUB_BASE(r->f_target).count,
			(unsigned long long)((r->f_target >> 16) & 0xffffffffu),
			(int)r->f_free_status < 0 ? "none" : mapreg_status_str(r->f_free_status),
			r->o_met_f ? ", overlapping O's" : "",
			atomic_load(&r->froze_in_free) ? ", O frozen inside its free" : "",
			r->deferred_slot >= 0 ? "yes" : "no", r->deferred.first, r->deferred.count);
	fprintf(stderr, "  registers as the test sees them (holder, 0: free):");
	for (int i = 0; i < REGISTERS; i++)
		fprintf(stderr, " %d", atomic_load(&r->shadow[i]));
	fprintf(stderr, "%s%s\n", atomic_load(&r->clashed) ? "; clash: " : "",
		atomic_load(&r->clashed) ? r->clash : "");
	for (int i = 0; i < MAX_RECS; i++) {
		struct rec *rec = &r->recs[i];

		if (!rec->used)
			continue;
		fprintf(stderr, "  request %d (%s's, %u registers, answers %s%s): submitted %d, "
			"ran %d time(s) on %s\n", i + 1, who_name[rec->owner], rec->nregs,
			rec->answer == MAPREG_KEEP_OBJECT ? "KEEP_OBJECT" :
			rec->answer == MAPREG_DEALLOCATE_OBJECT ? "DEALLOCATE_OBJECT" :
			"DEALLOCATE_OBJECT_KEEP_REGISTERS", rec->with_xfer ? ", _ex" : "",
			(int)atomic_load(&rec->submitted), atomic_load(&rec->ran),
			who_name[atomic_load(&rec->ran_on)]);
	}
	mapreg_pool_stats st;
	if (mapreg_pool_get_stats(pool, &st) == MAPREG_OK)
		fprintf(stderr, "  stats: free %llu cached %llu held %llu waiting channel %llu "
			"registers %llu\n", (unsigned long long)st.free,
			(unsigned long long)st.cached, (unsigned long long)st.held,
			(unsigned long long)st.waiting_channel,
			(unsigned long long)st.waiting_registers);
}

/* The checks of a round whose threads are done (the round mutex orders their work before). */
static void check_round(struct round *r, uint64_t errors_before)
{
	/* C24: each of O's holds ended once, by O or by F's unheld free. */
	if (r->o_holds_ok != r->o_ends_ok + (int)r->f_stole || r->o_ends_refused != (int)r->f_stole)
		fail(r, "C24: O made %d holds, ended %d, had %d end(s) refused; F's unheld free "
		     "%s", r->o_holds_ok, r->o_ends_ok, r->o_ends_refused,
		     r->f_stole ? "succeeded" : "did not succeed");
	if (r->f_stole && r->f_action != F_FREE_UNHELD)
		fail(r, "F ended a hold it had no reason to");
	/* C23: each kept run freed once: O's frees refused exactly as F's won. */
	if (publishing(r)) {
		int f_won = r->f_free_status == MAPREG_OK;

		if (r->f_target == 0 && (int)r->f_free_status >= 0)
			fail(r, "F freed with no run taken");
		if (r->o_kept_refused != f_won)
			fail(r, "C23: %d of O's %d frees of its kept runs refused, F's free of one "
			     "%s", r->o_kept_refused, r->o_kept_frees,
			     (int)r->f_free_status < 0 ? "not made" : mapreg_status_str(r->f_free_status));
		if (r->o_kept_refused_untargeted > (int)r->aba)
			fail(r, "C23: %d of O's frees of runs F did not take refused",
			     r->o_kept_refused_untargeted);
	}
	if (atomic_load(&r->clashed) && !r->f_stole && !r->aba)
		fail(r, "exclusion: %s", r->clash);
	/* C11: a request behind O's hold waits for the hold (unless F ended it). */
	if (r->o_request_early && !r->f_stole)
		fail(r, "C11: O's request ran while O's C8 hold was open");

	for (int i = 0; i < MAX_RECS; i++) {
		struct rec *rec = &r->recs[i];
		int ran = atomic_load(&rec->ran);

		if (!rec->used)
			continue;
		if (atomic_load(&rec->submitted) && ran != 1)
			fail(r, "C14/C15: request %d (%s's, %u registers) ran %d times", i + 1,
			     who_name[rec->owner], rec->nregs, ran);
		/* O alone (C6): granted at submission, on O, before the call returned. */
		if (r->f_action == F_NONE && i < r->ncycles && r->cycles[i] != CY_HOLD_OWN_REQUEST &&
		    (!rec->ran_at_return || atomic_load(&rec->ran_on) != WHO_O))
			fail(r, "C6: O alone, yet request %d's routine did not run on O at once",
			     i + 1);
	}
	if (r->f_action == F_NONE && r->o_holds_refused != 0)
		fail(r, "C8: O alone, yet %d of its holds were refused", r->o_holds_refused);

	/* C27: at quiescence nothing is held or waits, and every register is back. */
	mapreg_pool_stats st;
	if (mapreg_pool_get_stats(pool, &st) != MAPREG_OK) {
		fail(r, "pool_get_stats failed");
		return;
	}
	if (st.held != 0 || st.waiting_channel != 0 || st.waiting_registers != 0 ||
	    st.free + st.cached != REGISTERS)
		fail(r, "C27: after the round: free %llu cached %llu held %llu waiting channel "
		     "%llu registers %llu", (unsigned long long)st.free,
		     (unsigned long long)st.cached, (unsigned long long)st.held,
		     (unsigned long long)st.waiting_channel,
		     (unsigned long long)st.waiting_registers);
	if (st.caller_errors - errors_before != atomic_load(&r->invalid_returns))
		fail(r, "C27: caller_errors grew by %llu, %lu MAPREG_INVALID_PARAMETER returned",
		     (unsigned long long)(st.caller_errors - errors_before),
		     atomic_load(&r->invalid_returns));
}

/*
 * Whether O's channel must still be biased after the round (before its
 * destroy): nobody but O used the channel (F did nothing, or only freed a
 * run O kept, which revokes the records' bias alone), and O never revoked
 * it itself: no nested call, own request behind a hold, KEEP_OBJECT, or
 * request that had to wait (each routine ran on O inside its submission,
 * and, beside a run set aside, each fits whatever its place), and no hold
 * refused.
 */
#ifdef CHECK_CHANNEL_BIAS
static bool channel_bias_expected(struct round *r)
{
	if (!(r->f_action == F_NONE || (publishing(r) && r->f_target != 0)) ||
	    r->o_holds_refused != 0 || r->o_ends_refused != 0)
		return false;
	for (int c = 0; c < r->ncycles; c++) {
		struct rec *rec = &r->recs[c];

		if (r->cycles[c] != CY_HOLD_KEEP && r->cycles[c] != CY_HOLD_DEALLOCATE &&
		    r->cycles[c] != CY_ASYNC)
			return false;
		if (rec->used && (!rec->ran_at_return || atomic_load(&rec->ran_on) != WHO_O))
			return false;
		/*
		 * Beside the run O set aside, a request may find too few
		 * registers for a moment (F's free returning them meanwhile):
		 * it waits, which revokes, even if its own call then grants
		 * it.  Only requests that always fit count.
		 */
		if (r->deferred_slot >= 0 &&
		    (rec->used ? rec->nregs : r->hold_nregs[c]) > (REGISTERS - r->deferred.count) / 2)
			return false;
	}
	return true;
}
#endif

/*
 * Whether the lock-free backend biases here: core/lockfree/bias.c's test,
 * made from outside (membarrier's private expedited command, and no
 * MAPREG_NO_BIAS).  For the summary, and for the channel-bias check.
 */
static bool bias_possible(void)
{
	const char *off = getenv("MAPREG_NO_BIAS");
	long cmds = syscall(__NR_membarrier, MEMBARRIER_CMD_QUERY, 0, 0);

	return (off == NULL || *off == '\0' || *off == '0') && cmds > 0 &&
	       (cmds & MEMBARRIER_CMD_PRIVATE_EXPEDITED);
}

static void usage(void)
{
	fprintf(stderr, "usage: %s [--backend NAME] [--duration SEC] [--seed N] [--same-cpu] "
		"[--stall-ms MS]\n", argv0);
	exit(2);
}

int main(int argc, char **argv)
{
	argv0 = argv[0];
	seed = (unsigned long long)time(NULL) ^ ((unsigned long long)getpid() << 20);
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--backend") == 0 && i + 1 < argc) {
			if (mapreg_backend_by_name(argv[++i], &backend) != MAPREG_OK) {
				fprintf(stderr, "stress-revoke: unknown backend %s\n", argv[i]);
				return 2;
			}
		} else if (strcmp(argv[i], "--duration") == 0 && i + 1 < argc) {
			duration = atof(argv[++i]);
		} else if (strcmp(argv[i], "--seed") == 0 && i + 1 < argc) {
			seed = strtoull(argv[++i], NULL, 0);
		} else if (strcmp(argv[i], "--stall-ms") == 0 && i + 1 < argc) {
			stall_ms = atol(argv[++i]);
		} else if (strcmp(argv[i], "--same-cpu") == 0) {
			same_cpu = true;
		} else {
			usage();
		}
	}
#ifdef MAPREG_PERTURB
	mapreg_perturb_set(seed, 16, 64, 2048, 4);
	printf("stress-revoke: perturbed, seed %llu\n", seed);
#else
	printf("stress-revoke: seed %llu\n", seed);
#endif
	fflush(stdout);
	same_cpu = two_cpus_pick(cpus_to_use, same_cpu);
	me = WHO_MAIN;

	mapreg_status s = mapreg_pool_create(&(mapreg_pool_config){ .registers = REGISTERS,
								    .backend = backend },
					     &pool);
	if (s != MAPREG_OK) {
		fprintf(stderr, "stress-revoke: pool_create: %s\n", mapreg_status_str(s));
		return 2;
	}
	mapreg_backend resolved = (mapreg_backend)mapreg_pool_backend(pool);
	bool biased = resolved == MAPREG_BACKEND_LOCKFREE && bias_possible();

	pthread_t o, f;
	struct sigaction sa = { .sa_handler = o_freeze, .sa_flags = SA_RESTART };
	sigemptyset(&sa.sa_mask);
	sigaction(SIGUSR1, &sa, NULL);
	pthread_create(&o, NULL, thread_main, (void *)(intptr_t)WHO_O);
	o_thread = o;
	pthread_create(&f, NULL, thread_main, (void *)(intptr_t)WHO_F);

	unsigned long rounds = 0, inside = 0, steals = 0, f_refused = 0, o_refused = 0,
		      f_req_on_o = 0, o_req_on_f = 0, f_acting = 0, freezes = 0;
	unsigned long kept_frees = 0, kept_won = 0, kept_racing = 0, kept_overlap = 0,
		      kept_frozen_in = 0, kept_idle = 0, kept_idle_won = 0, kept_aba = 0,
		      bias_checked = 0, bias_checked_f = 0;
	int64_t cycle_ns = 500, revoke_ns = 2000, start = now_ns(), elapsed = 0;
	uint64_t master = seed;
	int failed = 0;

	do {
		struct round *r = &round_state;
		mapreg_pool_stats before;

		memset(r, 0, sizeof(*r));
		r->n = rounds;
		r->seed = splitmix(&master);
		plan(r, r->seed, cycle_ns, revoke_ns);
		s = mapreg_adapter_create(pool, NULL, &r->adapter, NULL);
		if (s != MAPREG_OK || mapreg_pool_get_stats(pool, &before) != MAPREG_OK) {
			fprintf(stderr, "stress-revoke: adapter_create: %s\n", mapreg_status_str(s));
			return 2;
		}
		atomic_store(&f_acted, false);

		struct timespec deadline;
		clock_gettime(CLOCK_REALTIME, &deadline);
		deadline.tv_sec += stall_ms / 1000;
		deadline.tv_nsec += (stall_ms % 1000) * 1000000;
		if (deadline.tv_nsec >= 1000000000) {
			deadline.tv_sec++;
			deadline.tv_nsec -= 1000000000;
		}
		pthread_mutex_lock(&round_mutex);
		o_done = f_done = false;
		round_no++;
		pthread_cond_broadcast(&round_start);
		while (!(o_done && f_done)) {
			if (pthread_cond_timedwait(&round_end, &round_mutex, &deadline) == ETIMEDOUT &&
			    !(o_done && f_done)) {
				fprintf(stderr, "FAIL round %lu (seed %llu): stall: not over after "
					"%ld ms (C13, C14)\n", r->n, seed, stall_ms);
				describe(r);
				replay_hint();
				fflush(NULL);
				_exit(1);	/* the threads are stuck in the library */
			}
		}
		pthread_mutex_unlock(&round_mutex);

		check_round(r, before.caller_errors);
#ifdef CHECK_CHANNEL_BIAS
		if (biased && channel_bias_expected(r)) {
			bias_checked++;
			bias_checked_f += r->f_target != 0;
			if (!mapreg_adapter_biased(r->adapter))
				fail(r, "the channel's bias is gone, yet only %s",
				     r->f_target != 0 ? "F's free of a run O kept used the adapter "
				     "besides O (it revokes the records' bias alone)" : "O used it");
		}
#endif
		s = mapreg_adapter_destroy(r->adapter);
		if (s != MAPREG_OK)
			fail(r, "C3: adapter_destroy after the round returned %s",
			     mapreg_status_str(s));
		if (atomic_load(&r->failed)) {
			describe(r);
			replay_hint();
			failed = 1;
			break;
		}

		rounds++;
		/*
		 * The next windows: O's time per cycle (sequences vary 1..12)
		 * when F did not disturb it; a revocation (a membarrier) or a
		 * queue makes a sequence several times longer, and windows
		 * sized on those would put most of F's actions after O's end.
		 */
		int64_t o_length = atomic_load(&r->t_o_end) - atomic_load(&r->t_claim);
		bool undisturbed = r->f_action == F_NONE ||
				   atomic_load(&r->t_f_act) >= atomic_load(&r->t_o_end);
		if (o_length > 0 && undisturbed)
			cycle_ns = (cycle_ns * 15 + o_length / r->ncycles) / 16;
		/* A foreign call's length: on the lock-free backend, a revocation's. */
		int64_t f_length = atomic_load(&r->t_f_end) - atomic_load(&r->t_f_act);
		if (r->f_action == F_FREE_UNHELD && !r->f_stole && r->f_freeze == 0 && f_length > 0)
			revoke_ns = (revoke_ns * 15 + f_length) / 16;
		if (r->f_action != F_NONE) {
			f_acting++;
			if (atomic_load(&r->t_f_act) < atomic_load(&r->t_o_end)) {
				inside++;
				freezes += r->f_freeze != 0;
			}
		}
		steals += r->f_stole;
		if (r->f_target != 0) {
			bool won = r->f_free_status == MAPREG_OK;

			kept_frees++;
			kept_won += won;
			if (r->f_target & PUB_DEFERRED) {
				kept_idle++;
				kept_idle_won += won;
			} else {
				kept_racing++;
				kept_overlap += r->o_met_f;
				kept_frozen_in += atomic_load(&r->froze_in_free);
			}
			kept_aba += r->aba;
		}
		/* The freeze signal's latency, for the aimed freezes. */
		int64_t latency = atomic_load(&r->t_frozen) - atomic_load(&r->t_kill);
		if (atomic_load(&r->t_kill) != 0 && latency > 0 && latency < 1000000)
			atomic_store(&sig_ns, (atomic_load(&sig_ns) * 15 + latency) / 16);
		f_refused += r->f_action == F_HOLD && r->f_status == MAPREG_INSUFFICIENT_RESOURCES;
		o_refused += (unsigned long)r->o_holds_refused;
		if (r->f_action == F_ASYNC && atomic_load(&r->recs[F_REC].ran_on) == WHO_O)
			f_req_on_o++;
		for (int i = 0; i < MAX_CYCLES; i++)
			o_req_on_f += r->recs[i].used && atomic_load(&r->recs[i].ran_on) == WHO_F;
		elapsed = now_ns() - start;
	} while (elapsed < (int64_t)(duration * 1e9));

	char bias_text[96];
#ifdef CHECK_CHANNEL_BIAS
	snprintf(bias_text, sizeof(bias_text), "in %lu of %lu rounds checked (%lu after F's "
		 "record free)", bias_checked, bias_checked, bias_checked_f);
#else
	snprintf(bias_text, sizeof(bias_text), "not checked (no test hooks linked)");
	(void)bias_checked, (void)bias_checked_f;
#endif
	printf("stress-revoke: %s%s, CPUs %d and %d: %lu rounds in %.2f s; F acted in %lu, "
	       "inside O's sequence in %lu (revocations racing the owner), %lu of them with O "
	       "frozen; F ended O's hold %lu, F's hold refused %lu, O's holds refused %lu; F's "
	       "request run on O %lu, O's on F %lu; F freed a run O kept %lu (won %lu): "
	       "racing O's free %lu (calls overlapped %lu, O frozen inside its free %lu, "
	       "late free met a run kept again %lu), set aside %lu (won %lu); channel still "
	       "biased %s; foreign call ~%lld ns, signal ~%lld ns; %d failure(s)\n",
	       mapreg_backend_name(resolved), biased ? " (bias on)" : " (no bias)",
	       cpus_to_use[0], cpus_to_use[1], rounds, (double)(now_ns() - start) / 1e9, f_acting,
	       inside, freezes, steals, f_refused, o_refused, f_req_on_o, o_req_on_f, kept_frees,
	       kept_won, kept_racing, kept_overlap, kept_frozen_in, kept_aba, kept_idle,
	       kept_idle_won, bias_text, (long long)revoke_ns, (long long)atomic_load(&sig_ns),
	       failed);
	if (failed) {
		fflush(NULL);
		_exit(1);	/* the failed round's adapter may be unusable */
	}
	pthread_mutex_lock(&round_mutex);
	quitting = true;
	pthread_cond_broadcast(&round_start);
	pthread_mutex_unlock(&round_mutex);
	pthread_join(o, NULL);
	pthread_join(f, NULL);
	if (mapreg_pool_destroy(pool) != MAPREG_OK) {
		fprintf(stderr, "FAIL: pool_destroy: busy after all rounds (C3)\n");
		return 1;
	}
	return inside != 0 ? 0 : 77;	/* 77: the windows were never exercised */
}
