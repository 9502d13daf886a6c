/* SPDX-License-Identifier: MIT */
/*
 * The lock-free backend's types and invariants; every file of core/lockfree/
 * includes this one.  No mutex on any per-request path; the design note
 * with the proofs is core/README.md.  In short:
 *
 * Registers (registers.c): per-CPU magazines (cache.c) in front of a chunked
 * bitmap claimed by compare-and-swap (regmap.c), whose chunks never move, so
 * that grow adds to it under load and readers need no RCU.
 *
 * Channel (per adapter, channel.c): `channel` is FREE, HELD (by a request
 * that has not answered yet, or by a thread passing it on), KEPT
 * (MAPREG_KEEP_OBJECT), SYNC (a C8 hold) or PARKED.  Requests that find it
 * taken wait in a cds_wfcq (wait-free enqueue).  Whoever holds the channel
 * with nobody to give it to runs channel_pass_on(): it alone dequeues, so
 * the queue has one consumer.
 *
 * Register wait queue (per pool, registers.c): a cds_wfcq served head first
 * (C12) by a serving role taken by counting (serve()): every thread that
 * may have made a waiter satisfiable asks for a round; exactly one thread
 * serves at a time and keeps serving until nobody asked again meanwhile.
 * No thread ever waits for the server; a preempted server only delays
 * grants of queued requests.
 *
 * Requests (request.c, node.c): a request that waits is copied into a node
 * (struct lf_node) with an atomic state, and every transition out of a
 * waiting state is a compare-and-swap: WAIT_CHANNEL -> WAIT_REGISTERS |
 * GRANTED | CANCELLED, WAIT_REGISTERS -> GRANTED | CANCELLED.  So a cancel
 * and a grant race on one word and exactly one wins (C20).  Nodes are reused
 * or freed after an RCU grace period, since a cancel may still be reading
 * one (node.c recycles them in batches).
 *
 * Grants (poll.c) go to the caller's grant list (inline adapters) or the
 * adapter's poll slot (one grant at most: C11), whose eventfd is readable
 * while the slot is full: written by the grant, drained by the poller that
 * empties the slot.
 *
 * Invariants:
 *  - LF_CHANNEL_WAITS less LF_CHANNEL_LEFT counts nodes in WAIT_CHANNEL,
 *    waiting_registers nodes in WAIT_REGISTERS; each is raised before a
 *    node enters the state and lowered by whoever moves it out;
 *  - whoever calls registers_waiter_raise serves a round after it
 *    returns, whether its node goes on to wait (wait_for_registers) or not
 *    (registers_waiter_withdraw): with rseq, that round drains the puts
 *    its fence covered for the waiters who found the pool tight (C13);
 *  - a FREE channel's queue holds nothing but what was enqueued after the
 *    decision to free it: its taker checks (channel_take_free, C11, C3);
 *    a queue with requests behind an unlinked successor is PARKED;
 *  - a BIASED channel's queue is empty, and only its owner holds it; the
 *    word never returns to BIASED; while `bias_records` is 1 only the owner
 *    claims records naming the adapter (bias.h);
 *  - only the serving thread touches register_head and dequeues the
 *    register queue; only the channel's holder dequeues its queue;
 *  - an adapter's poll slot holds at most one grant: its requests are
 *    granted only while holding its channel, one at a time (C11);
 *  - a node is reused or freed only after its transfer's pointer to it is
 *    unpublished, and after an RCU grace period that starts then;
 *  - a run kept through an adapter has a record naming the adapter until
 *    it is freed (regmap.h): destroy looks for one (C3).
 */
#ifndef MAPREG_LOCKFREE_H
#define MAPREG_LOCKFREE_H

#include <pthread.h>
#include <urcu/list.h>

#include "base/backend.h"
#include "base/cpu.h"
#include "base/rcu.h"
#include "base/rseq.h"
#include "hooks/fault.h"
#include "hooks/perturb.h"
#include "lockfree/cache.h"
#include "lockfree/regmap.h"

enum node_state {
	NS_WAIT_CHANNEL = 1,
	NS_WAIT_REGISTERS,
	NS_GRANTED,
	NS_CANCELLED,
	NS_DONE,
	NS_IN_PLACE,		/* granted at submission: the caller's request */
};

/*
 * PARKED: nobody holds the channel, but its queue may hold live requests
 * behind a link an enqueuer has yet to write; only an enqueuer takes it
 * (submit_queued), so no new request overtakes those (C11).
 * BIASED: the channel belongs to one thread, which takes and gives it back
 * with plain stores (bias.h); its state is then `bias_held`, its queue
 * empty.  REVOKING: a thread is ending the bias, for good (bias.c).
 */
enum channel_state { CH_FREE, CH_HELD, CH_KEPT, CH_SYNC, CH_PARKED, CH_BIASED, CH_REVOKING };

#define RUN_KEPT (1u << 31)

/* C27's counters, per CPU (stats.c). */
enum lf_counter {
	LF_GRANTS, LF_CANCELS, LF_SYNC_FAILURES,
	LF_CHANNEL_WAITS,	/* nodes that entered WAIT_CHANNEL */
	LF_CHANNEL_LEFT,	/* ... and left it: the difference is waiting_channel */
	LF_COUNTERS
};

/*
 * A waiting request's copy.  While it waits, two parties may hold it: its
 * queue (until a consumer dequeues it) and its transfer (`queued`, until the
 * request is over and the pointer is unpublished).  A granted node has one
 * owner after its dequeue: the routine's runner, which unpublishes and frees
 * it (lf_retire).  A cancelled node has two, the canceller and the queue's
 * consumer, and the later of the two frees it (`owners`).  Freeing (reuse,
 * node.c) is always after an RCU grace period that starts once the pointer
 * is unpublished.
 */
struct lf_node {
	struct request request;
	struct cds_wfcq_node queue_node;
	atomic_uint owners;			/* cancelled nodes: 2 -> 0 */
	struct rcu_head rcu;
	/* Recycling (node.c): fields no stale reader of a released node reads. */
	struct lf_node *recycle_next;		/* a CPU's list, or a batch */
	uint32_t retired_count;			/* nodes in its chain from it on (node.c) */
	struct lf_node *spare_next;		/* a batch head: the next batch (node.c) */
};

/* A counter per CPU, on a line of its own (percpu_add_one). */
struct lf_percpu {
	_Atomic uint64_t value;
} __attribute__((aligned(64)));

/* One CPU's share: its magazine and counters, on lines of its own. */
struct lf_cpu {
	struct cpu_cache cache;
	/*
	 * Statistics that order nothing, summed by the reader: added to by a
	 * restartable sequence on this CPU (no atomic instruction), or, without
	 * rseq, by a relaxed fetch_add.
	 */
	_Atomic uint64_t counters[LF_COUNTERS];
	/*
	 * Where this CPU's claims of cached sizes start in the bitmap
	 * (registers.c: claim_hints_set), set at create and grow.  Relaxed:
	 * any value is safe, since regmap_claim searches the whole map from
	 * a hint at or past the size it reads; a stale one only starts the
	 * search elsewhere.
	 */
	_Atomic uint32_t claim_hint;
} __attribute__((aligned(64)));

struct lf_pool {
	struct mapreg_pool head;
	struct regmap map;			/* for the pool's life: regmap.h */
	struct lf_cpu *cpu;
	unsigned int cpus;
	struct magazines magazines;		/* in cpu[]: cache.h */
	/* Counters of a thread on a CPU beyond `cpus` (rseq mode): relaxed. */
	_Atomic uint64_t spare_counters[LF_COUNTERS];
	pthread_mutex_t admin;			/* grow, adapters, stats; never a request's */
	struct cds_list_head adapters;		/* live adapters, for their grant counts */
	uint64_t grants_retired;		/* in-place grants of destroyed adapters */

	struct __cds_wfcq_head register_queue;
	struct cds_wfcq_tail register_queue_tail;
	struct lf_node *register_head;		/* the server's: dequeued, not served */
	/* Rounds asked for; acq_rel chains each round after its askers (serve). */
	atomic_ulong serve_requests;

	/*
	 * Nodes in WAIT_REGISTERS (C27), and the Dekker flag of no-stranding:
	 * raised seq_cst before a node can be seen waiting, and read after a
	 * full fence (or a seq_cst release) by whoever returns registers (so
	 * the lowering may be relaxed: the fences, not the counter, order the
	 * pair).  Nodes in WAIT_CHANNEL are a statistic only: the per-CPU
	 * counters LF_CHANNEL_WAITS and LF_CHANNEL_LEFT, with no atomic
	 * instruction (count()).
	 */
	atomic_long waiting_registers;
};

/*
 * The channel word: the state (enum channel_state) in its low bits and,
 * above them, the count of C8 holds begun.  Only the holder writes the word
 * while the channel is held; everyone else changes it by compare-and-swap
 * from FREE, PARKED, SYNC or KEPT.  The count makes the word of every C8
 * hold new: a thread that read a SYNC word and its holder_run cannot end a
 * later hold with that run by mistake (two threads ending one hold, C24),
 * since its compare-and-swap fails.
 */
#define CH_STATE_BITS 3u
#define CH_STATE_MASK ((1ull << CH_STATE_BITS) - 1)
#define CH_STATE(word) ((unsigned int)((word) & CH_STATE_MASK))
#define CH_WITH(word, state) (((word) & ~CH_STATE_MASK) | (state))
#define CH_ONE_HOLD (1ull << CH_STATE_BITS)

/*
 * Three lines, by who writes them.  The first is read on every call through
 * the adapter, from any CPU, and written almost never (create, the bias's
 * claim and its end): a completion freeing on another CPU reads it with no
 * line moving.  The second is the channel's, written by its holder (the
 * owner, when biased) on every hold.  The third is the queue's and the poll
 * slot's, written by enqueuers and granters.  When the owner's writes shared
 * the first line, every free on another CPU moved it over and back
 * (bench/crossfree.c; BENCHMARKS.md, "Under PVM").
 */
struct lf_adapter {
	struct mapreg_adapter head __attribute__((aligned(64)));	/* first: backend.h */
	/*
	 * The bias (bias.h): the owning thread (0 until the first taker
	 * claims it; written once), and the records' bias (1, 2 revoking,
	 * 0 for good), which a free on another thread reads.
	 */
	_Atomic uintptr_t bias_owner;
	atomic_uint bias_records;
	struct cds_list_head link;		/* pool->adapters, under pool->admin */

	_Atomic uint64_t channel __attribute__((aligned(64)));	/* the channel word, above */
	/*
	 * The run of the open C8 or KEEP_OBJECT hold, first | count << 32:
	 * written by the holder before its release store of SYNC or KEPT (a
	 * biased owner's: of BIAS_SYNC to bias_held, bias.h), read after an
	 * acquire load of that word (relaxed itself: only the channel word's
	 * compare-and-swap decides whose hold it is).
	 */
	_Atomic uint64_t holder_run;
	/*
	 * Grants made at submission (C27), on the channel's line: only the
	 * channel's holder makes one, so a load and a store count it, ordered
	 * between holders by the hand-over.  Read by stats (relaxed: C27
	 * orders nothing); queued grants count per CPU (count()).
	 */
	_Atomic uint64_t grants_in_place;
	/*
	 * The bias (bias.h), the owner's side: the channel's state as the
	 * owner left it (written by the owner alone), what the revoker read
	 * of it, and whether the owner is claiming a kept run's record.
	 */
	atomic_uint bias_held;
	atomic_uint bias_seen;
	atomic_uint bias_busy;

	struct __cds_wfcq_head channel_queue __attribute__((aligned(64)));
	struct cds_wfcq_tail channel_queue_tail;

	_Atomic(struct lf_node *) poll_slot;	/* the grant pending for mapreg_poll (poll.c) */
	atomic_uint eventfd_written;		/* a write may be in the eventfd (poll.c) */
};

static inline struct lf_pool *pool_of(const struct mapreg_pool *pool)
{
	return caa_container_of(pool, struct lf_pool, head);
}

static inline struct lf_adapter *adapter_of(const struct mapreg_adapter *adapter)
{
	return caa_container_of(adapter, struct lf_adapter, head);
}

static inline struct lf_node *node_of(struct request *req)
{
	return caa_container_of(req, struct lf_node, request);
}

static inline struct lf_node *node_of_queue(struct cds_wfcq_node *qnode)
{
	return caa_container_of(qnode, struct lf_node, queue_node);
}

static inline struct lf_cpu *this_cpu(struct lf_pool *pool)
{
	unsigned int cpu = cpu_current();

	/* A division only for a CPU beyond the pool's count (hot-added). */
	return &pool->cpu[cpu < pool->cpus ? cpu : cpu % pool->cpus];
}

static inline struct regmap *map_of(struct lf_pool *pool)
{
	return &pool->map;
}

/*
 * Adds one to this CPU's slot of a per-CPU counter: slot i at `first` +
 * i * `stride` bytes, `spare` for a thread on a CPU beyond pool->cpus.
 * With rseq a restartable sequence does it, without an atomic instruction
 * (its committing store is a release on x86-64); else a release fetch_add.
 * Readers sum the slots with acquire loads.
 */
static inline void percpu_add_one(struct lf_pool *pool, _Atomic uint64_t *first, size_t stride,
				  _Atomic uint64_t *spare)
{
#ifdef MAPREG_HAVE_RSEQ
	if (pool->magazines.rseq) {
		for (;;) {
			int cpu = rseq_cpu();
			if (cpu < 0 || (unsigned int)cpu >= pool->cpus)
				break;
			if (rseq_add_one((uint64_t *)((char *)first + (size_t)cpu * stride), cpu))
				return;
		}
		atomic_fetch_add_explicit(spare, 1, memory_order_release);
		return;
	}
#endif
	unsigned int cpu = (unsigned int)(this_cpu(pool) - pool->cpu);
	atomic_fetch_add_explicit((_Atomic uint64_t *)((char *)first + (size_t)cpu * stride), 1,
				  memory_order_release);
}

/*
 * Counters of C27 live per CPU: they order nothing.  The seam of
 * FAULT_STATS_SKEW: a grant goes uncounted.
 */
static inline void count(struct lf_pool *pool, enum lf_counter counter)
{
	if (counter == LF_GRANTS && FAULT(FAULT_STATS_SKEW))
		return;
	percpu_add_one(pool, &pool->cpu[0].counters[counter], sizeof(*pool->cpu),
		       &pool->spare_counters[counter]);
}

/* A grant made at submission, by the channel's holder (struct lf_adapter). */
static inline void count_grant_in_place(struct lf_adapter *adapter)
{
	if (FAULT(FAULT_STATS_SKEW))
		return;
	atomic_store_explicit(&adapter->grants_in_place,
			      atomic_load_explicit(&adapter->grants_in_place,
						   memory_order_relaxed) + 1,
			      memory_order_relaxed);
}

/* Node states: acquire on read and acq_rel on change, so that the winner of
 * a transition sees what the previous owner wrote into the node. */
static inline uint32_t node_state(struct lf_node *node)
{
	return atomic_load_explicit(&node->request.state, memory_order_acquire);
}

static inline bool node_move(struct lf_node *node, uint32_t from, uint32_t to)
{
	PERTURB();
	return atomic_compare_exchange_strong_explicit(&node->request.state, &from, to,
						       memory_order_acq_rel,
						       memory_order_acquire);
}

/*
 * Relaxed, for two kinds of caller:
 *  - those that must not strand a waiter (C13, C14): whoever returned
 *    registers fences (seq_cst) first; the waiter raises, enqueues, then
 *    asks for a round, which fences before it reads (registers_return,
 *    registers_claim, serve, wait_for_registers);
 *  - admission (C12, lf_submit): a request takes registers at once only if
 *    nobody waits.  A waiter whose raise happens before the submission (the
 *    same thread's earlier request, or one ordered to it by any
 *    synchronization the caller has) is seen by coherence: the load happens
 *    after that read-modify-write, so it reads it or a later value, and a
 *    later decrement means that waiter was granted or cancelled.  A raise
 *    not ordered before the submission belongs to an overlapping request,
 *    and either order of two overlapping requests is legal, so a fence
 *    there would buy nothing.
 */
static inline bool anyone_waits_for_registers(struct lf_pool *pool)
{
	return atomic_load_explicit(&pool->waiting_registers, memory_order_relaxed) > 0;
}

/* node.c: a waiting request's copy. */
void node_prepare(void);
struct lf_node *node_copy(struct request *req, uint32_t state);
void node_free(struct lf_node *node);
void node_unpublish(struct lf_node *node);
void node_unpublish_done(struct lf_node *node);
void node_release_cancelled(struct lf_node *node);

/* registers.c: claims and returns, magazine first; the wait queue (C12-C14). */
void registers_waiter_raise(struct lf_pool *pool);
void registers_waiter_withdraw(struct lf_pool *pool, struct grant_list *granted);
void claim_hints_set(struct lf_pool *pool);
uint32_t registers_claim_slow(struct lf_pool *pool, struct regmap *map, uint32_t count,
			      struct grant_list *granted);
void registers_return_slow(struct lf_pool *pool, struct regmap *map, mapreg_base base,
			   struct grant_list *granted);

/*
 * Claims `count` registers (C12 is the caller's: nobody waits, or it serves
 * the head waiter): REGMAP_NONE if none fit.  Inline, the magazine's hit.
 */
static inline uint32_t registers_claim(struct lf_pool *pool, struct regmap *map, uint32_t count,
				       struct grant_list *granted)
{
	uint32_t first;

	if (!pool->head.first_fit && cache_take_fast(&pool->magazines, count, &first))
		return first;
	return registers_claim_slow(pool, map, count, granted);
}

/* Gives a run back, serving waiters (C13, C14).  Inline, the magazine's put. */
static inline void registers_return(struct lf_pool *pool, struct regmap *map, mapreg_base base,
				    struct grant_list *granted)
{
	if (!pool->head.first_fit && cache_put_fast(&pool->magazines, base.first, base.count))
		return;		/* nobody can be stranded by it (cache.h) */
	registers_return_slow(pool, map, base, granted);
}

/*
 * The channel held (a submission that took it, or a request it was handed
 * to): `nregs` registers now if nobody waits for them (C12), or REGMAP_NONE.
 */
static inline uint32_t take_registers(struct lf_pool *pool, uint32_t nregs,
				      struct grant_list *others)
{
	if (nregs == 0)
		return 0;					/* C4 */
	if (anyone_waits_for_registers(pool) && !FAULT(FAULT_REGISTER_OVERTAKE))
		return REGMAP_NONE;
	return registers_claim(pool, map_of(pool), nregs, others);
}

/*
 * Leaves a run to the caller (C19, C24): its record, for
 * mapreg_free_map_registers and for destroy (C3).  Release: the freer's
 * compare-and-swap (acquire) sees the run whole.
 */
static inline void registers_keep(struct lf_adapter *adapter, struct regmap *map,
				  mapreg_base base)
{
	if (base.count == 0)
		return;					/* C4: nothing to keep */
	atomic_store_explicit(regmap_run(map, base.first),
			      RUN_RECORD(adapter->head.id, base.count | RUN_KEPT),
			      memory_order_release);
}

void serve(struct lf_pool *pool, struct grant_list *granted);
void wait_for_registers(struct lf_pool *pool, struct lf_node *node, struct grant_list *granted);

/* The ops (ops.c puts them in the table). */
BACKEND_DECLARE(lf);

/* poll.c: where a granted node goes (C16, C29). */
void grant(struct lf_pool *pool, struct lf_node *node, struct grant_list *granted);

/* channel.c: the adapter's channel and its queue (C11, C14, C3). */
bool channel_take(struct lf_adapter *adapter, unsigned int from);
bool channel_take_free(struct lf_pool *pool, struct lf_adapter *adapter,
		       struct grant_list *granted);
void channel_pass_on(struct lf_pool *pool, struct lf_adapter *adapter,
		     struct grant_list *granted);
void channel_hold_shared(struct lf_adapter *adapter, unsigned int state, uint64_t word);
mapreg_base channel_held_run(struct lf_adapter *adapter);
bool channel_end_sync_keeping_run(struct lf_pool *pool, struct lf_adapter *adapter,
				  mapreg_base *base, struct grant_list *granted);


#endif /* MAPREG_LOCKFREE_H */
