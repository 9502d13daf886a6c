/* SPDX-License-Identifier: MIT */
/*
 * Nodes: a waiting request's copy, its publication to cancel and its
 * two-owner, RCU-deferred release (lockfree.h: struct lf_node).
 *
 * Recycling.  A node is reused, not freed, once a grace period has passed
 * since it was unpublished: freeing each one alone cost every waiting
 * request a call_rcu (a queue operation, and a futex wake when the call_rcu
 * thread slept) and a malloc/free pair.  With rseq (base/rseq.h), each CPU
 * keeps two lists, changed only by restartable sequences on that CPU, so
 * with no atomic instruction:
 *  - retired: nodes released on this CPU, newest first, each carrying the
 *    length of the list from itself on (retired_count); a release that
 *    makes it a multiple of NODE_BATCH long detaches the list and hands it
 *    to call_rcu as one batch if NODE_HANDOFF_NS have passed since this
 *    CPU's last batch, or if it is NODE_BATCH_MAX long (below);
 *  - free: nodes past their grace period, for node_copy: one batch's chain.
 * A batch's callback pushes the batch on a process-wide stack by its head
 * alone (a CAS; liburcu's cds_lfs does the same, but its inline push
 * computes a member of a NULL head, which UBSan reports, so these lines are
 * ours), keeping at most about NODE_SPARE nodes there and freeing the rest.
 * A CPU whose free list is empty pops one batch off the stack: its head is
 * the node it wanted, the rest of its chain its new free list.  The pop is
 * a CAS inside an RCU read-side section, which is what makes it free of
 * ABA (cds_lfs_pop_rcu's argument): a head another thread popped meanwhile
 * comes back on the stack only by being released and batched, after a
 * grace period that waits for our section, and a node is freed only by a
 * callback, after one too.  No batch is walked: the callback, which runs on
 * the call_rcu thread's CPU, writes one line of the batch's head, and the
 * other nodes stay in the cache of the CPU that released them (walking
 * them from the call_rcu thread and again from the taker cost a
 * one-reactor poll request two misses across CPUs: BENCHMARKS.md).
 * Nobody but a CPU's own sequences touches its lists, so nothing needs
 * fencing.  Without rseq, or on a CPU beyond the table, a node is allocated
 * and freed alone, as before.
 *
 * Stale readers (a cancel that loaded the transfer's pointer, a thread that
 * let go of a channel and looks at a link) read a released node's request
 * and queue link until the grace period ends: the lists use fields of their
 * own (recycle_next, retired_count, spare_next) and the batch's rcu head.
 */
#include <stddef.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "base/transfer.h"
#include "lockfree/lockfree.h"

/*
 * How often a CPU hands a batch to call_rcu: each batch keeps liburcu's
 * call_rcu thread busy for one more round, a grace period of two to four
 * membarriers on whichever CPU it runs, and it rounds every 10 ms for as
 * long as batches keep coming.  A batch every 64 releases meant a grace
 * period every 10 ms on a busy pool, each one stalling the CPU it ran on
 * (under PVM, 55 us a membarrier when the other CPU runs one of our
 * threads: the lock-free wait tails of bench/churn_scenarios.c and
 * bench/poll.c, BENCHMARKS.md "Under PVM").  So a CPU hands a batch over
 * at most once per NODE_HANDOFF_NS, unless its list reaches NODE_BATCH_MAX;
 * it looks at the clock (the coarse one, from the vDSO) once per NODE_BATCH
 * releases.  What it costs is nodes: a CPU releasing a million a second
 * holds up to NODE_BATCH_MAX (2.4 MiB) before their grace period starts.
 */
#define NODE_BATCH 64u			/* releases per look at the clock */
#define NODE_BATCH_MAX 16384u		/* the most one CPU's batch holds */
#define NODE_HANDOFF_NS 50000000ull	/* below that, one batch per CPU per 50 ms */
/*
 * Most nodes kept on the process-wide stack (152 bytes each on x86-64:
 * 9.5 MiB, four full batches).  A CPU that makes waiting requests uses a
 * batch's and a grace period's worth of nodes before the first of them
 * come back: a poll reactor at 1.4 M requests a second, 14 k in the 10 ms
 * of a grace period alone.  With 4096 (and batches of 64), the callback
 * freed most batches and the reactor malloc'd most nodes, across CPUs
 * (perf: malloc and _int_free 2 % of the run; A/B, one-reactor poll, mode
 * 0: 723-737 ns per request with 4096, 681-717 with 32768).
 */
#define NODE_SPARE 65536u

static void node_free_rcu(struct rcu_head *head)
{
	rcu_grace_period_ended();
	free(caa_container_of(head, struct lf_node, rcu));
}

#ifdef MAPREG_HAVE_RSEQ
struct node_cpu {
	struct lf_node *free;		/* by recycle_next */
	struct lf_node *retired;	/* by recycle_next */
	/*
	 * When this CPU last handed a batch over (CLOCK_MONOTONIC_COARSE, ns).
	 * A hint, relaxed: a thread that moved to another CPU between its
	 * release and its look may stamp that CPU's; a batch then waits for
	 * the next look, or the cap.
	 */
	_Atomic uint64_t handed_at;
} __attribute__((aligned(64)));

static struct node_cpu *node_cpus;
static unsigned int node_ncpus;
static pthread_once_t node_cpus_once = PTHREAD_ONCE_INIT;
static _Atomic(struct lf_node *) node_spares;	/* batch heads past their grace period */
static atomic_uint node_spare_count;		/* about how many nodes: a bound, not a fact */

static void node_cpus_init(void)
{
	long cpus = sysconf(_SC_NPROCESSORS_CONF);
	unsigned int n = cpus > 0 ? (unsigned int)cpus : 1;

	if (!rseq_ready())
		return;
	node_cpus = aligned_alloc(64, n * sizeof(*node_cpus));
	if (node_cpus == NULL)
		return;
	for (unsigned int i = 0; i < n; i++) {
		node_cpus[i] = (struct node_cpu){ .free = NULL, .retired = NULL };
		atomic_init(&node_cpus[i].handed_at, 0);
	}
	node_ncpus = n;
}

/*
 * Before a pool's first node: each pool's creation makes the lists, once,
 * so node_cpu reads them with no once-check.  A thread that uses a node
 * uses its pool, whose creation happens before (the caller published the
 * pool to it), and pthread_once made the lists before that.
 */
void node_prepare(void)
{
	pthread_once(&node_cpus_once, node_cpus_init);
}

/* This thread's CPU's lists, or NULL (allocate and free alone). */
static struct node_cpu *node_cpu(int *cpu)
{
	*cpu = rseq_cpu();
	return *cpu >= 0 && (unsigned int)*cpu < node_ncpus ? &node_cpus[*cpu] : NULL;
}

#define NODE_ASM_INPUTS								\
	[area] "r" (rseq_area()), [cpu] "r" (cpu), [list] "r" (list)

/* Pops a node off *list on `cpu`: 1 (in *out), 0 empty, -1 aborted or elsewhere. */
static int list_pop(struct lf_node **list, int cpu, struct lf_node **out)
{
	__asm__ __volatile__ goto (
		RSEQ_ASM_BEGIN
		"movq (%[list]), %%rax\n\t"
		"testq %%rax, %%rax\n\t"
		"jz %l[empty]\n\t"
		"movq %c[next](%%rax), %%rdx\n\t"
		"movq %%rax, (%[out])\n\t"
		"movq %%rdx, (%[list])\n\t"		/* commit */
		RSEQ_ASM_END
		: /* asm goto: no outputs */
		: NODE_ASM_INPUTS, [next] "i" (offsetof(struct lf_node, recycle_next)),
		  [out] "r" (out)
		: "memory", "cc", "rax", "rdx"
		: empty, aborted);
	return 1;
empty:
	return 0;
aborted:
	return -1;
}

/*
 * Pushes `node` on the retired list on `cpu`, its retired_count one more
 * than the old head's (1 on an empty list), also written to *count: true,
 * or false aborted or elsewhere.  *count, not the node's field, is what the
 * caller reads after: once pushed, the node may be batched and recycled by
 * others.
 */
static bool list_push(struct lf_node **list, int cpu, struct lf_node *node, uint32_t *count)
{
	__asm__ __volatile__ goto (
		RSEQ_ASM_BEGIN
		"movq (%[list]), %%rax\n\t"
		"movl $1, %%edx\n\t"
		"testq %%rax, %%rax\n\t"
		"jz 5f\n\t"
		"movl %c[count](%%rax), %%edx\n\t"
		"incl %%edx\n\t"
		"5:\n\t"
		"movq %%rax, %c[next](%[node])\n\t"
		"movl %%edx, %c[count](%[node])\n\t"
		"movl %%edx, (%[out])\n\t"
		"movq %[node], (%[list])\n\t"		/* commit */
		RSEQ_ASM_END
		: /* asm goto: no outputs */
		: NODE_ASM_INPUTS, [node] "r" (node), [out] "r" (count),
		  [next] "i" (offsetof(struct lf_node, recycle_next)),
		  [count] "i" (offsetof(struct lf_node, retired_count))
		: "memory", "cc", "rax", "rdx"
		: aborted);
	return true;
aborted:
	return false;
}

/*
 * Replaces *list on `cpu` with `to` if it is `from`: 1, 0 if it is not,
 * -1 aborted or elsewhere.
 */
static int list_swap(struct lf_node **list, int cpu, struct lf_node *from, struct lf_node *to)
{
	__asm__ __volatile__ goto (
		RSEQ_ASM_BEGIN
		"cmpq %[from], (%[list])\n\t"
		"jnz %l[moved]\n\t"
		"movq %[to], (%[list])\n\t"		/* commit */
		RSEQ_ASM_END
		: /* asm goto: no outputs */
		: NODE_ASM_INPUTS, [from] "r" (from), [to] "r" (to)
		: "memory", "cc", "rax"
		: moved, aborted);
	return 1;
moved:
	return 0;
aborted:
	return -1;
}

/*
 * Pushes the batch whose head is `batch` with one CAS.  Release: the nodes'
 * contents before they can be popped (spares_pop).
 */
static void spares_push(struct lf_node *batch)
{
	struct lf_node *head = atomic_load_explicit(&node_spares, memory_order_relaxed);

	do
		batch->spare_next = head;
	while (!atomic_compare_exchange_weak_explicit(&node_spares, &head, batch,
						      memory_order_release, memory_order_relaxed));
}

/*
 * Pops a batch's head, or NULL.  In an RCU read-side section, so that the
 * head we read cannot be popped, used, released and pushed again (ABA) or
 * freed before our CAS: either takes a grace period (top of the file).
 * Acquire: pairs with spares_push.
 */
static struct lf_node *spares_pop(void)
{
	rcu_enter();
	struct lf_node *head = atomic_load_explicit(&node_spares, memory_order_acquire);

	while (head != NULL &&
	       !atomic_compare_exchange_weak_explicit(&node_spares, &head, head->spare_next,
						      memory_order_acquire, memory_order_acquire))
		;
	rcu_leave();
	return head;
}

/* Frees a chain linked by recycle_next. */
static void chain_free(struct lf_node *node)
{
	for (struct lf_node *next; node != NULL; node = next) {
		next = node->recycle_next;
		free(node);
	}
}

/*
 * A batch's grace period has ended: the batch becomes a spare, pushed by
 * its head, unless the stack holds about NODE_SPARE nodes already.
 */
static void node_batch_recycle(struct rcu_head *head)
{
	struct lf_node *batch = caa_container_of(head, struct lf_node, rcu);
	/* Relaxed: the count only bounds the stack's size. */
	unsigned int spares = atomic_load_explicit(&node_spare_count, memory_order_relaxed);

	rcu_grace_period_ended();
	if (spares >= NODE_SPARE) {
		chain_free(batch);
		return;
	}
	atomic_fetch_add_explicit(&node_spare_count, batch->retired_count, memory_order_relaxed);
	spares_push(batch);
}

/*
 * Makes `chain` (linked by recycle_next) this CPU's free list if that is
 * still empty; else, or on a CPU beyond the table, gives it back to the
 * stack as a batch (its head's retired_count counts it).  Not yet handed
 * out, so it needs no grace period to go back.
 */
static void free_list_settle(struct lf_node *chain)
{
	int cpu, done;

	do {
		struct node_cpu *here = node_cpu(&cpu);
		if (here == NULL)
			break;
		done = list_swap(&here->free, cpu, NULL, chain);
		if (done > 0)
			return;
	} while (done < 0);
	atomic_fetch_add_explicit(&node_spare_count, chain->retired_count, memory_order_relaxed);
	spares_push(chain);
}

/* A node for node_copy: this CPU's free list, else a batch of spares, else malloc. */
static struct lf_node *node_alloc(void)
{
	struct lf_node *node;
	int cpu, got;

	for (;;) {
		struct node_cpu *mine = node_cpu(&cpu);
		if (mine == NULL)
			break;
		if ((got = list_pop(&mine->free, cpu, &node)) > 0)
			return node;
		if (got < 0)
			continue;
		if ((node = spares_pop()) == NULL)
			break;
		/* A batch's head, ours: the rest of its batch is our free list. */
		atomic_fetch_sub_explicit(&node_spare_count, node->retired_count,
					  memory_order_relaxed);
		if (node->recycle_next != NULL)
			free_list_settle(node->recycle_next);
		return node;
	}
	return malloc(sizeof(*node));
}

/* Whether a CPU whose retired list is `retired` long hands it over now. */
static bool batch_due(struct node_cpu *mine, uint32_t retired)
{
	struct timespec ts;

	if (retired < NODE_BATCH_MAX) {
		if (retired % NODE_BATCH != 0)
			return false;
		if (clock_gettime(CLOCK_MONOTONIC_COARSE, &ts) == 0) {
			uint64_t now = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
			if (now - atomic_load_explicit(&mine->handed_at, memory_order_relaxed) <
			    NODE_HANDOFF_NS)
				return false;
			atomic_store_explicit(&mine->handed_at, now, memory_order_relaxed);
		}
	}
	return true;
}

void node_free(struct lf_node *node)
{
	int cpu;

	for (;;) {
		struct node_cpu *mine = node_cpu(&cpu);
		if (mine == NULL)
			break;
		uint32_t retired;
		if (!list_push(&mine->retired, cpu, node, &retired))
			continue;
		/* The batch is due: detach it, unless the list moved on meanwhile. */
		if (batch_due(mine, retired) && list_swap(&mine->retired, cpu, node, NULL) > 0)
			rcu_free_later(&node->rcu, node_batch_recycle);
		return;
	}
	rcu_free_later(&node->rcu, node_free_rcu);
}
#else
void node_prepare(void)
{
}

static struct lf_node *node_alloc(void)
{
	return malloc(sizeof(struct lf_node));
}

void node_free(struct lf_node *node)
{
	rcu_free_later(&node->rcu, node_free_rcu);
}
#endif /* MAPREG_HAVE_RSEQ */

/*
 * Unpublishes the transfer's pointer to its copy: before any release (RCU).
 * Only if it still points to this copy: a submission whose commit failed
 * gives the transfer back (IDLE) before it unpublishes, and a newer
 * submission on the transfer may have published its own copy meanwhile; a
 * store of NULL would hide that one from cancel (C20).  Release: pairs with
 * the cancel's acquire load, as the publication in node_copy.
 */
void node_unpublish(struct lf_node *node)
{
	mapreg_transfer *xfer = node->request.xfer;
	struct request *mine = &node->request;

	if (xfer != NULL)
		atomic_compare_exchange_strong_explicit(&xfer_impl(xfer)->request.queued, &mine,
							NULL, memory_order_release,
							memory_order_relaxed);
}

/*
 * node_unpublish for a request whose routine returned (lf_retire): its
 * transfer is BUSY until answer_apply's xfer_finish, which follows, so no
 * newer submission can have published a copy (C10), and a store does what
 * the compare-and-swap does (formal/cancel.pml's complete() is this store).
 * Release, as node_unpublish.
 */
void node_unpublish_done(struct lf_node *node)
{
	mapreg_transfer *xfer = node->request.xfer;

	if (xfer != NULL)
		atomic_store_explicit(&xfer_impl(xfer)->request.queued, NULL,
				      memory_order_release);
}

/* One of a cancelled node's two owners lets go; the last one frees it. */
void node_release_cancelled(struct lf_node *node)
{
	PERTURB();
	if (atomic_fetch_sub_explicit(&node->owners, 1, memory_order_acq_rel) == 1)
		node_free(node);
}

struct lf_node *node_copy(struct request *req, uint32_t state)
{
	struct lf_node *node = node_alloc();

	if (node == NULL)
		return NULL;
	node->request = *req;
	node->request.owned = true;
	atomic_init(&node->request.state, state);
	atomic_init(&node->owners, 2);
	cds_wfcq_node_init(&node->queue_node);
	/* Release: a cancel that finds the node sees it whole. */
	atomic_store_explicit(&req->queued, &node->request, memory_order_release);
	return node;
}
