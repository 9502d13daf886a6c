/* SPDX-License-Identifier: MIT */
/*
 * tools/callback-thread-experiment.sh's header, never part of the library:
 * included first into core/base/rcu.c of a scratch copy, it makes the place
 * where the library gives liburcu's call_rcu thread the process's CPUs
 * (callback_thread_place) also move that thread to SCHED_BATCH when
 * MAPREG_EXPERIMENT_BATCH is set.  A SCHED_BATCH thread that wakes never
 * preempts the running one (the kernel's wakeup preemption skips it); it
 * runs at the next switch the scheduler makes anyway.  The question it
 * answers: how much of the lock-free tails is the call_rcu thread's waking
 * onto a busy CPU.
 */
#ifndef MAPREG_BATCH_CALLBACKS_H
#define MAPREG_BATCH_CALLBACKS_H

#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>

static inline int experiment_place(pthread_t thread, size_t size, const cpu_set_t *cpus)
{
	int rc = pthread_setaffinity_np(thread, size, cpus);
	struct sched_param none = { 0 };

	if (getenv("MAPREG_EXPERIMENT_BATCH") != NULL &&
	    pthread_setschedparam(thread, SCHED_BATCH, &none) != 0) {
		fprintf(stderr, "batch_callbacks.h: SCHED_BATCH refused\n");
		abort();
	}
	return rc;
}
#define pthread_setaffinity_np experiment_place

#endif /* MAPREG_BATCH_CALLBACKS_H */
