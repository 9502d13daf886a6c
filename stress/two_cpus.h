/* SPDX-License-Identifier: MIT */
/*
 * The two CPUs a targeted two-thread race (overtake.c, revoke.c) runs on,
 * one thread pinned to each: the first two this process may run on.  A
 * wrapper such as `taskset -c 0` (tools/ci.d/25-perturb.sh's one-CPU runs)
 * may allow only one; then, as with --same-cpu, both threads share it and
 * only preemption interleaves them.
 */
#ifndef MAPREG_STRESS_TWO_CPUS_H
#define MAPREG_STRESS_TWO_CPUS_H

#include <pthread.h>
#include <sched.h>
#include <stdbool.h>

/* Fills cpus[2]; returns whether both are the same CPU. */
static inline bool two_cpus_pick(int cpus[2], bool same_cpu)
{
	cpu_set_t allowed;
	int found = 0;

	CPU_ZERO(&allowed);
	if (sched_getaffinity(0, sizeof(allowed), &allowed) != 0)
		CPU_SET(0, &allowed);
	for (int cpu = 0; cpu < CPU_SETSIZE && found < 2; cpu++)
		if (CPU_ISSET(cpu, &allowed))
			cpus[found++] = cpu;
	if (found < 2 || same_cpu) {
		cpus[1] = cpus[0];
		return true;
	}
	return false;
}

static inline void two_cpus_pin(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
}

#endif /* MAPREG_STRESS_TWO_CPUS_H */
