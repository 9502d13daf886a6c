/* SPDX-License-Identifier: MIT */
/* Restartable sequences and the heavy fence: whether each can be used; the fences (rseq.h). */
#include <linux/membarrier.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "base/rseq.h"
#include "hooks/fault.h"

struct rseq_glibc rseq_glibc;

/*
 * Before main and before any thread of ours: see cpu.h.  Again in
 * ready_check(), for a caller whose own constructor, run before ours in a
 * static link, makes the first pool: so rseq is not off for the process's
 * life for that.  Until one copy, cpu_current() uses sched_getcpu().
 */
__attribute__((constructor)) static void rseq_glibc_copy(void)
{
	rseq_glibc.offset = __rseq_offset;
	rseq_glibc.size = __rseq_size;
}

static bool ready, heavy_ready;
static pthread_once_t ready_once = PTHREAD_ONCE_INIT;

static int membarrier(int cmd)
{
	return (int)syscall(__NR_membarrier, cmd, 0, 0);
}

/* Once per process: both registrations (membarrier's are per process). */
static void ready_check(void)
{
	if (rseq_glibc.offset != __rseq_offset || rseq_glibc.size != __rseq_size)
		rseq_glibc_copy();	/* only before our constructor: see there */
	heavy_ready = membarrier(MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED) == 0;
#ifdef MAPREG_HAVE_RSEQ
	/* glibc registered rseq for this thread (so for every thread), and the
	 * fence that aborts other threads' sequences is ours to use. */
	ready = rseq_glibc.size >= 20 && rseq_cpu() >= 0 &&
		membarrier(MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED_RSEQ) == 0;
#endif
}

#if (defined(MAPREG_FAULT_INJECTION) || defined(MAPREG_RSEQ_ASSUMABLE)) && defined(MAPREG_HAVE_RSEQ)
static bool assumed;

void mapreg_rseq_assume_cpu0(void)
{
	if (rseq_glibc.size != 0)
		return;		/* registered for real: nothing to pretend */
	rcu_start_callback_thread();	/* the one thread the library starts */
	rseq_area()->cpu_id_start = 0;
	rseq_area()->cpu_id = 0;
	assumed = true;
}
#else
static const bool assumed;
#endif

bool rseq_ready(void)
{
	if (assumed)
		return true;
	pthread_once(&ready_once, ready_check);
	return ready;
}

/*
 * A registered membarrier command cannot fail (EINTR is not among its
 * errors): abort() rather than run on unfenced.  Under the counting runs of
 * mapreg_rseq_assume_cpu0() (one thread), nothing: there is no other
 * thread whose sequence to abort or whose stores to order, and callgrind
 * counts no system call anyway.
 */
static void membarrier_or_abort(int cmd)
{
	if (assumed)
		return;
	if (membarrier(cmd) != 0)
		abort();
}

void rseq_fence(void)
{
	membarrier_or_abort(MEMBARRIER_CMD_PRIVATE_EXPEDITED_RSEQ);
}

bool fence_heavy_ready(void)
{
	if (assumed)
		return true;
	pthread_once(&ready_once, ready_check);
	return heavy_ready;
}

void fence_heavy(void)
{
	membarrier_or_abort(MEMBARRIER_CMD_PRIVATE_EXPEDITED);
}
