/* SPDX-License-Identifier: MIT */
/*
 * Full fences where an instruction next to them already is one.
 *
 * fence_after_rmw: after a read-modify-write.
 *
 * A seq_cst fence right after a read-modify-write orders nothing more on
 * x86: a locked instruction (lock xadd, lock cmpxchg, xchg) drains the
 * store buffer, and no load or store is reordered across it (Intel SDM
 * vol. 3A, 8.2.2; x86-TSO).  Linux writes such a fence as
 * smp_mb__after_atomic(), liburcu as cmm_smp_mb__after_uatomic_*(): a
 * compiler barrier on x86, the real fence elsewhere.  Under ThreadSanitizer,
 * which reasons about C11 and not x86, it stays the C11 fence.  The SPIN
 * models are x86-TSO and model the read-modify-write's drain, which is what
 * this relies on.
 */
#ifndef MAPREG_BARRIER_H
#define MAPREG_BARRIER_H

#include <stdatomic.h>

#include "base/rcu.h"

/* Call only directly after a seq_cst or acq_rel read-modify-write. */
static inline void fence_after_rmw(void)
{
#if defined(__x86_64__) && !defined(MAPREG_TSAN)
	atomic_signal_fence(memory_order_seq_cst);
#else
	atomic_thread_fence(memory_order_seq_cst);
#endif
}

/*
 * Between a store and a system call that takes a kernel lock (an eventfd's
 * read or write: its wait queue's spin lock, a locked compare-and-swap),
 * so that the store is visible before the call's critical section: on x86
 * that locked instruction drains the store buffer, our store with it.
 * Elsewhere, and under ThreadSanitizer, the C11 fence.
 */
static inline void fence_before_locking_syscall(void)
{
#if defined(__x86_64__) && !defined(MAPREG_TSAN)
	atomic_signal_fence(memory_order_seq_cst);
#else
	atomic_thread_fence(memory_order_seq_cst);
#endif
}

#endif /* MAPREG_BARRIER_H */
