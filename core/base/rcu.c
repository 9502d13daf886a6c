/* SPDX-License-Identifier: MIT */
/* RCU glue: lazy thread registration and annotated deferred frees; see rcu.h. */
#include <pthread.h>
#include <sched.h>
#include <stdbool.h>

#include "base/rcu.h"

#ifdef MAPREG_TSAN
char rcu_tsan_gp;
#endif

__thread bool rcu_thread_online __attribute__((tls_model("initial-exec")));

static pthread_key_t rcu_thread_key;
static pthread_once_t rcu_thread_key_once = PTHREAD_ONCE_INIT;

static void rcu_thread_exit(void *unused)
{
	urcu_memb_unregister_thread();
	rcu_thread_online = false;
}

static void rcu_thread_key_create(void)
{
	pthread_key_create(&rcu_thread_key, rcu_thread_exit);
}

void rcu_thread_online_slow(void)
{
	pthread_once(&rcu_thread_key_once, rcu_thread_key_create);
	urcu_memb_register_thread();
	/* Any non-NULL value makes the destructor run at thread exit. */
	pthread_setspecific(rcu_thread_key, &rcu_thread_key);
	rcu_thread_online = true;
}

/*
 * Where liburcu's call_rcu thread runs.  liburcu starts its default one at
 * the process's first call_rcu, from the calling thread, whose CPU affinity
 * a new thread inherits: a reactor pinned to one CPU would have every
 * callback batch and grace period run on its own CPU, preempting it (the
 * one-reactor poll scenario: about 500 preemptions a second, the reactor's
 * wait tail).  The thread gets the CPUs the process had when the library
 * was loaded, before any thread of it pinned itself: a process confined
 * as a whole (taskset) keeps it confined.
 */
static cpu_set_t process_cpus;
static bool process_cpus_known;
static pthread_once_t callback_thread_once = PTHREAD_ONCE_INIT;

/*
 * A program may choose the thread's CPUs instead (mapreg_deferred_cpus):
 * on a machine where one CPU grants (frees registers that waiters get),
 * the thread's grace periods preempting it delay every grant behind them.
 * callback_lock orders a choice against the placement at the first
 * call_rcu: whichever comes second applies the choice.
 */
static pthread_mutex_t callback_lock = PTHREAD_MUTEX_INITIALIZER;
static cpu_set_t callback_chosen;
static bool callback_chosen_known, callback_placed;

__attribute__((constructor))
static void rcu_read_process_cpus(void)
{
	process_cpus_known = sched_getaffinity(0, sizeof(process_cpus), &process_cpus) == 0;
}

static void callback_thread_place(void)
{
	struct call_rcu_data *crdp = urcu_memb_get_default_call_rcu_data();

	if (crdp == NULL)
		return;
	pthread_mutex_lock(&callback_lock);
	const cpu_set_t *cpus = callback_chosen_known ? &callback_chosen
			      : process_cpus_known ? &process_cpus
						   : NULL;
	if (cpus != NULL)
		pthread_setaffinity_np(urcu_memb_get_call_rcu_thread(crdp), sizeof(*cpus), cpus);
	callback_placed = true;
	pthread_mutex_unlock(&callback_lock);
}

bool rcu_callback_cpus_choose(const unsigned int *cpus, size_t count)
{
	cpu_set_t chosen;
	bool applied = true;

	CPU_ZERO(&chosen);
	for (size_t i = 0; i < count; i++) {
		if (cpus[i] >= CPU_SETSIZE ||
		    (process_cpus_known && !CPU_ISSET(cpus[i], &process_cpus)))
			return false;
		CPU_SET(cpus[i], &chosen);
	}
	pthread_mutex_lock(&callback_lock);
	if (callback_placed)
		applied = pthread_setaffinity_np(
				  urcu_memb_get_call_rcu_thread(urcu_memb_get_default_call_rcu_data()),
				  sizeof(chosen), &chosen) == 0;
	if (applied) {
		callback_chosen = chosen;
		callback_chosen_known = true;
	}
	pthread_mutex_unlock(&callback_lock);
	return applied;
}

void rcu_free_later(struct rcu_head *head, void (*free_fn)(struct rcu_head *head))
{
	if (caa_unlikely(!rcu_thread_online))
		rcu_thread_online_slow();
	pthread_once(&callback_thread_once, callback_thread_place);
#ifdef MAPREG_TSAN
	/*
	 * What this thread did before asking happens before the callback
	 * (call_rcu queues it with a full barrier; the callback acquires the
	 * same object): the caller need not be inside a read-side section.
	 */
	tsan_release(&rcu_tsan_gp);
#endif
	urcu_memb_call_rcu(head, free_fn);
}

void rcu_wait_for_callbacks(void)
{
	if (caa_unlikely(!rcu_thread_online))
		rcu_thread_online_slow();
	urcu_memb_barrier();
}

#if defined(MAPREG_FAULT_INJECTION) || defined(MAPREG_RSEQ_ASSUMABLE)
void rcu_start_callback_thread(void)
{
	pthread_once(&callback_thread_once, callback_thread_place);
}
#endif
