/* SPDX-License-Identifier: MIT */
/*
 * The current CPU, cheaply.  glibc 2.36 registers an rseq area for every
 * thread; its cpu_id field is kept current by the kernel, so reading it is
 * a thread-pointer-relative load (about 0.5 ns here).  Where rseq is not
 * registered (valgrind, GLIBC_TUNABLES=glibc.pthread.rseq=0, old kernels),
 * fall back to sched_getcpu().  The answer is a hint: the thread may migrate
 * right after reading it, so per-CPU data is still guarded (see cache.h).
 */
#ifndef MAPREG_CPU_H
#define MAPREG_CPU_H

#include <sched.h>
#include <stdint.h>
#include <sys/rseq.h>

static inline unsigned int cpu_current(void)
{
	if (__rseq_size != 0) {
		const struct rseq *rs = (const struct rseq *)
			((char *)__builtin_thread_pointer() + __rseq_offset);
		int32_t cpu = (int32_t)__atomic_load_n(&rs->cpu_id, __ATOMIC_RELAXED);

		if (cpu >= 0)
			return (unsigned int)cpu;
	}
	int cpu = sched_getcpu();
	return cpu < 0 ? 0 : (unsigned int)cpu;
}

#endif /* MAPREG_CPU_H */
