/* SPDX-License-Identifier: MIT */
/*
 * The lock-free backend.  No mutex on any per-request path; the design note
 * with the proofs is core/README.md.  In short:
 *
 * Registers: per-CPU magazines (cache.c) in front of a chunked bitmap claimed
 * by compare-and-swap (regmap.c), published with RCU so that grow can swap a
 * larger map in under load.
 *
 * Channel (per adapter): `channel` is FREE, HELD (by a request that has not
 * answered yet, or by a thread passing it on), KEPT (MAPREG_KEEP_OBJECT) or
 * SYNC (a C8 hold).  Requests that find it taken wait in a cds_wfcq (wait-
 * free enqueue).  Whoever holds the channel with nobody to give it to runs
 * channel_pass_on(): it alone dequeues, so the queue has one consumer.
 *
 * Registers wait queue (per pool): a cds_wfcq served head first (C12) by a
 * serving role taken by counting (serve()): every thread that may have made
 * a waiter satisfiable asks for a round; exactly one thread serves at a time
 * and keeps serving until nobody asked again meanwhile.  No thread ever waits
 * for the server; a preempted server only delays grants of queued requests.
 *
 * Requests: a request that waits is copied into a node (struct lf_node) with
 * an atomic state, and every transition out of a waiting state is a
 * compare-and-swap: WAIT_CHANNEL -> WAIT_REGISTERS | GRANTED | CANCELLED,
 * WAIT_REGISTERS -> GRANTED | CANCELLED.  So a cancel and a grant race on one
 * word and exactly one wins (C20).  Nodes are freed after an RCU grace
 * period, since a cancel may still be reading one.
 *
 * Invariants:
 *  - waiting_channel counts nodes in WAIT_CHANNEL, waiting_registers nodes
 *    in WAIT_REGISTERS; each is raised before a node enters the state and
 *    lowered by whoever moves it out;
 *  - a channel is FREE only when its queue holds no live node, except nodes
 *    whose enqueuer has yet to try the channel itself (see submit_queued);
 *  - only the serving thread touches register_head and dequeues the
 *    register queue; only the channel's holder dequeues its queue; only the
 *    thread holding `polling` dequeues the poll queue.
 */
#include <pthread.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lockfree/cache.h"
#include "base/cpu.h"
#include "hooks/fault.h"
#include "hooks/perturb.h"
#include "lockfree/regmap.h"
#include "base/transfer.h"

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
 */
enum channel_state { CH_FREE, CH_HELD, CH_KEPT, CH_SYNC, CH_PARKED };

#define RUN_KEPT (1u << 31)

/*
 * A waiting request's copy.  While it waits, two parties may hold it: its
 * queue (until a consumer dequeues it) and its transfer (`queued`, until the
 * request is over and the pointer is unpublished).  A granted node has one
 * owner after its dequeue: the routine's runner, which unpublishes and frees
 * it.  A cancelled node has two, the canceller and the queue's consumer, and
 * the later of the two frees it (`owners`).  Freeing is always after an RCU
 * grace period that starts once the pointer is unpublished.
 */
struct lf_node {
	struct request request;
	struct cds_wfcq_node queue_node;
	atomic_uint owners;			/* cancelled nodes: 2 -> 0 */
	struct rcu_head rcu;
};

struct lf_pool {
	struct mapreg_pool head;
	struct regmap *map;			/* RCU-published */
	struct cpu_cache *caches;
	unsigned int cpus;
	pthread_mutex_t admin;			/* grow only; never on a request path */

	struct __cds_wfcq_head register_queue;
	struct cds_wfcq_tail register_queue_tail;
	struct lf_node *register_head;		/* the server's: dequeued, not served */
	/* Rounds asked for; acq_rel chains each round after its askers (serve). */
	atomic_ulong serve_requests;

	/*
	 * Nodes in WAIT_CHANNEL / WAIT_REGISTERS (C27).  waiting_registers is
	 * also the Dekker flag of no-stranding: it is raised seq_cst before a
	 * node can be seen waiting, and read after a full fence by whoever
	 * returns registers (so those reads and the lowering may be relaxed:
	 * the fences, not the counter, order the pair).  waiting_channel is a
	 * statistic only: relaxed throughout.
	 */
	atomic_long waiting_channel, waiting_registers;
	/*
	 * Live adapters: raised relaxed at create (nothing to publish), lowered
	 * with release at destroy, read with acquire by pool destroy, which then
	 * frees what those adapters used.
	 */
	atomic_uint adapters;
	atomic_uint next_adapter_id;		/* relaxed: only uniqueness matters */
};

struct lf_adapter {
	struct mapreg_adapter head __attribute__((aligned(64)));
	atomic_uint channel;			/* enum channel_state */
	mapreg_base holder_base;		/* published by KEPT/SYNC (release) */

	struct __cds_wfcq_head channel_queue;
	struct cds_wfcq_tail channel_queue_tail;

	struct __cds_wfcq_head poll_queue;
	struct cds_wfcq_tail poll_queue_tail;
	atomic_uint poll_pending;		/* nodes granted, not yet popped (grant) */
	atomic_uint polling;			/* consumer token: acquire/release (lf_poll_pop) */

	/*
	 * Runs kept through this adapter (C23) and freed since, for destroy
	 * (C3).  runs_kept is written only by the channel's holder (a keep
	 * happens while the routine's runner or the C8 caller holds it), so a
	 * load and a store suffice, ordered between holders by the channel's
	 * hand-over like holder_base.  runs_freed is raised by any freer after
	 * its record CAS: release, so that destroy's acquire sees the freer
	 * done with the run.  Every counted free follows its keep (the record
	 * store is released after the count), so runs_freed <= runs_kept.
	 */
	atomic_ulong runs_kept, runs_freed;
};

static struct lf_pool *pool_of(const struct mapreg_pool *pool)
{
	return caa_container_of(pool, struct lf_pool, head);
}

static struct lf_adapter *adapter_of(const struct mapreg_adapter *adapter)
{
	return caa_container_of(adapter, struct lf_adapter, head);
}

static struct lf_node *node_of(struct request *req)
{
	return caa_container_of(req, struct lf_node, request);
}

static struct lf_node *node_of_queue(struct cds_wfcq_node *qnode)
{
	return caa_container_of(qnode, struct lf_node, queue_node);
}

static unsigned int this_cpu(struct lf_pool *pool)
{
	return cpu_current() % pool->cpus;
}

static struct cpu_cache *this_cpu_cache(struct lf_pool *pool)
{
	return &pool->caches[this_cpu(pool)];
}

/* Where this CPU starts looking in the bitmap: its own stretch of the pool,
 * on a whole cache line of run records (8 registers). */
static uint32_t this_cpu_hint(struct lf_pool *pool, struct regmap *map)
{
	return (uint32_t)((uint64_t)map->registers * this_cpu(pool) / pool->cpus) & ~7u;
}

/* Counters of C27 live per CPU: relaxed, they order nothing. */
static void count(struct lf_pool *pool, size_t offset)
{
	atomic_uint_fast64_t *counter =
		(atomic_uint_fast64_t *)((char *)this_cpu_cache(pool) + offset);

	atomic_fetch_add_explicit(counter, 1, memory_order_relaxed);
}

#define COUNT(pool, field) count(pool, offsetof(struct cpu_cache, field))

/* Node states: acquire on read and acq_rel on change, so that the winner of
 * a transition sees what the previous owner wrote into the node. */
static uint32_t node_state(struct lf_node *node)
{
	return __atomic_load_n(&node->request.state, __ATOMIC_ACQUIRE);
}

static bool node_move(struct lf_node *node, uint32_t from, uint32_t to)
{
	PERTURB();
	return __atomic_compare_exchange_n(&node->request.state, &from, to, false,
					   __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE);
}

static void node_free_rcu(struct rcu_head *head)
{
	rcu_grace_period_ended();
	free(caa_container_of(head, struct lf_node, rcu));
}

static void node_free(struct lf_node *node)
{
	rcu_free_later(&node->rcu, node_free_rcu);
}

/* Unpublishes the transfer's pointer to its copy: before any free (RCU). */
static void node_unpublish(struct lf_node *node)
{
	mapreg_transfer *xfer = node->request.xfer;

	if (xfer != NULL)
		atomic_store_explicit(&xfer_impl(xfer)->request.queued, NULL,
				      memory_order_release);
}

/* One of a cancelled node's two owners lets go; the last one frees it. */
static void node_release_cancelled(struct lf_node *node)
{
	PERTURB();
	if (atomic_fetch_sub_explicit(&node->owners, 1, memory_order_acq_rel) == 1)
		node_free(node);
}

static struct lf_node *node_copy(struct request *req, uint32_t state)
{
	struct lf_node *node = malloc(sizeof(*node));

	if (node == NULL)
		return NULL;
	node->request = *req;
	node->request.owned = true;
	node->request.state = state;
	atomic_init(&node->owners, 2);
	cds_wfcq_node_init(&node->queue_node);
	/* Release: a cancel that finds the node sees it whole. */
	atomic_store_explicit(&req->queued, &node->request, memory_order_release);
	return node;
}

static struct regmap *map_of(struct lf_pool *pool)
{
	/* Acquire (rcu_dereference): the directory and chunks are initialized. */
	return __atomic_load_n(&pool->map, __ATOMIC_ACQUIRE);
}

/* Registers. */

/*
 * Relaxed, for two kinds of caller:
 *  - those that must not strand a waiter (C13, C14): whoever returned
 *    registers fences (seq_cst) first; the waiter raises, enqueues, fences,
 *    then asks for a round (registers_return, registers_claim, serve);
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
static bool anyone_waits_for_registers(struct lf_pool *pool)
{
	return atomic_load_explicit(&pool->waiting_registers, memory_order_relaxed) > 0;
}

static void serve(struct lf_pool *pool, struct grant_list *granted);

/*
 * Own CPU's magazine, then the bitmap, then the bitmap after draining every
 * magazine.  A drain that moved registers may be the one a waiter's round
 * could not do (it found a magazine's guard taken by us), and a claim that
 * rolled back may have made a round see free registers taken: either asks
 * for a round if anyone waits (C13).  In the serving thread itself that
 * only makes it serve once more.
 */
static uint32_t registers_claim(struct lf_pool *pool, struct regmap *map, uint32_t count,
				struct grant_list *granted)
{
	uint32_t first = REGMAP_NONE, moved = 0;
	bool rolled_back = false, again = false;

	if (FAULT(FAULT_PLAIN_FIRST_FIT) ||
	    !cache_take(this_cpu_cache(pool), map, count, &first, &moved)) {
		uint32_t hint = FAULT(FAULT_PLAIN_FIRST_FIT) ? 0 : this_cpu_hint(pool, map);

		first = regmap_claim(map, count, hint, &rolled_back);
		if (first == REGMAP_NONE) {
			for (unsigned int cpu = 0; cpu < pool->cpus; cpu++)
				moved += cache_flush(&pool->caches[cpu], map);
			first = regmap_claim(map, count, hint, &again);
			rolled_back |= again;
		}
		if (first != REGMAP_NONE && FAULT(FAULT_DOUBLE_GRANT))
			regmap_release(map, first, count);	/* held, yet free */
	}
	if (moved != 0 || rolled_back) {
		PERTURB();
		atomic_thread_fence(memory_order_seq_cst);	/* as registers_return */
		if (anyone_waits_for_registers(pool))
			serve(pool, granted);
	}
	return first;
}

/* Gives a run back: to this CPU's magazine unless someone waits (C13). */
static void registers_return(struct lf_pool *pool, struct regmap *map, mapreg_base base,
			     struct grant_list *granted)
{
	uint32_t moved = 0;

	if (base.count == 0)
		return;
	if (!anyone_waits_for_registers(pool) && !FAULT(FAULT_PLAIN_FIRST_FIT) &&
	    cache_put(this_cpu_cache(pool), map, base.first, base.count, &moved)) {
		/*
		 * A waiter that drained this cache before our put counted
		 * itself before that drain, and our guard take acquired its
		 * release: we see it here (cache.h), and drain the cache again.
		 */
		if (moved == 0 && !anyone_waits_for_registers(pool))
			return;
		cache_flush(this_cpu_cache(pool), map);
	} else {
		regmap_release(map, base.first, base.count);
	}
	PERTURB();
	atomic_thread_fence(memory_order_seq_cst);	/* pairs with wait_for_registers */
	PERTURB();
	if (anyone_waits_for_registers(pool) && !FAULT(FAULT_LOST_WAKEUP))
		serve(pool, granted);
}

/* Grants. */

static void grant(struct lf_pool *pool, struct lf_node *node, struct grant_list *granted)
{
	struct lf_adapter *adapter = adapter_of(node->request.adapter);

	if (!FAULT(FAULT_STATS_SKEW))
		COUNT(pool, grants);
	if (adapter->head.dispatch == MAPREG_DISPATCH_INLINE) {
		grant_list_append(granted, &node->request);
		return;
	}
	/*
	 * Counted before it is queued, so that the poller's decrement never
	 * passes zero; the first pending grant makes the eventfd readable (C29),
	 * once it is queued, so that a woken poller finds it.
	 */
	PERTURB();
	bool first_pending = atomic_fetch_add_explicit(&adapter->poll_pending, 1,
						       memory_order_acq_rel) == 0;
	wfcq_enqueue(&adapter->poll_queue, &adapter->poll_queue_tail, &node->queue_node);
	PERTURB();
	if (first_pending)
		adapter_eventfd_signal(&adapter->head);
}

/*
 * The serving role's round: grant register waiters head first while they fit
 * (C12); a head that does not fit stops the round, so nobody jumps it.
 */
static void serve_register_waiters(struct lf_pool *pool, struct grant_list *granted)
{
	struct regmap *map = map_of(pool);

	for (;;) {
		struct lf_node *head = pool->register_head;

		if (head == NULL) {
			struct cds_wfcq_node *qnode = wfcq_dequeue(&pool->register_queue,
								   &pool->register_queue_tail);
			if (qnode == NULL || qnode == CDS_WFCQ_WOULDBLOCK)
				return;	/* a late enqueuer asks for its own round */
			head = pool->register_head = node_of_queue(qnode);
		}
		if (node_state(head) == NS_WAIT_REGISTERS) {
			uint32_t first = registers_claim(pool, map, head->request.nregs, granted);
			if (first == REGMAP_NONE)
				return;
			if (node_move(head, NS_WAIT_REGISTERS, NS_GRANTED)) {
				pool->register_head = NULL;
				atomic_fetch_sub_explicit(&pool->waiting_registers, 1,
							  memory_order_relaxed);
				head->request.base = (mapreg_base){ first, head->request.nregs };
				grant(pool, head, granted);
				continue;
			}
			regmap_release(map, first, head->request.nregs);	/* lost to a cancel */
		}
		pool->register_head = NULL;			/* cancelled */
		node_release_cancelled(head);
	}
}

/*
 * Asks for a round of serving, and serves if nobody else is: the thread that
 * raises serve_requests from zero serves until it can put it back to zero
 * with nobody having asked meanwhile.  acq_rel on the counter orders each
 * round after the changes of those who asked for it (C14).
 */
static void serve(struct lf_pool *pool, struct grant_list *granted)
{
	PERTURB();
	unsigned long asked = atomic_fetch_add_explicit(&pool->serve_requests, 1,
							memory_order_acq_rel);
	if (asked != 0)
		return;
	asked = 1;
	do {
		PERTURB();
		/*
		 * The reading half of the Dekker pairs with registers_return and
		 * wait_for_registers runs here, on whichever thread serves: it
		 * needs its own full fence in the C11 model (x86 and ARMv8 would
		 * not, but the code should not depend on that).
		 */
		atomic_thread_fence(memory_order_seq_cst);
		rcu_enter();
		serve_register_waiters(pool, granted);
		rcu_leave();
		PERTURB();
	} while (!atomic_compare_exchange_strong_explicit(&pool->serve_requests, &asked, 0,
							  memory_order_acq_rel,
							  memory_order_acquire));
}

/* Queues a node that holds its channel for registers, then asks for a round. */
static void wait_for_registers(struct lf_pool *pool, struct lf_node *node,
			       struct grant_list *granted)
{
	wfcq_enqueue(&pool->register_queue, &pool->register_queue_tail, &node->queue_node);
	PERTURB();
	atomic_thread_fence(memory_order_seq_cst);	/* pairs with registers_return */
	serve(pool, granted);
}

/*
 * Takes the channel if it is in state `from`.  The relaxed look first spares
 * a locked instruction when it is not (the usual case for an enqueuer); the
 * enqueuer's Dekker read of the channel follows its seq_cst fence either way.
 */
static bool channel_take(struct lf_adapter *adapter, unsigned int from)
{
	if (atomic_load_explicit(&adapter->channel, memory_order_relaxed) != from)
		return false;
	PERTURB();
	return atomic_compare_exchange_strong_explicit(&adapter->channel, &from, CH_HELD,
						       memory_order_acq_rel,
						       memory_order_relaxed);
}

/*
 * Hands the channel, held by the caller on nobody's behalf, to `node`, just
 * dequeued.  False if the node was cancelled first (the caller frees it).
 */
static bool channel_hand_to(struct lf_pool *pool, struct lf_node *node,
			    struct grant_list *granted)
{
	if (node->request.nregs == 0) {				/* C4: nothing to wait for */
		if (!node_move(node, NS_WAIT_CHANNEL, NS_GRANTED))
			return false;
		atomic_fetch_sub_explicit(&pool->waiting_channel, 1, memory_order_relaxed);
		node->request.base = (mapreg_base){ 0, 0 };
		grant(pool, node, granted);
		return true;
	}
	PERTURB();
	atomic_fetch_add_explicit(&pool->waiting_registers, 1, memory_order_seq_cst);
	if (!node_move(node, NS_WAIT_CHANNEL, NS_WAIT_REGISTERS)) {
		atomic_fetch_sub_explicit(&pool->waiting_registers, 1, memory_order_relaxed);
		return false;
	}
	atomic_fetch_sub_explicit(&pool->waiting_channel, 1, memory_order_relaxed);
	wait_for_registers(pool, node, granted);
	return true;
}

/*
 * The caller holds the channel (HELD) for nobody: give it to the oldest live
 * waiter, or free it (C11, C14).  Freeing it races with an enqueuer that
 * found it taken: the enqueuer links its node, fences, then tries the
 * channel; we free it, fence, then look at the link that was missing.  One
 * of us sees the other, and neither waits for the other.
 */
static void channel_pass_on(struct lf_pool *pool, struct lf_adapter *adapter,
			    struct grant_list *granted)
{
	struct __cds_wfcq_head *queue = &adapter->channel_queue;
	bool overtake = FAULT(FAULT_CHANNEL_OVERTAKE);

	for (;;) {
		PERTURB();
		/*
		 * Which link an enqueuer may still owe us (wfcq layout): with
		 * nothing linked at the head, the head's own; else, should the
		 * dequeue find the first node's successor unlinked, that node's.
		 * It is decided before dequeuing, since enqueuers may link the
		 * head at any moment.
		 */
		struct cds_wfcq_node *owed = wfcq_link(&queue->node);
		unsigned int release_as = CH_PARKED;

		if (owed == NULL) {
			owed = &queue->node;
			/*
			 * Empty: FREE.  Else an enqueuer owes the head.  The
			 * decision may be stale by the time we store it: a
			 * request may queue in between and its submitter return.
			 * So a FREE channel's taker checks the queue itself
			 * (channel_take_free).
			 */
			if (wfcq_untouched(queue, &adapter->channel_queue_tail))
				release_as = CH_FREE;
		} else {
			struct cds_wfcq_node *qnode = wfcq_dequeue(queue,
								   &adapter->channel_queue_tail);
			if (qnode != CDS_WFCQ_WOULDBLOCK) {
				struct lf_node *node = node_of_queue(qnode);

				if (overtake && wfcq_link(&queue->node) != NULL) {
					overtake = false;	/* the head goes last */
					wfcq_enqueue(queue, &adapter->channel_queue_tail,
						     qnode);
					continue;
				}
				if (channel_hand_to(pool, node, granted))
					return;
				node_release_cancelled(node);	/* it was cancelled */
				continue;
			}
		}
		PAUSE(PAUSE_PASS_ON_DECIDED);
		PERTURB();
		/* Release: our use of the channel happens before the next taker's. */
		atomic_store_explicit(&adapter->channel, release_as, memory_order_release);
		PAUSE(PAUSE_PASS_ON_RELEASED);
		PERTURB();
		atomic_thread_fence(memory_order_seq_cst);
		PERTURB();
		/*
		 * TSan: `owed` may be a node we never dequeued; its enqueuer
		 * released it before linking it (rcu.h), and we reached it
		 * through that link.
		 */
		tsan_acquire(owed);
		if (wfcq_link(owed) == NULL)
			return;		/* empty, or its enqueuer will try the channel */
		if (!channel_take(adapter, release_as))
			return;		/* someone took it, and with it this duty */
	}
}

/*
 * Takes a FREE channel for a new request or for destroy, neither of which
 * may pass a request already queued (C11, C3).  FREE does not say the queue
 * is empty: channel_pass_on decides FREE, then stores it, and a request may
 * queue and its submitter return in between (it finds the channel HELD).
 * So the taker, holding the channel, looks at the queue: anything there
 * (a live request, or an enqueue not yet finished) and it passes the
 * channel on to the queue and reports the channel taken.
 *
 * The check is a Dekker pair with the enqueuer: it exchanges the tail (a
 * full barrier), fences, then reads the channel; we CAS the channel, then
 * read the tail, both seq_cst.  If our read misses its exchange, the
 * exchange follows our CAS in the single order S, so its channel read sees
 * our HELD or later: its submission had not finished before ours began
 * (it then serves the queue itself if it finds the channel FREE or PARKED).
 * On x86 both are the instructions the weaker orders would give: no cost.
 */
static bool channel_take_free(struct lf_pool *pool, struct lf_adapter *adapter,
			      struct grant_list *granted)
{
	unsigned int free_channel = CH_FREE;

	if (atomic_load_explicit(&adapter->channel, memory_order_relaxed) != CH_FREE)
		return false;
	PERTURB();
	if (!atomic_compare_exchange_strong_explicit(&adapter->channel, &free_channel, CH_HELD,
						     memory_order_seq_cst,
						     memory_order_relaxed))
		return false;
	PERTURB();
	if (FAULT(FAULT_FREE_CHANNEL_UNCHECKED) ||
	    wfcq_untouched(&adapter->channel_queue, &adapter->channel_queue_tail))
		return true;
	channel_pass_on(pool, adapter, granted);
	return false;
}

/* A hold (KEPT, SYNC) publishes its base before the state: release. */
static void channel_hold(struct lf_adapter *adapter, unsigned int state, mapreg_base base)
{
	adapter->holder_base = base;
	PERTURB();
	atomic_store_explicit(&adapter->channel, state, memory_order_release);
}

/* Pools. */

static mapreg_status lf_pool_create(const mapreg_pool_config *cfg, struct mapreg_pool **out)
{
	struct lf_pool *pool = calloc(1, sizeof(*pool));
	long cpus = sysconf(_SC_NPROCESSORS_CONF);

	if (pool == NULL)
		return MAPREG_NO_MEMORY;
	pool->cpus = cpus > 0 ? (unsigned int)cpus : 1;
	pool->caches = aligned_alloc(64, pool->cpus * sizeof(*pool->caches));
	pool->map = regmap_create(NULL, cfg->registers);
	if (pool->caches == NULL || pool->map == NULL) {
		free(pool->caches);
		if (pool->map != NULL)
			regmap_destroy(pool->map, true);
		free(pool);
		return MAPREG_NO_MEMORY;
	}
	memset(pool->caches, 0, pool->cpus * sizeof(*pool->caches));
	for (unsigned int cpu = 0; cpu < pool->cpus; cpu++)
		atomic_init(&pool->caches[cpu].limit, cfg->registers / (4 * pool->cpus));
	pthread_mutex_init(&pool->admin, NULL);
	__cds_wfcq_init(&pool->register_queue, &pool->register_queue_tail);
	*out = &pool->head;
	return MAPREG_OK;
}

static void queue_free_all(struct __cds_wfcq_head *queue, struct cds_wfcq_tail *tail)
{
	struct cds_wfcq_node *qnode;

	while ((qnode = wfcq_dequeue(queue, tail)) != NULL && qnode != CDS_WFCQ_WOULDBLOCK)
		node_release_cancelled(node_of_queue(qnode));
}

static mapreg_status lf_pool_destroy(struct mapreg_pool *head)
{
	struct lf_pool *pool = pool_of(head);

	if (atomic_load_explicit(&pool->adapters, memory_order_acquire) != 0)
		return MAPREG_BUSY;				/* C3 */
	/* Only cancelled nodes can be left: their adapters are gone. */
	if (pool->register_head != NULL)
		node_release_cancelled(pool->register_head);
	queue_free_all(&pool->register_queue, &pool->register_queue_tail);
	regmap_destroy(pool->map, true);
	pthread_mutex_destroy(&pool->admin);
	free(pool->caches);
	free(pool);
	return MAPREG_OK;
}

static void regmap_free_rcu(struct rcu_head *head)
{
	rcu_grace_period_ended();
	regmap_destroy(caa_container_of(head, struct regmap, rcu), false);
}

static mapreg_status lf_pool_grow(struct mapreg_pool *head, uint32_t registers,
				  struct grant_list *granted)
{
	struct lf_pool *pool = pool_of(head);
	mapreg_status status = MAPREG_OK;

	pthread_mutex_lock(&pool->admin);		/* grows take turns */
	struct regmap *old = pool->map;
	if (registers < old->registers) {
		status = MAPREG_INVALID_PARAMETER;	/* a concurrent grow won */
	} else if (registers > old->registers) {
		struct regmap *map = regmap_create(old, registers);
		if (map == NULL) {
			status = MAPREG_NO_MEMORY;
		} else {
			/* Release (rcu_assign_pointer): readers see the map whole. */
			__atomic_store_n(&pool->map, map, __ATOMIC_RELEASE);
			for (unsigned int cpu = 0; cpu < pool->cpus; cpu++)
				atomic_store_explicit(&pool->caches[cpu].limit,
						      registers / (4 * pool->cpus),
						      memory_order_relaxed);
			rcu_free_later(&old->rcu, regmap_free_rcu);
		}
	}
	pthread_mutex_unlock(&pool->admin);
	if (status == MAPREG_OK)
		serve(pool, granted);			/* C25 */
	return status;
}

static uint32_t lf_pool_registers(const struct mapreg_pool *head)
{
	struct lf_pool *pool = pool_of(head);

	rcu_enter();
	uint32_t registers = map_of(pool)->registers;
	rcu_leave();
	return registers;
}

static uint64_t sum_counter(const struct lf_pool *pool, size_t offset)
{
	uint64_t sum = 0;

	for (unsigned int cpu = 0; cpu < pool->cpus; cpu++)
		sum += atomic_load_explicit((atomic_uint_fast64_t *)
					    ((char *)&pool->caches[cpu] + offset),
					    memory_order_relaxed);
	return sum;
}

static void lf_pool_stats(const struct mapreg_pool *head, mapreg_pool_stats *out)
{
	struct lf_pool *pool = pool_of(head);
	uint64_t cached = 0;

	rcu_enter();
	struct regmap *map = map_of(pool);
	uint64_t registers = map->registers, unclaimed = regmap_unclaimed(map);
	rcu_leave();
	for (unsigned int cpu = 0; cpu < pool->cpus; cpu++)
		cached += atomic_load_explicit(&pool->caches[cpu].cached, memory_order_relaxed);
	/* Racy by nature (C27): clamp so that a torn moment never underflows. */
	uint64_t held = registers - unclaimed;
	cached = cached < held ? cached : held;
	long waiting_channel = atomic_load_explicit(&pool->waiting_channel, memory_order_relaxed);
	long waiting_registers = atomic_load_explicit(&pool->waiting_registers,
						      memory_order_relaxed);
	*out = (mapreg_pool_stats){
		.registers = registers,
		.free = unclaimed,
		.cached = cached,
		.held = held - cached,
		.waiting_channel = waiting_channel > 0 ? (uint64_t)waiting_channel : 0,
		.waiting_registers = waiting_registers > 0 ? (uint64_t)waiting_registers : 0,
		.grants = sum_counter(pool, offsetof(struct cpu_cache, grants)),
		.cancels = sum_counter(pool, offsetof(struct cpu_cache, cancels)),
		.sync_failures = sum_counter(pool, offsetof(struct cpu_cache, sync_failures)),
	};
}

/* Adapters. */

static mapreg_status lf_adapter_create(struct mapreg_pool *head,
				       const struct mapreg_adapter *fields,
				       struct mapreg_adapter **out)
{
	struct lf_pool *pool = pool_of(head);
	/* Cache-line aligned: adapters of different threads share no line. */
	struct lf_adapter *adapter = aligned_alloc(64, sizeof(*adapter));

	if (adapter == NULL)
		return MAPREG_NO_MEMORY;
	memset(adapter, 0, sizeof(*adapter));
	adapter->head = *fields;
	adapter->head.id = atomic_fetch_add_explicit(&pool->next_adapter_id, 1,
						     memory_order_relaxed) + 1;
	__cds_wfcq_init(&adapter->channel_queue, &adapter->channel_queue_tail);
	__cds_wfcq_init(&adapter->poll_queue, &adapter->poll_queue_tail);
	atomic_fetch_add_explicit(&pool->adapters, 1, memory_order_relaxed);
	*out = &adapter->head;
	return MAPREG_OK;
}

/* Whether a run kept through the adapter is not freed yet (C3); the channel's holder asks. */
static bool adapter_keeps_runs(struct lf_adapter *adapter)
{
	return atomic_load_explicit(&adapter->runs_freed, memory_order_acquire) !=
	       atomic_load_explicit(&adapter->runs_kept, memory_order_relaxed);
}

static mapreg_status lf_adapter_destroy(struct mapreg_adapter *head,
					struct grant_list *granted)
{
	struct lf_pool *pool = pool_of(head->pool);
	struct lf_adapter *adapter = adapter_of(head);

	/*
	 * Taking a FREE channel whose queue is empty also makes us its queue's
	 * only consumer; a live request queued behind a stale FREE gets the
	 * channel instead (channel_take_free).
	 */
	if (atomic_load_explicit(&adapter->poll_pending, memory_order_acquire) != 0 ||
	    !channel_take_free(pool, adapter, granted))
		return MAPREG_BUSY;				/* C3 */
	if (adapter_keeps_runs(adapter)) {
		/*
		 * Give the channel back the one safe way: requests may have
		 * queued for it since we took it (they found it HELD).
		 */
		rcu_enter();
		channel_pass_on(pool, adapter, granted);
		rcu_leave();
		return MAPREG_BUSY;				/* C3 */
	}
	/*
	 * The queue was empty when we took the channel, and C28 forbids a new
	 * request to race with destroy: it can hold nothing now.  Dequeue to
	 * be sure the wfcq is left as liburcu expects.
	 */
	rcu_enter();
	queue_free_all(&adapter->channel_queue, &adapter->channel_queue_tail);
	rcu_leave();
	atomic_fetch_sub_explicit(&pool->adapters, 1, memory_order_release);
	/*
	 * A thread that passed the channel on and stored FREE (the moment
	 * destroy can succeed) may still read the adapter, and a thread that
	 * granted its last request may still write its eventfd, until they
	 * leave their read-side sections; neither need be a caller of ours (a
	 * routine of this adapter, granted by a free on another, runs on the
	 * freeing thread).  Destroy is no request path: it waits for them.
	 */
	rcu_wait_for_readers();
	if (head->eventfd >= 0)
		close(head->eventfd);
	free(adapter);
	return MAPREG_OK;
}

/* Requests. */

/* A submission that took the channel and its registers: no node needed. */
static mapreg_status submit_granted(struct lf_pool *pool, struct lf_adapter *adapter,
				    struct request *req, bool sync, bool *granted)
{
	req->state = NS_IN_PLACE;
	COUNT(pool, grants);
	*granted = true;
	if (sync && req->fn == NULL)				/* C8: the caller holds */
		channel_hold(adapter, CH_SYNC, req->base);
	return MAPREG_OK;
}

/* An asynchronous submission that must wait: for the channel or, holding it, for registers. */
static mapreg_status submit_queued(struct lf_pool *pool, struct lf_adapter *adapter,
				   struct request *req, bool holds_channel,
				   struct grant_list *granted)
{
	uint32_t state = holds_channel ? NS_WAIT_REGISTERS : NS_WAIT_CHANNEL;
	atomic_long *waiting = holds_channel ? &pool->waiting_registers : &pool->waiting_channel;
	struct lf_node *node = node_copy(req, state);

	if (node == NULL) {
		if (holds_channel)
			channel_pass_on(pool, adapter, granted);
		return MAPREG_NO_MEMORY;
	}
	PERTURB();
	atomic_fetch_add_explicit(waiting, 1, memory_order_seq_cst);
	/* The linearization point: from here a cancel can find the node (C20). */
	if (req->xfer != NULL && !xfer_commit_submit(req->xfer)) {
		atomic_fetch_sub_explicit(waiting, 1, memory_order_relaxed);
		/* A stale cancel may have loaded the pointer: RCU, not free(). */
		node_unpublish(node);
		node_free(node);		/* never queued */
		if (holds_channel)
			channel_pass_on(pool, adapter, granted);
		return MAPREG_CANCELLED;
	}
	if (holds_channel) {
		wait_for_registers(pool, node, granted);
		return MAPREG_OK;
	}
	wfcq_enqueue(&adapter->channel_queue, &adapter->channel_queue_tail, &node->queue_node);
	PERTURB();
	atomic_thread_fence(memory_order_seq_cst);	/* pairs with channel_pass_on */
	PERTURB();
	if (channel_take(adapter, CH_FREE) || channel_take(adapter, CH_PARKED))
		channel_pass_on(pool, adapter, granted);
	return MAPREG_OK;
}

static mapreg_status lf_submit(struct mapreg_adapter *head, struct request *req, bool sync,
			       bool *granted, struct grant_list *others)
{
	struct lf_pool *pool = pool_of(head->pool);
	struct lf_adapter *adapter = adapter_of(head);
	mapreg_status status;

	*granted = false;
	rcu_enter();
	/* A FREE channel with an empty queue: taking it overtakes nobody (C11). */
	bool holds_channel = channel_take_free(pool, adapter, others);
	uint32_t first = REGMAP_NONE;
	if (holds_channel && req->nregs == 0)
		first = 0;
	else if (holds_channel &&
		 (!anyone_waits_for_registers(pool) || FAULT(FAULT_REGISTER_OVERTAKE)))
		first = registers_claim(pool, map_of(pool), req->nregs, others);	/* C12 */
	req->base = (mapreg_base){ first, req->nregs };

	if (first != REGMAP_NONE) {
		/* Claimed before committing: a cancel that marked us wins. */
		if (req->xfer != NULL && !xfer_commit_submit(req->xfer)) {
			registers_return(pool, map_of(pool), req->base, others);
			channel_pass_on(pool, adapter, others);
			status = MAPREG_CANCELLED;
		} else {
			status = submit_granted(pool, adapter, req, sync, granted);
		}
	} else if (sync) {
		if (holds_channel)
			channel_pass_on(pool, adapter, others);
		if (req->xfer != NULL && !xfer_commit_submit(req->xfer)) {
			status = MAPREG_CANCELLED;
		} else {
			COUNT(pool, sync_failures);
			status = MAPREG_INSUFFICIENT_RESOURCES;
		}
	} else {
		status = submit_queued(pool, adapter, req, holds_channel, others);
	}
	rcu_leave();
	return status;
}

static bool lf_cancel(struct mapreg_adapter *head, struct request *req, uint32_t generation,
		      struct grant_list *granted)
{
	struct lf_pool *pool = pool_of(head->pool);
	bool cancelled = false;

	/*
	 * The node is freed only after a grace period that starts once its
	 * pointer is unpublished: a pointer loaded inside this section stays
	 * valid to the end of it.  A node of another generation is a newer
	 * submission's, made after this cancel read BUSY: not ours to cancel.
	 */
	rcu_enter();
	struct request *queued = atomic_load_explicit(&req->queued, memory_order_acquire);
	if (queued != NULL &&
	    atomic_load_explicit(&queued->generation, memory_order_relaxed) == generation) {
		struct lf_node *node = node_of(queued);
		uint32_t state = node_state(node);

		while (!cancelled && (state == NS_WAIT_CHANNEL || state == NS_WAIT_REGISTERS)) {
			if (!node_move(node, state, NS_CANCELLED)) {
				state = node_state(node);	/* handed on or granted */
				continue;
			}
			cancelled = true;
			node_unpublish(node);
			node_release_cancelled(node);	/* the queue's consumer frees it */
			if (state == NS_WAIT_CHANNEL) {
				atomic_fetch_sub_explicit(&pool->waiting_channel, 1,
							  memory_order_relaxed);
				break;
			}
			/*
			 * It may have been the head waiter: serve those behind
			 * it, then pass its channel on (the locked backend's
			 * order, so that both grant in the same order).
			 */
			atomic_fetch_sub_explicit(&pool->waiting_registers, 1,
						  memory_order_relaxed);
			serve(pool, granted);
			channel_pass_on(pool, adapter_of(head), granted);
		}
		if (!cancelled && state == NS_GRANTED && FAULT(FAULT_CANCEL_GRANTED))
			cancelled = true;		/* claims it; the routine still runs */
	}
	if (cancelled)
		COUNT(pool, cancels);
	rcu_leave();
	return cancelled;
}

/* Leaves a run to the caller (C19, C24): recorded for mapreg_free_map_registers. */
static void registers_keep(struct lf_adapter *adapter, struct regmap *map, mapreg_base base)
{
	if (base.count == 0)
		return;
	/* The holder's count (struct lf_adapter), before the record that frees it. */
	atomic_store_explicit(&adapter->runs_kept,
			      atomic_load_explicit(&adapter->runs_kept, memory_order_relaxed) + 1,
			      memory_order_relaxed);
	/* Release: the freer's compare-and-swap (acquire) sees the run whole. */
	atomic_store_explicit(regmap_run(map, base.first),
			      RUN_RECORD(adapter->head.id, base.count | RUN_KEPT),
			      memory_order_release);
}

/* Ends a hold: registers back, then the channel on (C12: waiters first). */
static void release_all(struct lf_pool *pool, struct lf_adapter *adapter, struct regmap *map,
			mapreg_base base, struct grant_list *granted)
{
	registers_return(pool, map, base, granted);
	channel_pass_on(pool, adapter, granted);
}

/*
 * The routine returned: unpublish the node (a stale cancel then finds no
 * copy, and one that loaded the pointer earlier finds NS_DONE) and free it
 * after a grace period.  A request granted at submission has no node.
 */
static void lf_retire(struct request *req)
{
	if (!req->owned)
		return;
	__atomic_store_n(&req->state, NS_DONE, __ATOMIC_RELEASE);
	node_unpublish(node_of(req));
	node_free(node_of(req));
}

static void lf_keep_channel(struct mapreg_adapter *head, mapreg_base base)
{
	channel_hold(adapter_of(head), CH_KEPT, base);
}

static const unsigned int held_by[] = {
	[HOLDER_SYNC] = CH_SYNC,
	[HOLDER_KEPT] = CH_KEPT,
};

static mapreg_status lf_end_hold(struct mapreg_adapter *head, enum holder holder,
				 mapreg_base base, bool keep_run, struct grant_list *granted)
{
	struct lf_pool *pool = pool_of(head->pool);
	struct lf_adapter *adapter = adapter_of(head);

	/* A routine's request holds HELD; a C8 or KEEP_OBJECT holder takes it back. */
	if (holder != HOLDER_REQUEST) {
		if (!channel_take(adapter, held_by[holder]))
			return MAPREG_INVALID_PARAMETER;	/* C22, C24 */
		base = adapter->holder_base;
	}
	rcu_enter();
	struct regmap *map = map_of(pool);
	if (keep_run) {
		registers_keep(adapter, map, base);
		channel_pass_on(pool, adapter, granted);
	} else {
		release_all(pool, adapter, map, base, granted);
	}
	rcu_leave();
	return MAPREG_OK;
}

static mapreg_status lf_free_map_registers(struct mapreg_adapter *head, mapreg_base base,
					   struct grant_list *granted)
{
	struct lf_pool *pool = pool_of(head->pool);
	mapreg_status status = MAPREG_INVALID_PARAMETER;	/* C23 */

	rcu_enter();
	struct regmap *map = map_of(pool);
	if (base.first < map->registers && base.count <= map->registers - base.first) {
		_Atomic uint64_t *run = regmap_run(map, base.first);
		uint64_t kept = RUN_RECORD(head->id, base.count | RUN_KEPT);

		if (FAULT(FAULT_FOREIGN_FREE)) {
			uint64_t seen = atomic_load_explicit(run, memory_order_relaxed);
			if ((uint32_t)seen == (base.count | RUN_KEPT))
				kept = seen;
		}
		/* Acquire pairs with registers_keep; one freer wins (double free). */
		PERTURB();
		if (atomic_compare_exchange_strong_explicit(run, &kept, 0, memory_order_acquire,
							    memory_order_relaxed)) {
			registers_return(pool, map, base, granted);
			/* Last: destroy may succeed once it sees this (C3). */
			atomic_fetch_add_explicit(&adapter_of(head)->runs_freed, 1,
						  memory_order_release);
			status = MAPREG_OK;
		}
	}
	rcu_leave();
	return status;
}

static struct request *lf_poll_pop(struct mapreg_adapter *head)
{
	struct lf_adapter *adapter = adapter_of(head);
	unsigned int idle = 0;
	struct request *req = NULL;

	/* One consumer at a time; a second poller finds nothing, never waits. */
	if (!atomic_compare_exchange_strong_explicit(&adapter->polling, &idle, 1,
						     memory_order_acquire, memory_order_relaxed))
		return NULL;
	rcu_enter();
	struct cds_wfcq_node *qnode = wfcq_dequeue(&adapter->poll_queue, &adapter->poll_queue_tail);
	if (qnode != NULL && qnode != CDS_WFCQ_WOULDBLOCK)
		req = &node_of_queue(qnode)->request;
	rcu_leave();
	PERTURB();
	atomic_store_explicit(&adapter->polling, 0, memory_order_release);
	PERTURB();

	/*
	 * C29: drain the eventfd when the last pending grant goes, then look
	 * again, since a grant may have signalled between the two.
	 */
	if (req != NULL &&
	    atomic_fetch_sub_explicit(&adapter->poll_pending, 1, memory_order_acq_rel) != 1)
		return req;
	if (req == NULL && atomic_load_explicit(&adapter->poll_pending, memory_order_acquire) != 0)
		return NULL;
	adapter_eventfd_drain(head);
	PERTURB();
	if (atomic_load_explicit(&adapter->poll_pending, memory_order_seq_cst) != 0)
		adapter_eventfd_signal(head);
	return req;
}

const struct backend_ops lockfree_backend_ops = {
	.pool_create = lf_pool_create,
	.pool_destroy = lf_pool_destroy,
	.pool_grow = lf_pool_grow,
	.pool_registers = lf_pool_registers,
	.pool_stats = lf_pool_stats,
	.adapter_create = lf_adapter_create,
	.adapter_destroy = lf_adapter_destroy,
	.submit = lf_submit,
	.cancel = lf_cancel,
	.retire = lf_retire,
	.keep_channel = lf_keep_channel,
	.end_hold = lf_end_hold,
	.free_map_registers = lf_free_map_registers,
	.poll_pop = lf_poll_pop,
};
