/* SPDX-License-Identifier: MIT */
/*
 * C11's two-thread overtake, through the public API only.
 *
 * One adapter, no registers.  The releaser R loops: a synchronous hold, then
 * mapreg_free_adapter_object(), whose pass-on may decide to free the channel
 * while the queue is empty.  The submitter E loops: an asynchronous request;
 * if it was queued (its routine did not run before the call returned), at
 * once a synchronous hold on the same adapter.  That hold must fail (C8,
 * C11: a request is queued ahead); if it succeeds while the queued request's
 * routine has still not run, the hold overtook it.
 *
 * The race lives between R's decision to free the channel and its store
 * (issue: "the lock-free backend breaks C11 on another CPU"): E's request
 * queues in between, then E's hold takes the stale FREE.  R and E are pinned
 * to different CPUs where there are two; on one CPU the window is only hit
 * when R is preempted inside it, so the run is longer.
 *
 * Usage: stress-overtake [--backend NAME] [--duration SEC] [--same-cpu]
 *                        [--seed N] [--fault free-channel-unchecked]
 * Exits 1 and prints the count if any overtake was seen.  Built also
 * against the perturbation library (stress-overtake-perturbed: --seed drives
 * the schedule noise of core/hooks/perturb.h) with the fault hooks, where
 * --fault plants the pre-fix protocol, which must be caught.
 */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <mapreg.h>

#include "two_cpus.h"

#ifdef MAPREG_PERTURB
#include "hooks/fault.h"
#include "hooks/perturb.h"
#endif

static mapreg_adapter *adapter;
static atomic_bool stop;	/* relaxed: a flag, it publishes nothing */
static int cpus_to_use[2];

/* The queued request's routine: E waits for it before the next round. */
static mapreg_action mark_ran(void *device, mapreg_transfer *xfer, mapreg_base base,
			      void *context)
{
	(void)device, (void)xfer, (void)base;
	atomic_store_explicit((atomic_bool *)context, true, memory_order_release);
	return MAPREG_DEALLOCATE_OBJECT;
}

static void die(const char *what, mapreg_status s)
{
	fprintf(stderr, "stress-overtake: %s: %s\n", what, mapreg_status_str(s));
	exit(2);
}

/* A thread's start: its CPU, and the transfer of its synchronous holds. */
static void thread_start(int cpu, mapreg_transfer *xfer)
{
	two_cpus_pin(cpu);
	if (mapreg_transfer_init(adapter, xfer) != MAPREG_OK)
		die("transfer_init", MAPREG_INVALID_PARAMETER);
}

/* A synchronous hold of the channel: true if held, false if refused (C8). */
static bool try_hold(mapreg_transfer *xfer, const char *who)
{
	mapreg_base base;
	mapreg_status s = mapreg_allocate_channel_ex(adapter, NULL, xfer, 0,
						     MAPREG_SYNCHRONOUS_CALLBACK, NULL, NULL,
						     &base);
	if (s != MAPREG_OK && s != MAPREG_INSUFFICIENT_RESOURCES)
		die(who, s);
	return s == MAPREG_OK;
}

static void release_hold(void)
{
	mapreg_status s = mapreg_free_adapter_object(adapter, MAPREG_DEALLOCATE_OBJECT);

	if (s != MAPREG_OK)
		die("free_adapter_object", s);
}

static void *releaser(void *arg)
{
	unsigned long *cycles = arg;
	mapreg_transfer xfer;

	thread_start(cpus_to_use[0], &xfer);
	while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
		if (try_hold(&xfer, "releaser's hold")) {
			release_hold();
			++*cycles;
		}
	}
	return NULL;
}

struct submitter_result {
	_Atomic unsigned long queued;	/* read by main to decide when to stop */
	unsigned long overtakes;
};

static void *submitter(void *arg)
{
	struct submitter_result *out = arg;
	mapreg_transfer hold_xfer;

	thread_start(cpus_to_use[1], &hold_xfer);
	while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
		atomic_bool ran = false;
		mapreg_status s = mapreg_allocate_channel(adapter, NULL, 0, mark_ran, &ran);
		if (s != MAPREG_OK)
			die("async request", s);
		/* Acquire: pairs with mark_ran's release; the flag alone matters. */
		if (!atomic_load_explicit(&ran, memory_order_acquire)) {
			out->queued++;
			if (try_hold(&hold_xfer, "submitter's hold")) {
				if (!atomic_load_explicit(&ran, memory_order_acquire)) {
					out->overtakes++;
					atomic_store(&stop, true);	/* one is enough */
				}
				release_hold();
			}
		}
		/* The routine runs on whichever thread passes the channel on. */
		while (!atomic_load_explicit(&ran, memory_order_acquire))
			sched_yield();
	}
	return NULL;
}

int main(int argc, char **argv)
{
	mapreg_backend backend = MAPREG_BACKEND_DEFAULT;
	double duration = 2;
	bool same_cpu = false;
	unsigned long long seed = (unsigned long long)time(NULL) ^ ((unsigned long long)getpid() << 20);

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--backend") == 0 && i + 1 < argc) {
			if (mapreg_backend_by_name(argv[++i], &backend) != MAPREG_OK) {
				fprintf(stderr, "stress-overtake: unknown backend %s\n", argv[i]);
				return 2;
			}
		} else if (strcmp(argv[i], "--duration") == 0 && i + 1 < argc) {
			duration = atof(argv[++i]);
		} else if (strcmp(argv[i], "--same-cpu") == 0) {
			same_cpu = true;
#ifdef MAPREG_PERTURB
		} else if (strcmp(argv[i], "--seed") == 0 && i + 1 < argc) {
			seed = strtoull(argv[++i], NULL, 0);
		} else if (strcmp(argv[i], "--fault") == 0 && i + 1 < argc &&
			   strcmp(argv[i + 1], "free-channel-unchecked") == 0) {
			i++;
			mapreg_fault_set(1u << FAULT_FREE_CHANNEL_UNCHECKED);
#endif
		} else {
			fprintf(stderr, "usage: %s [--backend NAME] [--duration SEC] [--same-cpu]\n",
				argv[0]);
			return 2;
		}
	}
#ifdef MAPREG_PERTURB
	mapreg_perturb_set(seed, 16, 64, 2048, 4);
	printf("stress-overtake: perturbed, seed %llu\n", seed);
#else
	(void)seed;
#endif
	two_cpus_pick(cpus_to_use, same_cpu);

	mapreg_pool *pool;
	mapreg_status s = mapreg_pool_create(&(mapreg_pool_config){ .registers = 1,
								    .backend = backend },
					     &pool);
	if (s != MAPREG_OK)
		die("pool_create", s);
	s = mapreg_adapter_create(pool, NULL, &adapter, NULL);
	if (s != MAPREG_OK)
		die("adapter_create", s);

	unsigned long cycles = 0;
	struct submitter_result result = { 0, 0 };
	pthread_t r, e;
	pthread_create(&r, NULL, releaser, &cycles);
	pthread_create(&e, NULL, submitter, &result);
	struct timespec start, now;
	double elapsed;
	clock_gettime(CLOCK_MONOTONIC, &start);
	do {
		struct timespec tick = { 0, 10 * 1000 * 1000 };
		nanosleep(&tick, NULL);
		clock_gettime(CLOCK_MONOTONIC, &now);
		elapsed = (double)(now.tv_sec - start.tv_sec) + (now.tv_nsec - start.tv_nsec) / 1e9;
		/*
		 * At least `duration`, and on a loaded machine on until the
		 * window was exercised a few hundred times (at most 10x longer).
		 */
	} while (!atomic_load(&stop) &&
		 (elapsed < duration || (atomic_load(&result.queued) < 256 && elapsed < 10 * duration)));
	atomic_store(&stop, true);
	pthread_join(r, NULL);
	pthread_join(e, NULL);

	if (mapreg_adapter_destroy(adapter) != MAPREG_OK ||
	    mapreg_pool_destroy(pool) != MAPREG_OK)
		die("teardown", MAPREG_BUSY);
	printf("stress-overtake: %s, CPUs %d and %d: %lu releases, %lu queued, %lu overtakes "
	       "in %.2f s\n", mapreg_backend_name(backend), cpus_to_use[0], cpus_to_use[1], cycles,
	       result.queued, result.overtakes,
	       (double)(now.tv_sec - start.tv_sec) + (now.tv_nsec - start.tv_nsec) / 1e9);
	if (result.overtakes != 0) {
		printf("FAIL [order-channel] C11: a synchronous hold overtook a queued request "
		       "%lu times\n", result.overtakes);
		return 1;
	}
	return result.queued != 0 ? 0 : 77;	/* 77: the window was never exercised */
}
