/* SPDX-License-Identifier: MIT */
/* Built only into the test-only mapreg_perturbed library: see perturb.h. */
#include <sched.h>
#include <stdatomic.h>
#include <time.h>

#include <urcu/arch.h>

#include "hooks/perturb.h"

/* Relaxed: set while no library call runs, read by threads started later
 * or synchronized with the setter by the test itself. */
static _Atomic uint64_t seed = 0x9e3779b97f4a7c15u;
static atomic_uint yield_odds = 16, spin_odds = 64, max_spin = 2048, nap_odds = 4;
static atomic_uint threads;	/* relaxed: only distinctness matters */

static __thread uint64_t state;

void mapreg_perturb_set(uint64_t new_seed, unsigned int new_yield_odds,
			unsigned int new_spin_odds, unsigned int new_max_spin,
			unsigned int new_nap_odds)
{
	atomic_store_explicit(&nap_odds, new_nap_odds, memory_order_relaxed);
	atomic_store_explicit(&seed, new_seed, memory_order_relaxed);
	atomic_store_explicit(&yield_odds, new_yield_odds, memory_order_relaxed);
	atomic_store_explicit(&spin_odds, new_spin_odds, memory_order_relaxed);
	atomic_store_explicit(&max_spin, new_max_spin ? new_max_spin : 1, memory_order_relaxed);
}

/* splitmix64: a thread's first state from the seed and its number. */
static uint64_t splitmix(uint64_t x)
{
	x += 0x9e3779b97f4a7c15u;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9u;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebu;
	return x ^ (x >> 31);
}

void mapreg_perturb(void)
{
	uint64_t x = state;

	if (x == 0) {
		unsigned int n = atomic_fetch_add_explicit(&threads, 1, memory_order_relaxed);
		x = splitmix(atomic_load_explicit(&seed, memory_order_relaxed) + n) | 1;
	}
	x ^= x << 13;		/* xorshift64 */
	x ^= x >> 7;
	x ^= x << 17;
	state = x;

	unsigned int pick = (unsigned int)(x >> 54);	/* 0..1023 */
	unsigned int yields = atomic_load_explicit(&yield_odds, memory_order_relaxed);
	unsigned int spins = atomic_load_explicit(&spin_odds, memory_order_relaxed);
	unsigned int naps = atomic_load_explicit(&nap_odds, memory_order_relaxed);
	if (pick < naps) {
		/*
		 * A nap of 1..128 us: off the CPU long enough for the other
		 * threads to finish whole calls, as when the thread is preempted
		 * (a yield returns at once when the other CPU is idle).
		 */
		struct timespec nap = { 0, 1000 * (long)(1 + ((x >> 8) & 127)) };
		nanosleep(&nap, NULL);
	} else if (pick < naps + yields) {
		sched_yield();
	} else if (pick < naps + yields + spins) {
		unsigned int n = (unsigned int)(x >> 20) %
				 atomic_load_explicit(&max_spin, memory_order_relaxed);
		while (n-- > 0)
			caa_cpu_relax();
	}
}
