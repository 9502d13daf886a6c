/* SPDX-License-Identifier: MIT */
/*
 * Per-CPU register caches of the lock-free backend: magazines of runs in the
 * manner of Bonwick's vmem quantum caches and the Linux IOVA rcache.  A run
 * of 1..CACHE_CLASSES registers freed on a CPU is kept there for the next
 * allocation of the same size on that CPU, so the common cycle touches one
 * cache line that no other CPU writes.
 *
 * A CPU's magazine is one word of state (the depth of each class, 4 bits
 * each, and the registers held, above bit 32) and the runs.  Two ways to
 * change it, chosen per pool (struct magazines):
 *
 *  - rseq (base/rseq.h): the owner pops and pushes in a restartable
 *    sequence that commits with a single store of the state word, so the
 *    fast path has no atomic instruction.  A drainer (another CPU's thread)
 *    takes the magazine's `lock` word, which new sequences see and leave
 *    the magazine alone, then fences running sequences (rseq_fence: any
 *    sequence that began before is aborted), empties it, and lets go.
 *  - fallback (no rseq, or ThreadSanitizer): `lock` is a guard taken by CAS
 *    and never waited for: a thread that finds it taken uses the bitmap.
 *    A drainer that finds it taken turns TAKEN into FLUSH_WANTED and the
 *    holder's release, an exchange on the same word, sees it and flushes.
 *
 * No stranding (C13): a magazine holds at most `limit` registers (at most
 * a quarter of its CPU's share of the pool) and takes nothing while anyone waits
 * for registers (`waiters`); a serving round whose head does not fit
 * drains every magazine.  A put racing with a waiter:
 *  - rseq: the sequence reads `tight` and `waiters` before it commits.  A
 *    waiter that finds the pool not tight makes it so and fences running
 *    sequences before it can be served (cache_waiter_arrives): a put that
 *    read neither before is aborted by the fence or committed before it
 *    (and then drained by that waiter's round), and every sequence after
 *    the fence reads `tight`.  The pool stays tight, so that waiters of a
 *    busy pool pay no fence, until `untighten_after` puts in a row have
 *    been refused on a CPU with nobody waiting (a put refused while anyone
 *    waits starts the count again; CACHE_UNTIGHTEN at first, doubled by
 *    each waiter that finds the pool untightened, up to
 *    CACHE_UNTIGHTEN_MAX: a pool whose waiters keep coming back stays
 *    tight); then one of them clears it with a CAS
 *    (on x86-TSO, a put that reads it clear reads every raise that came
 *    before the clear, so a waiter that raised meanwhile still blocks it).
 *    A drain locks and fences only magazines that hold something, to keep
 *    their owners out;
 *  - fallback: the put's guard take reads the FREE that a drain's release
 *    wrote, so it sees the waiter's count and drains again (cache_put
 *    reports it).
 *
 * Invariant: the state's register count equals the registers in the runs
 * of its depths, except inside a sequence or while `lock` is held.
 */
#ifndef MAPREG_CACHE_H
#define MAPREG_CACHE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/rseq.h"
#include "lockfree/regmap.h"

#define CACHE_CLASSES 8u	/* runs of 1..8 registers are cached */
#define CACHE_DEPTH 8u		/* runs per class: 4 bits of depth */
#define CACHE_UNTIGHTEN 1024u	/* refused puts in a row with nobody waiting, per CPU ... */
#define CACHE_UNTIGHTEN_MAX 65536u	/* ... doubled per re-tightening, up to this */

struct cpu_cache {
	_Atomic uint64_t state;		/* depth of class c: bits 4c..4c+3; held: 32.. */
	atomic_uint lock;		/* rseq: a drainer's; fallback: the guard */
	_Atomic uint32_t limit;		/* most registers it may hold */
	_Atomic uint32_t refused;	/* rseq: puts refused in a row while tight, nobody waiting */
	uint32_t runs[CACHE_CLASSES][CACHE_DEPTH];
};

/* A pool's magazines: one per CPU, `stride` bytes apart. */
struct magazines {
	char *first;
	size_t stride;
	unsigned int cpus;
	/*
	 * The CPUs whose magazines the sequences use: `cpus` with rseq, 0
	 * without, so that one comparison inside a sequence refuses both a CPU
	 * beyond the pool's and a process without rseq (cpu_id is then -1).
	 */
	unsigned int rseq_cpus;
	bool rseq;
	const atomic_long *waiters;	/* register waiters (C13): no caching while > 0 */
	/*
	 * rseq only: odd while the pool is tight (waiters came, and not
	 * enough puts have been refused since with nobody waiting): puts are
	 * refused, and a waiter need not fence (cache_waiter_arrives).
	 */
	atomic_uint tight;
	/* rseq only: refused puts, per CPU, that untighten (relaxed: a hint). */
	atomic_uint untighten_after;
};

void cache_init(struct magazines *m, void *first, size_t stride, unsigned int cpus,
		const atomic_long *waiters, uint32_t registers);
/* The pool grew to `registers`: each magazine's limit follows (cache.c). */
void cache_set_limit(struct magazines *m, uint32_t registers);

/*
 * After cache_take_fast missed: takes a cached run of exactly `count`
 * registers from this CPU's magazine; false on a miss.  With rseq the fast
 * path's miss was final: false at once.  *moved: registers a drainer's
 * request made this call flush to `map` (fallback only).
 */
bool cache_take(struct magazines *m, struct regmap *map, uint32_t count, uint32_t *first,
		uint32_t *moved);

enum cache_put {
	PUT_CACHED,		/* kept: nobody can be stranded by it */
	PUT_REFUSED,		/* not kept: the caller returns it to the bitmap */
	PUT_FLUSHED,		/* kept, then the magazine went to the bitmap (*moved) */
};
/*
 * After cache_put_fast refused: puts the run in this CPU's magazine if it
 * may (fallback), or counts the refusal toward untightening (rseq: the fast
 * path's refusal was final).
 */
enum cache_put cache_put(struct magazines *m, struct regmap *map, uint32_t first,
			 uint32_t count, uint32_t *moved);

/*
 * A register waiter has raised the count (before it can be served): with
 * rseq, makes the pool tight, fencing running sequences if it was not.
 */
void cache_waiter_arrives(struct magazines *m);

/*
 * Returns every magazine's runs to `map` (a guard held by another thread is
 * asked to, fallback) and says how many registers moved.
 */
uint32_t cache_drain(struct magazines *m, struct regmap *map);

/* Registers held by the magazines now: racy (C27). */
uint64_t cache_held(const struct magazines *m);

/* The magazine's state word (struct cpu_cache). */
#define CLASS_SHIFT(count) (4u * ((count) - 1u))
#define STATE_DEPTH(state, count) ((uint32_t)((state) >> CLASS_SHIFT(count)) & 15u)
#define STATE_HELD(state) ((uint32_t)((state) >> 32))
/* What one run of `count` registers adds to the state word. */
#define STATE_RUN(count) ((1ull << CLASS_SHIFT(count)) | ((uint64_t)(count) << 32))

static inline struct cpu_cache *magazine(const struct magazines *m, unsigned int cpu)
{
	return (struct cpu_cache *)(m->first + (size_t)cpu * m->stride);
}

#ifdef MAPREG_HAVE_RSEQ
/*
 * The owner's restartable sequences (x86-64), inline for the fast paths.
 * Each reads its CPU inside the section, as tcmalloc's per-CPU slabs do:
 * the kernel aborts the section if the thread leaves that CPU before the
 * commit, so the CPU read at its start is the one it runs on until then.
 * Everything else is addressed from `m` inside the section, which keeps a
 * sequence to the caller-saved registers and its callers leaves.
 */

/*
 * A magazine's sequences: this CPU's magazine into rax (refused if the CPU
 * has none, `miss`), its state word into rdx and the depth of class cl into
 * r8d; the commit of rdx as the new state; the inputs they share.
 */
#define MAGAZINE_ASM_FIND(miss)							\
	"movl 4(%[area]), %%eax\n\t"						\
	"cmpl %c[cpus](%[m]), %%eax\n\t"					\
	"jae %l[" #miss "]\n\t"							\
	"imulq %c[stride](%[m]), %%rax\n\t"					\
	"addq %c[mfirst](%[m]), %%rax\n\t"					\
	"cmpl $0, %c[lock](%%rax)\n\t"						\
	"jnz %l[" #miss "]\n\t"

#define MAGAZINE_ASM_DEPTH							\
	"movq (%%rax), %%rdx\n\t"						\
	"movq %%rdx, %%r8\n\t"							\
	"shrq %%cl, %%r8\n\t"							\
	"andl $15, %%r8d\n\t"

/* r9: the row of class cl, less the offset of runs (cl = 4 (count - 1)). */
#define MAGAZINE_ASM_ROW							\
	"leaq (%%rax, %%rcx, 8), %%r9\n\t"

#define MAGAZINE_ASM_COMMIT							\
	"movq %%rdx, (%%rax)\n\t"						\
	RSEQ_ASM_END								\
	: /* no outputs */

/* The commit of a sequence with outputs, which follow (read on commit only). */
#define MAGAZINE_ASM_COMMIT_OUT							\
	"movq %%rdx, (%%rax)\n\t"						\
	RSEQ_ASM_END								\
	:

#define MAGAZINE_ASM_INPUTS							\
	[area] "r" (rseq_area()), [m] "r" (m),					\
	[cpus] "i" (offsetof(struct magazines, rseq_cpus)),			\
	[stride] "i" (offsetof(struct magazines, stride)),			\
	[mfirst] "i" (offsetof(struct magazines, first)),			\
	[lock] "i" (offsetof(struct cpu_cache, lock)),				\
	[runs] "i" (offsetof(struct cpu_cache, runs))

/*
 * Pops a run of `count` (1..CACHE_CLASSES) from this CPU's magazine: 1 hit
 * (its first register in *first), 0 miss (empty, a drainer holds it, or no
 * magazine for this CPU), -1 aborted (try again).  The run comes out in an
 * output register, not through memory: a caller whose local had its address
 * taken could not end in a tail call.
 */
static inline int rseq_pop(const struct magazines *m, uint32_t count, uint32_t *first)
{
	uint32_t run_first;

	__asm__ __volatile__ goto (
		RSEQ_ASM_START
		MAGAZINE_ASM_FIND(miss)
		MAGAZINE_ASM_DEPTH
		"jz %l[miss]\n\t"
		MAGAZINE_ASM_ROW
		"movl %c[runs]-4(%%r9, %%r8, 4), %[run_first]\n\t"
		"subq %[run], %%rdx\n\t"
		MAGAZINE_ASM_COMMIT_OUT
		  [run_first] "=&r" (run_first)
		: MAGAZINE_ASM_INPUTS,
		  "c" (CLASS_SHIFT(count)), [run] "r" (STATE_RUN(count))
		: "memory", "cc", "rax", "rdx", "r8", "r9"
		: miss, aborted);
	*first = run_first;
	return 1;
miss:
	return 0;
aborted:
	return -1;
}

/*
 * Pushes a run of `count` (1..CACHE_CLASSES) on this CPU's magazine if it
 * stays within the magazine's limit and nobody waits for registers: 1 kept,
 * 0 refused, -1 aborted (try again).  The run is written into the free slot
 * before the commit; an aborted sequence leaves it in a slot nobody reads.
 */
static inline int rseq_push(const struct magazines *m, uint32_t count, uint32_t first)
{
	__asm__ __volatile__ goto (
		RSEQ_ASM_START
		MAGAZINE_ASM_FIND(refused)
		"testl $1, %c[tight](%[m])\n\t"		/* C13: the pool is not tight */
		"jnz %l[refused]\n\t"
		"movq %c[waiters](%[m]), %%rdx\n\t"
		"cmpq $0, (%%rdx)\n\t"			/* C13: nobody waits */
		"jg %l[refused]\n\t"
		MAGAZINE_ASM_DEPTH
		"cmpl %[depth], %%r8d\n\t"
		"jae %l[refused]\n\t"
		"addq %[run], %%rdx\n\t"		/* the new state */
		"movq %%rdx, %%r9\n\t"
		"shrq $32, %%r9\n\t"
		"cmpl %c[limit](%%rax), %%r9d\n\t"	/* held with the run <= limit */
		"ja %l[refused]\n\t"
		MAGAZINE_ASM_ROW
		"movl %[run_first], %c[runs](%%r9, %%r8, 4)\n\t"
		MAGAZINE_ASM_COMMIT
		: MAGAZINE_ASM_INPUTS,
		  [tight] "i" (offsetof(struct magazines, tight)),
		  [waiters] "i" (offsetof(struct magazines, waiters)),
		  [limit] "i" (offsetof(struct cpu_cache, limit)),
		  [depth] "i" (CACHE_DEPTH), [run_first] "r" (first),
		  "c" (CLASS_SHIFT(count)), [run] "r" (STATE_RUN(count))
		: "memory", "cc", "rax", "rdx", "r8", "r9"
		: refused, aborted);
	return 1;
refused:
	return 0;
aborted:
	return -1;
}
#endif /* MAPREG_HAVE_RSEQ */

/*
 * The fast paths' magazine, inline: with rseq, this CPU's magazine's answer,
 * final (an aborted sequence runs again, on the CPU the thread is on then),
 * so that cache_take and cache_put, which the callers run after a miss or a
 * refusal, need not look again; without rseq, false (the guarded magazine
 * is theirs).
 */
static inline bool cache_take_fast(const struct magazines *m, uint32_t count, uint32_t *first)
{
#ifdef MAPREG_HAVE_RSEQ
	int hit;

	if (count - 1 >= CACHE_CLASSES)
		return false;
	while ((hit = rseq_pop(m, count, first)) < 0)
		;
	return hit;
#else
	(void)m, (void)count, (void)first;
	return false;
#endif
}

static inline bool cache_put_fast(const struct magazines *m, uint32_t first, uint32_t count)
{
#ifdef MAPREG_HAVE_RSEQ
	int kept;

	if (count - 1 >= CACHE_CLASSES)
		return false;
	while ((kept = rseq_push(m, count, first)) < 0)
		;
	return kept;
#else
	(void)m, (void)first, (void)count;
	return false;
#endif
}

#endif /* MAPREG_CACHE_H */
