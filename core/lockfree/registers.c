/* SPDX-License-Identifier: MIT */
/*
 * Registers: claiming and returning them (this CPU's magazine, then the
 * bitmap, then the bitmap after draining every magazine), the kept-run
 * record (C23), and the wait queue of requests that hold their channel and
 * wait for registers, served head first by one thread at a time (C12, C14).
 * Whoever may have made a waiter satisfiable asks for a serving round, and
 * a round's claim may drain magazines, so claims and rounds call each
 * other; core/README.md says why no waiter is stranded (C13).
 */
#include "base/barrier.h"
#include "lockfree/lockfree.h"

/*
 * Where a claim of `count` starts looking in the bitmap: first fit from the
 * low end, as the locked backend places every run, so that the free space
 * stays in long runs (bench/mixed.c's fragmentation).  Runs the magazines
 * cache (small, frequent: the ones CPUs claim at once, and claim from the
 * bitmap when a batch of frees has overflowed their magazines) start apart
 * per CPU, so that CPUs write bitmap words and run records of their own:
 *  - where the pool has a 64-byte line of bitmap words per CPU, each CPU
 *    starts on its own line among the last cpus lines, away from the low
 *    end where long runs are fitted first.  (bench/batches.c, two CPUs
 *    freeing then claiming 32 single-register runs at a time, pool 4096:
 *    63 M runs/s where one word apart gave 31, no more than one CPU alone;
 *    and bench/mixed.c at 85 % load kept its contiguity: fitting refusals
 *    1.35-1.41x the locked backend's where the word apart gave 1.47, a line
 *    apart from the low end 1.69.)
 *  - in a smaller pool, one word apart from the low end: lines of run
 *    records of their own, one line of bitmap words shared.
 * Computed per CPU at create and grow (the admin lock's), not per claim.
 */
void claim_hints_set(struct lf_pool *pool)
{
	uint32_t registers = regmap_registers(map_of(pool));
	uint64_t lines = registers / REGMAP_LINE_BITS;

	for (unsigned int cpu = 0; cpu < pool->cpus; cpu++) {
		uint64_t hint = pool->cpus <= lines ? (lines - pool->cpus + cpu) * REGMAP_LINE_BITS
						    : (uint64_t)cpu * REGMAP_WORD_BITS;
		atomic_store_explicit(&pool->cpu[cpu].claim_hint,
				      hint < registers ? (uint32_t)hint : 0, memory_order_relaxed);
	}
}

/* 0 for the test-only first-fit placement and for runs no magazine caches. */
static uint32_t claim_hint(struct lf_pool *pool, uint32_t count)
{
	if (pool->head.first_fit || count > CACHE_CLASSES)
		return 0;
	return atomic_load_explicit(&this_cpu(pool)->claim_hint, memory_order_relaxed);
}

/*
 * Own CPU's magazine, then the bitmap, then the bitmap after draining every
 * magazine.  A drain that moved registers may be the one a waiter's round
 * could not do (it found a magazine's guard taken by us), and a claim that
 * rolled back may have made a round see free registers taken: either asks
 * for a round if anyone waits (C13).  In the serving thread itself that
 * only makes it serve once more.
 */
uint32_t registers_claim_slow(struct lf_pool *pool, struct regmap *map, uint32_t count,
			      struct grant_list *granted)
{
	uint32_t first = REGMAP_NONE, moved = 0;
	bool rolled_back = false, again = false;

	if (pool->head.first_fit ||
	    !cache_take(&pool->magazines, map, count, &first, &moved)) {
		uint32_t hint = claim_hint(pool, count);
		uint32_t boundary = FAULT(FAULT_BOUNDARY_IGNORED) ? 0 : pool->head.boundary;

		first = regmap_claim(map, count, hint, boundary, &rolled_back);
		if (first == REGMAP_NONE) {
			/*
			 * Look again only if the drain gave the bitmap something:
			 * else it is as the first look found it, but for frees
			 * made since, which serve the waiters themselves.
			 */
			uint32_t drained = cache_drain(&pool->magazines, map);
			moved += drained;
			if (drained != 0) {
				first = regmap_claim(map, count, hint, boundary, &again);
				rolled_back |= again;
			}
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
void registers_return_slow(struct lf_pool *pool, struct regmap *map, mapreg_base base,
			   struct grant_list *granted)
{
	enum cache_put put = PUT_REFUSED;
	uint32_t moved = 0;

	if (base.count == 0)
		return;
	if (!pool->head.first_fit)
		put = cache_put(&pool->magazines, map, base.first, base.count, &moved);
	if (put == PUT_CACHED)
		return;		/* nobody can be stranded by it (cache.h) */
	/*
	 * Our half of the Dekker pair with wait_for_registers: the release,
	 * then the seq_cst read of waiting_registers.  A refused run is
	 * released by seq_cst fetch_ands, which order the read after them
	 * with no fence (the waiter raises seq_cst and fences before its
	 * round reads the bitmap: a fence sequenced before a load makes it
	 * see the last seq_cst change before the fence, or a later one).  A
	 * flushed magazine may have been flushed by its guard's next holder,
	 * not by us: a fence then.
	 */
	if (put == PUT_REFUSED)
		regmap_release(map, base.first, base.count);
	PERTURB();
	if (put == PUT_FLUSHED)
		atomic_thread_fence(memory_order_seq_cst);
	if (atomic_load_explicit(&pool->waiting_registers, memory_order_seq_cst) > 0 &&
	    !FAULT(FAULT_LOST_WAKEUP))
		serve(pool, granted);
}

/*
 * The serving role's round: grant register waiters head first while they fit
 * (C12); a head that does not fit stops the round, so nobody jumps it.
 * Inline in both callers of serve_holding_role: a waiting request runs two
 * rounds, and each call cost about 30 instructions of saved registers.
 */
static inline __attribute__((always_inline))
void serve_register_waiters(struct lf_pool *pool, struct grant_list *granted)
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
 * The serving role, held (serve_requests raised from 0, `asked` the count
 * then): rounds until the count can go back to 0 with nobody having asked
 * meanwhile.
 */
static void serve_holding_role(struct lf_pool *pool, unsigned long asked,
			       struct grant_list *granted)
{
	do {
		PERTURB();
		/*
		 * The reading half of the Dekker pairs with registers_return and
		 * wait_for_registers runs here, on whichever thread serves: it
		 * needs its own full fence in the C11 model.  It comes right after
		 * the read-modify-write that took the role (serve's fetch_add,
		 * wait_for_registers's CAS) or the failed CAS below, a locked
		 * instruction, which on x86 is that fence already (barrier.h).
		 */
		fence_after_rmw();
		rcu_enter();
		serve_register_waiters(pool, granted);
		rcu_leave();
		PERTURB();
	} while (!atomic_compare_exchange_strong_explicit(&pool->serve_requests, &asked, 0,
							  memory_order_acq_rel,
							  memory_order_acquire));
}

/*
 * Asks for a round of serving, and serves if nobody else is: the thread that
 * raises serve_requests from zero serves until it can put it back to zero
 * with nobody having asked meanwhile.  acq_rel on the counter orders each
 * round after the changes of those who asked for it (C14).
 */
void serve(struct lf_pool *pool, struct grant_list *granted)
{
	PERTURB();
	unsigned long asked = atomic_fetch_add_explicit(&pool->serve_requests, 1,
							memory_order_acq_rel);
	if (asked != 0)
		return;
	serve_holding_role(pool, 1, granted);
}

/*
 * Counts a request about to wait for registers (before it can be seen
 * waiting), seq_cst: the Dekker flag of no-stranding (struct lf_pool).
 * With rseq magazines, a waiter that finds the pool not tight makes it so
 * and fences every restartable sequence: a put that read neither before is
 * committed by the time the fence returns (so this waiter's round drains
 * it) or aborted (and refuses when it runs again).  So drains need no fence
 * of their own for C13 (cache.h).
 */
void registers_waiter_raise(struct lf_pool *pool)
{
	atomic_fetch_add_explicit(&pool->waiting_registers, 1, memory_order_seq_cst);
	cache_waiter_arrives(&pool->magazines);
}

/*
 * Takes back a raise whose request will not wait after all (a cancel won its
 * node before it queued for registers, or, queued, before a round granted
 * it), and serves a round.  The round is owed to the other waiters: with
 * rseq, the first waiter of a tight episode fences for all who come while
 * the pool stays tight, and a put that read no waiter before that fence is
 * drained only by a round that runs after it.  A second waiter that found
 * the pool tight did not fence, and its own round may have drained before
 * the put committed; if the first then leaves without a round, the second
 * waits beside a fitting run in a magazine (C13; formal/registers.pml
 * -DHANDOVER, MUTANT_WITHDRAW_NO_ROUND).  Relaxed: the count is a hint that
 * only stops caching and admission while it is raised; serve's fetch_add
 * orders what matters.
 */
void registers_waiter_withdraw(struct lf_pool *pool, struct grant_list *granted)
{
	atomic_fetch_sub_explicit(&pool->waiting_registers, 1, memory_order_relaxed);
	serve(pool, granted);
}

/*
 * Queues a node that holds its channel for registers, then asks for a round.
 * No fence between (there was one): the enqueue's stores are ordered before
 * the round's reads by serve's own fence, which follows its fetch_add with
 * no access of ours between; and if another thread is serving, our
 * fetch_add (release) is what its closing CAS (acquire) fails on, so its
 * next round sees the node.
 *
 * When the serving role is idle, the waiter takes it first (a CAS from 0,
 * acq_rel as serve's fetch_add: it sees the last server's register_head),
 * and if nobody is queued (no head, the queue empty, an enqueuer between
 * its two steps counting as queued) the node becomes the head at once: no
 * enqueue, and no dequeue by the round that grants it, two locked
 * instructions fewer for a thread that waits alone.  Nobody is ahead of it
 * (C12): a waiter queued before the look would be seen, one queued after it
 * comes after.  The round that follows is the same Dekker half as serve's.
 */
void wait_for_registers(struct lf_pool *pool, struct lf_node *node,
			       struct grant_list *granted)
{
	unsigned long idle = 0;

	PERTURB();
	/* Loaded first, so that a busy role costs no failed CAS (relaxed: the CAS decides). */
	bool serving = atomic_load_explicit(&pool->serve_requests, memory_order_relaxed) == 0 &&
		       atomic_compare_exchange_strong_explicit(&pool->serve_requests, &idle, 1,
							       memory_order_acq_rel,
							       memory_order_relaxed);
	PERTURB();
	if (serving && pool->register_head == NULL &&
	    cds_wfcq_empty(&pool->register_queue, &pool->register_queue_tail))
		pool->register_head = node;
	else
		wfcq_enqueue(&pool->register_queue, &pool->register_queue_tail,
			     &node->queue_node);
	PERTURB();
	if (serving)
		serve_holding_role(pool, 1, granted);
	else
		serve(pool, granted);
}
