/* SPDX-License-Identifier: MIT */
/*
 * RCU glue: the one place that knows which liburcu flavour mapreg uses, how
 * threads get registered, and how ThreadSanitizer is told about the
 * happens-before that RCU and cds_wfcq provide.
 *
 * Flavour: memb (membarrier-based).  Read side: two thread-local stores and a
 * compiler barrier with _LGPL_SOURCE; the writer pays sys_membarrier.  Readers
 * must be registered, and C28 forbids asking callers to: rcu_enter() registers
 * a thread on its first use and a pthread key destructor unregisters it when
 * the thread exits.
 *
 * TSan: liburcu 0.13's atomics are inline assembly that TSan cannot see, and
 * suppressing our functions would blind it to real races (stress/tsan.supp).
 * We annotate the edges RCU guarantees, on one object for the whole program
 * (rcu_tsan_gp):
 *  - every read-side unlock releases it, every grace-period end (after
 *    synchronize_rcu, at the top of a call_rcu callback) acquires it: so the
 *    reclaimer is ordered after every reader that could see the object;
 *  - call_rcu releases it too: the caller's own accesses come before its
 *    callback, inside a read-side section or not;
 *  - a node is released before cds_wfcq enqueue and acquired after dequeue.
 * With `_LGPL_SOURCE` off in TSan builds (meson does that), nothing else of
 * liburcu's needs suppressing.
 */
#ifndef MAPREG_RCU_H
#define MAPREG_RCU_H

#if defined(__SANITIZE_THREAD__)
#define MAPREG_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define MAPREG_TSAN 1
#endif
#endif

#include <urcu/urcu-memb.h>
#include <urcu/wfcqueue.h>

#include "hooks/perturb.h"

#ifdef MAPREG_TSAN
void __tsan_acquire(void *addr);
void __tsan_release(void *addr);
extern char rcu_tsan_gp;
#define tsan_acquire(addr) __tsan_acquire((void *)(addr))
#define tsan_release(addr) __tsan_release((void *)(addr))
#else
#define tsan_acquire(addr) ((void)(addr))
#define tsan_release(addr) ((void)(addr))
#endif

/* Registers this thread with RCU once (C28). */
void rcu_thread_online_slow(void);
extern __thread bool rcu_thread_online __attribute__((tls_model("initial-exec")));

static inline void rcu_enter(void)
{
	if (caa_unlikely(!rcu_thread_online))
		rcu_thread_online_slow();
	urcu_memb_read_lock();
}

static inline void rcu_leave(void)
{
#ifdef MAPREG_TSAN
	tsan_release(&rcu_tsan_gp);
#endif
	urcu_memb_read_unlock();
}

/* Waits for every reader that could see what was unpublished before. */
static inline void rcu_wait_for_readers(void)
{
	urcu_memb_synchronize_rcu();
#ifdef MAPREG_TSAN
	tsan_acquire(&rcu_tsan_gp);
#endif
}

/* Frees `head`'s container after a grace period (see rcu.c). */
void rcu_free_later(struct rcu_head *head, void (*free_fn)(struct rcu_head *head));

/* Waits until every rcu_free_later() so far has run (mapreg_barrier). */
void rcu_wait_for_callbacks(void);

/*
 * The CPUs the call_rcu thread runs on, from now on and once it starts
 * (mapreg_deferred_cpus): false, and nothing changed, if one of them is
 * not a CPU the process could use when it was loaded, or the kernel
 * refuses the set.
 */
bool rcu_callback_cpus_choose(const unsigned int *cpus, size_t count);

#if defined(MAPREG_FAULT_INJECTION) || defined(MAPREG_RSEQ_ASSUMABLE)
/*
 * Starts liburcu's call_rcu thread now rather than at the first
 * rcu_free_later(): for mapreg_rseq_assume_cpu0(), after which glibc would
 * register rseq for a new thread, and valgrind refuses that (fatally).
 */
void rcu_start_callback_thread(void);
#endif

/* For call_rcu callbacks: the grace period has ended. */
static inline void rcu_grace_period_ended(void)
{
#ifdef MAPREG_TSAN
	tsan_acquire(&rcu_tsan_gp);
#endif
}

/* cds_wfcq with the hand-off annotated: see above. */
static inline void wfcq_enqueue(struct __cds_wfcq_head *head, struct cds_wfcq_tail *tail,
				struct cds_wfcq_node *node)
{
	cds_wfcq_node_init(node);
	tsan_release(node);
#ifdef MAPREG_PERTURB
	/*
	 * liburcu's enqueue in its two steps (urcu/static/wfcqueue.h), so that
	 * the window between them, which the channel's and the register
	 * queue's Dekker arguments are about, is widened too.
	 */
	PERTURB();
	struct cds_wfcq_node *before = uatomic_xchg(&tail->p, node);
	/* Its enqueuer released it before its own exchange, which we read. */
	tsan_acquire(before);
	PERTURB();
	/* Atomic, so that ThreadSanitizer sees the link as liburcu makes it. */
	__atomic_store_n(&before->next, node, __ATOMIC_RELEASE);
	(void)head;
#else
	cds_wfcq_enqueue(head, tail, node);
#endif
}

/*
 * Single-consumer dequeue: the caller holds whatever token makes it the only
 * dequeuer of this queue.  NULL when empty, CDS_WFCQ_WOULDBLOCK when an
 * enqueuer is between its two steps (it will notice the queue on its own).
 */
static inline struct cds_wfcq_node *wfcq_dequeue(struct __cds_wfcq_head *head,
						 struct cds_wfcq_tail *tail)
{
	PERTURB();
	struct cds_wfcq_node *node = __cds_wfcq_dequeue_nonblocking(head, tail);

	if (node != NULL && node != CDS_WFCQ_WOULDBLOCK)
		tsan_acquire(node);
	return node;
}

/*
 * What the lock-free channel reads of cds_wfcq beyond its documented API (the
 * layout of liburcu 0.13 and 0.14, pinned in meson.build; tests/wfcq_layout.c
 * fails if any of it stops holding):
 *  - the tail is the enqueuers' linearization point: an enqueue exchanges it
 *    (uatomic_xchg, a full barrier) and only then links its predecessor's
 *    `next`; a queue whose tail is the head's own node holds nothing, not
 *    even a half-done enqueue;
 *  - a node's `next` (the head's included) is NULL until the enqueuer of its
 *    successor links it, and a single consumer's dequeue of the last node
 *    puts the tail back on the head's node.
 */
static inline struct cds_wfcq_node *wfcq_link(struct cds_wfcq_node *node)
{
	/* CMM_LOAD_SHARED's relaxed load, spelled so that TSan sees an atomic. */
	return __atomic_load_n(&node->next, __ATOMIC_RELAXED);
}

/* The same, seq_cst: the reading half of a Dekker pair (lockfree/channel.c). */
static inline struct cds_wfcq_node *wfcq_link_sc(struct cds_wfcq_node *node)
{
	return __atomic_load_n(&node->next, __ATOMIC_SEQ_CST);
}

/*
 * Whether no enqueue has begun since the queue was last emptied.  seq_cst:
 * the second half of a Dekker pair whose other half is an enqueuer's
 * exchange of the tail, followed by its seq_cst fence and channel read
 * (lockfree/channel.c: channel_take_free).
 */
static inline bool wfcq_untouched(struct __cds_wfcq_head *head, struct cds_wfcq_tail *tail)
{
	return __atomic_load_n(&tail->p, __ATOMIC_SEQ_CST) == &head->node;
}

#endif /* MAPREG_RCU_H */
