/* SPDX-License-Identifier: MIT */
/*
 * Restartable sequences: per-CPU data changed with no atomic instruction.
 *
 * glibc 2.35+ registers an rseq area for every thread (`__rseq_offset`,
 * `__rseq_size`).  A critical section is a short stretch of code, described
 * by a struct rseq_cs the thread publishes in its area before entering, that
 * the kernel restarts at its abort handler if the thread is preempted,
 * migrated or signalled before the section's last instruction: a single
 * store that commits.  The section first checks that the thread still runs
 * on the CPU whose data it uses, so that data is touched by one CPU at a
 * time with plain loads and stores (Linux's selftests/rseq, tcmalloc's
 * per-CPU slabs).  Another thread that must change a CPU's data (a drainer)
 * first marks it so that new sections leave it alone, then fences running
 * sections with membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED_RSEQ): every
 * section that began before the mark is aborted, not committed.
 *
 * x86-64 only; elsewhere, and where rseq or the membarrier command is not
 * available (valgrind, GLIBC_TUNABLES=glibc.pthread.rseq=0, old kernels),
 * and under ThreadSanitizer (which cannot see the sections' stores),
 * rseq_ready() is false and callers use their atomic fallback.
 *
 * No librseq in Debian 12: this is the small part of it mapreg needs.
 */
#ifndef MAPREG_RSEQ_H
#define MAPREG_RSEQ_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/rseq.h>

#include "base/cpu.h"
#include "base/rcu.h"

/*
 * Once per process: whether rseq is registered for this thread's process
 * and membarrier's RSEQ command could be registered.  Threads started later
 * get rseq from glibc as well.
 */
bool rseq_ready(void);

/* Aborts every critical section running or preempted in this process. */
void rseq_fence(void);

/*
 * The heavy half of an asymmetric fence (liburcu-memb's smp_mb_master): a
 * full memory barrier on every CPU running one of our threads, so that any
 * thread's stores before it are visible after it, and its loads after it
 * see our stores before it.  The light half is a compiler barrier.
 * membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED), registered once per process
 * by fence_heavy_ready(), which callers check first (false on kernels
 * before 4.14; true under ThreadSanitizer and valgrind, and without rseq).
 */
bool fence_heavy_ready(void);
void fence_heavy(void);

#if defined(__x86_64__) && !defined(MAPREG_TSAN)
#define MAPREG_HAVE_RSEQ 1

/* This thread's CPU (the kernel keeps it current), or -1 without rseq. */
static inline int rseq_cpu(void)
{
	return (int)__atomic_load_n(&rseq_area()->cpu_id, __ATOMIC_RELAXED);
}

#define RSEQ_STR_(x) #x
#define RSEQ_STR(x) RSEQ_STR_(x)

/*
 * The descriptor of a critical section from local label `start` to
 * `commit` (just past the committing store), restarted at `abort`.
 */
#define RSEQ_ASM_TABLE(table, start, commit, abort)				\
	".pushsection __rseq_cs, \"aw\"\n\t"					\
	".balign 32\n\t"							\
	RSEQ_STR(table) ":\n\t"							\
	".long 0, 0\n\t"							\
	".quad " RSEQ_STR(start) "f, (" RSEQ_STR(commit) "f - "		\
		RSEQ_STR(start) "f), " RSEQ_STR(abort) "f\n\t"			\
	".popsection\n\t"

/*
 * The abort handler, out of line: the kernel checks that the four bytes
 * before it are the signature glibc registered (RSEQ_SIG); they are the
 * operand of a ud1 instruction so that a disassembler stays in step.
 */
#define RSEQ_ASM_ABORT(abort, target)						\
	".pushsection __rseq_failure, \"ax\"\n\t"				\
	".byte 0x0f, 0xb9, 0x3d\n\t"						\
	".long " RSEQ_STR(RSEQ_SIG) "\n\t"					\
	RSEQ_STR(abort) ":\n\t"							\
	"jmp %l[" RSEQ_STR(target) "]\n\t"					\
	".popsection\n\t"

/*
 * A critical section's frame, around its body: the descriptor (local
 * labels 3: table, 1: start, 2: just past the commit, 4: abort), published
 * in the thread's area (operand `area`; rax is clobbered); after the
 * committing store, RSEQ_ASM_END and the abort handler, which jumps to the
 * C label `aborted`.  A body that reads its CPU from the area after the
 * start (4(%[area]): cpu_id, -1 if rseq is not registered) runs on that CPU
 * until it commits or is aborted.
 */
#define RSEQ_ASM_START								\
	RSEQ_ASM_TABLE(3, 1, 2, 4)						\
	"leaq 3b(%%rip), %%rax\n\t"						\
	"movq %%rax, 8(%[area])\n\t"						\
	"1:\n\t"

/* The start, then the check that the thread runs on CPU `cpu` (operand). */
#define RSEQ_ASM_BEGIN								\
	RSEQ_ASM_START								\
	"cmpl %[cpu], 4(%[area])\n\t"						\
	"jnz 4f\n\t"

#define RSEQ_ASM_END								\
	"2:\n\t"								\
	RSEQ_ASM_ABORT(4, aborted)

/*
 * Adds 1 to `*counter` on this thread's CPU, if that is `cpu`: false if
 * the thread was elsewhere or the section was aborted (the caller reads its
 * CPU again and retries).
 */
static inline bool rseq_add_one(uint64_t *counter, int cpu)
{
	__asm__ __volatile__ goto (
		RSEQ_ASM_BEGIN
		"movq (%[counter]), %%rax\n\t"
		"incq %%rax\n\t"
		"movq %%rax, (%[counter])\n\t"		/* commit */
		RSEQ_ASM_END
		: /* no outputs: asm goto */
		: [area] "r" (rseq_area()), [cpu] "r" (cpu), [counter] "r" (counter)
		: "memory", "cc", "rax"
		: aborted);
	return true;
aborted:
	return false;
}
#endif /* __x86_64__ && !MAPREG_TSAN */

#endif /* MAPREG_RSEQ_H */
