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
#include <stddef.h>
#include <stdint.h>
#include <sys/rseq.h>

/*
 * glibc's `__rseq_offset` and `__rseq_size`, copied into our own data by a
 * constructor (base/rseq.c; ld.so sets them before any constructor runs
 * and never again).  Where glibc keeps them, in ld.so's data page, a
 * request that reads them touches that page for these two words alone: on
 * a host whose kernel entries flush the TLB, a page walk after every
 * system call (BENCHMARKS.md, "The one reactor's pages").
 */
struct rseq_glibc {
	ptrdiff_t offset;
	unsigned int size;
};
extern struct rseq_glibc rseq_glibc __attribute__((visibility("hidden")));

/* This thread's rseq area (registered or not: see rseq_glibc.size). */
static inline struct rseq *rseq_area(void)
{
	return (struct rseq *)((char *)__builtin_thread_pointer() + rseq_glibc.offset);
}

static inline unsigned int cpu_current(void)
{
	if (rseq_glibc.size != 0) {
		int32_t cpu = (int32_t)__atomic_load_n(&rseq_area()->cpu_id, __ATOMIC_RELAXED);

		if (cpu >= 0)
			return (unsigned int)cpu;
	}
	int cpu = sched_getcpu();
	return cpu < 0 ? 0 : (unsigned int)cpu;
}

#endif /* MAPREG_CPU_H */
