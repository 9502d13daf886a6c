/* SPDX-License-Identifier: MIT */
/*
 * Test-only schedule perturbation.  A race that needs two steps of two
 * threads to interleave just so shows on one CPU model and never on another
 * (C11's overtake failed half the runs on an Intel Xeon and none on an AMD
 * EPYC).  PERTURB() marks each step of the concurrent protocols (each CAS,
 * fence and store of the channel, the serving round, the magazines' guard,
 * the transfer and node states, poll); in the perturbation build it randomly
 * naps (sleeps for up to 128 us, as if preempted), yields the CPU, spins
 * for a random short time, or does nothing, from a
 * per-thread sequence drawn from the seed the stress suite passes in, so
 * that the windows between steps are widened on any machine, on one CPU as
 * well as on two.  Elsewhere it compiles to nothing.
 *
 * PERTURB() goes at the seams: in the small helpers that perform a
 * protocol's atomic step, before the step, never in a loop that does not
 * also make progress.
 */
#ifndef MAPREG_PERTURB_H
#define MAPREG_PERTURB_H

#include <stdint.h>

#ifdef MAPREG_PERTURB
/*
 * Seeds every thread's sequence (a thread draws its own from the seed and
 * the order of its first perturbation) and sets the odds, out of 1024, that
 * a point naps (sleeps 1..128 us, like a preemption), yields, or spins (up
 * to max_spin pause instructions).  Tests call it while no library call runs.
 */
void mapreg_perturb_set(uint64_t seed, unsigned int yield_odds, unsigned int spin_odds,
			unsigned int max_spin, unsigned int nap_odds);
void mapreg_perturb(void);
#define PERTURB() mapreg_perturb()
#else
#define PERTURB() ((void)0)
#endif

#endif /* MAPREG_PERTURB_H */
