/*
 * registers.pml -- the lock-free backend's register wait queue and serving
 * round, with the per-CPU magazines in front of the bitmap, in both of their
 * implementations: the guard word with FLUSH_WANTED (the fallback: no rseq,
 * or ThreadSanitizer) and, with -DRSEQ, restartable sequences with the
 * drainers' lock, membarrier fences and the pool's `tight` flag (x86-64).
 *
 * Models (core/lockfree/registers.c, core/lockfree/cache.c, cache.h,
 * core/lockfree/request.c, core/lockfree/pool.c, core/lockfree/regmap.c):
 *   lf_submit's register part (anyone_waits_for_registers, registers_claim),
 *   submit_queued holding the channel (registers_waiter_raise with
 *   cache_waiter_arrives, wait_for_registers), serve, serve_register_waiters
 *   (register_head), registers_claim, registers_return, lf_pool_grow
 *   (publish the larger map, then serve); the fallback's guarded_take,
 *   guarded_put, guard_take, guard_drop, guard_drop_and_flush, guard_flush
 *   (FLUSH_WANTED) and flush_owned; rseq's rseq_pop, rseq_push, untighten,
 *   cache_waiter_arrives, rseq_drain_some and rseq_fence; regmap_claim
 *   (first fit) and regmap_release; the register queue's cds_wfcq; the
 *   trampoline that runs a thread's grants after its call (dispatch.c).
 *
 * Rules checked:
 *   C12  waiters are granted strictly in queue order; no request whose
 *        submission began after a waiter's submission returned takes
 *        registers (from the bitmap or a magazine) while that waiter waits.
 *        [assertions at every claim and grant]
 *   C13  no stranding, and C14 no lost wake-up: once nothing can move, every
 *        thread has finished and the head waiter, if any, does not fit in
 *        the registers no caller holds (free in the bitmap or cached in a
 *        magazine); the serving counter is 0.  [assertions after `timeout`]
 *   C25  a waiter that fits only in the grown pool is served (-DGROW).
 *   Conservation: a run is claimed only if no caller holds any of it; at the
 *   end the bitmap's set bits are exactly the held runs plus the magazines'
 *   runs (nothing leaked, nothing in two places).  [assertions]
 *   Termination: cache_flush's retry loop and a sequence's restarts are
 *   bounded (BOUND), every other loop by a finite resource (see LOOP
 *   below): every execution ends, and the end assertions hold on all.
 *
 * Threads and bounds: 3 threads on 2 CPUs (so 2 magazines), 2 requests that
 * hold their channel (the channel is channel.pml's) and wait for registers:
 *   T0 (CPU 0) holds register 0 (a run kept by
 *      DEALLOCATE_OBJECT_KEEP_REGISTERS) and frees it
 *      (mapreg_free_map_registers -> registers_return);
 *   T1 (CPU 0) submits request 1 for 2 registers (3 with -DGROW);
 *   T2 (CPU 1) submits request 2 for 1 register (not with -DGROW);
 *   T3 (CPU 1) grows the pool from 2 to 3 registers (-DGROW), or cancels
 *      a waiting request (-DCANCELQ), or does not run.
 *   Configurations: the default (STRAND) has 3 registers, 1 and 2 cached on
 *   CPU 1 as two runs; -DORDER has 2 registers, 1 cached on CPU 1 (request 1
 *   waits for T0's free, so request 2 can come after it waits); -DGROW has 2
 *   registers, 1 cached, and request 1 needs the grown pool.  -DHANDOVER
 *   (with any but GROW): request 2 is handed its channel by channel_hand_to
 *   (core/lockfree/channel.c), whose claim is the submission's
 *   (take_registers), and a cancel may win the node at its move: after a
 *   claim, the run goes back by registers_return; after a raise, the raise
 *   is withdrawn with a round (registers_waiter_withdraw).  The cancel's
 *   own steps are cancel.pml's; here it is the move's failure, chosen by
 *   SPIN.  -DCANCELQ=n (not with GROW): T3 cancels request n if it waits
 *   for registers (lf_cancel: the node's CAS, then
 *   registers_waiter_withdraw), and the round drops a cancelled head and
 *   gives back the run of a grant that lost to the cancel; -DBIGHEAD with
 *   ORDER makes request 1 need 3 registers, so that it never fits and only
 *   its cancel lets request 2 be served.  -DLONE0 (not with GROW): T0
 *   alone on CPU 0, T1 and T2 on CPU 1, so that T0's sequence can stay
 *   open across both waiters' steps (a thread of its own CPU would have
 *   aborted it).  A granted
 *   routine answers DEALLOCATE_OBJECT_KEEP_REGISTERS, so what a waiter could
 *   have at the end is exactly what no caller holds.  T0 and T1 share CPU
 *   0's magazine: one finds the other inside it (the guard taken, or a
 *   sequence preempted).
 *
 * Abstractions: one bitmap word (no claim rolls back; every CPU's first-fit
 * hint is 0, as this_cpu_hint gives for so small a pool; no boundary, C30).
 * A first-fit claim tests and claims one candidate start per step (the CAS
 * decides), so a run freed behind the scan is missed, as in the code.  A
 * magazine holds at most 2 runs (LIMIT 2 registers; the code's quarter of
 * such a pool would be 0, so that magazines are used at all); a pop takes
 * the top run of its size (LIFO within a class).  Threads do not migrate.
 * The register queue's dequeue is one step (NULL, WOULDBLOCK or a node: its
 * interleavings are channel.pml's); its enqueue is two.  A cancel's own
 * steps (generations, unpublishing, the node's two owners) are
 * cancel.pml's; here only its effect on registers (-DHANDOVER, -DCANCELQ),
 * the node's state CAS as one step.  The untightening threshold is 1, not
 * 1024 doubled up to
 * 65536 (cache.c), so that untightening races too: a threshold only
 * delays it.  A restartable sequence is its loads (one step), then its single
 * committing store (one step), which writes what it computed from what it
 * read; it is aborted (and restarted) by an rseq fence and when the other
 * thread of its CPU begins a sequence (preemption; a preemption that runs
 * other code is not modelled as an abort, which only adds behaviours).  A
 * sequence is preempted at most PREEMPTIONS (2) times in a row: under an
 * adversary that preempts every sequence forever no rseq code progresses,
 * and the model would have a livelock that no scheduler produces.  Past
 * that bound the other thread of its CPU waits for the sequence to end
 * before it begins one of its own (until 2026-12-01 it began one beside
 * it, a behaviour no CPU has, through which SPIN first found the
 * withdrawn-waiter stranding; -DLONE0 finds it on a schedule a CPU has).
 *
 * Memory model: sequential consistency, plus a store buffer per thread
 * (C11's orders, as ARMv8 would run them; x86 is stronger here): a
 * regmap_release (fetch_and with release order, whose result nothing reads)
 * and a queue link store are buffered and may be seen by other threads only
 * after the thread's own later loads, until the thread's next seq_cst
 * fence, release-or-stronger read-modify-write or release store (guard_drop,
 * serve's counter, waiting_registers, `tight`, the tail exchange, node_move,
 * the drainer's unlock), its bitmap CAS, registers_return's seq_cst release
 * (regmap_release_sc), an rseq fence (membarrier: every CPU's buffer
 * drains), or a non-deterministic drain (process `memory`).  A
 * thread's own loads see its buffered clears.  Magazine contents are
 * immediate: they are written under the guard (or by a sequence) and read by
 * the next owner through the guard's acquire/release (or the fence).  On x86
 * regmap_release is a locked instruction, so MUTANT_NO_RETURN_FENCE is a bug
 * of the C11 (ARM) model only; the rseq code is x86-64 only, and its
 * sequences' plain loads are ordered as x86-TSO orders them, which the
 * sequential consistency of this model does not weaken.
 *
 * Mutations (each must be caught; see check.sh):
 *   MUTANT_SKIP_MAGAZINE    cache_drain skips the last CPU's magazine: a
 *                           waiter is stranded (C13).  Both implementations.
 *   MUTANT_SILENT_SKIP      guard_flush gives up on a taken guard without
 *                           asking for FLUSH_WANTED: stranded (C13).
 *   MUTANT_PUT_NO_RECHECK   guarded_put reports PUT_CACHED without re-reading
 *                           the waiters after its guard drop: stranded (C13).
 *   MUTANT_NO_RETURN_FENCE  registers_return's bitmap release with release
 *                           order and no fence before its read of
 *                           waiting_registers (the code: a seq_cst
 *                           fetch_and, or a fence after a flush), the
 *                           Dekker pair with wait_for_registers: lost
 *                           wake-up (C14).
 *   MUTANT_IGNORE_WAITERS   FAULT_REGISTER_OVERTAKE: a new request claims
 *                           registers while someone waits (C12).
 *   MUTANT_NO_WAITER_FENCE  (rseq) cache_waiter_arrives makes the pool tight
 *                           without fencing running puts: a put that read no
 *                           waiter commits after the round drained: C13.
 *   MUTANT_PUT_IGNORES_TIGHT (rseq) rseq_push does not read `tight`: a second
 *                           waiter, which does not fence, strands a put: C13.
 *   MUTANT_DRAIN_NO_FENCE   (rseq) the drainer locks and empties without the
 *                           fence: a sequence that read the lock free commits
 *                           over the drain: a register handed out twice.
 *   MUTANT_HEAD_SKIPS_QUEUE wait_for_registers, holding the role, makes its
 *                           node the head without looking at the queue: a
 *                           waiter queued before it is overtaken (C12).
 *   MUTANT_CANCEL_DROPS_RUN (-DHANDOVER) the run a hand-over claimed for a
 *                           node a cancel won goes to the bitmap, nobody
 *                           served: the waiter it fits is stranded (C13).
 *   MUTANT_WITHDRAW_NO_ROUND (-DHANDOVER -DRSEQ -DLONE0) the withdrawn
 *                           raise serves no round (the code before
 *                           2026-12-01): the first waiter of a tight
 *                           episode makes it tight and is preempted before
 *                           its fence; a second finds the pool tight, does
 *                           not fence, drains before a put on the other
 *                           CPU that read no waiter commits, and waits;
 *                           the first fences, withdraws, and nobody drains
 *                           the put: C13.
 *   MUTANT_CANCEL_NO_ROUND  (-DCANCELQ=1 -DBIGHEAD) lf_cancel withdraws the
 *                           head waiter without a round: the waiter
 *                           behind it fits and waits (C13).
 *   MUTANT_SERVE_PLAIN_COUNT serve's fetch_add does not drain the store
 *                           buffer (were it a plain increment): what the
 *                           round's omitted fence relies on (barrier.h):
 *                           the waiter's own round misses its link: C13/C14.
 *
 * Probes (REACH=n): 1 a drainer asks for FLUSH_WANTED; 2 a guard's holder
 * finds FLUSH_WANTED and flushes; 3 serve's CAS fails (asked meanwhile): it
 * serves again; 4 a claim's drain moved registers; 5 a put was flushed
 * again for a waiter; 6 a round's dequeue met WOULDBLOCK; 7 a head that does
 * not fit ends a round; 8 a round grants a waiter; 9 a submission finds a
 * waiter and does not claim (reached, but deep: not in check.sh; the
 * MUTANT_IGNORE_WAITERS trail shows it); 10 a grant needs the grown pool;
 * 11 a waiter makes the pool tight and fences (rseq); 12 a sequence is
 * aborted (rseq); 13 a refused put untightens the pool (rseq); 14 a waiter
 * takes the idle serving role and becomes the head without the queue; 15 a
 * cancel wins a node after its hand-over claim (-DHANDOVER); 16 a cancel
 * wins it after its raise (-DHANDOVER); 17 a round drops a cancelled head
 * (-DCANCELQ); 18 a round's grant loses to a cancel (-DCANCELQ).
 */

#define NTHR	4
#define NREQ	2
#define NCPU	2
#define LIMIT	2		/* registers a magazine may hold */
#define BIT(r)	(1 << (r))
#define NONE	255		/* REGMAP_NONE */

#ifndef LONE0
#define CPU(t)	((t) / 2)	/* T0, T1 on CPU 0; T2, T3 on CPU 1 */
#else
#define CPU(t)	((t) == 0 -> 0 : 1)	/* T0 alone on CPU 0; T1, T2 on CPU 1 */
#endif

/* enum node_state */
#define NS_NONE		0
#define NS_WAIT_REGISTERS 2
#define NS_GRANTED	3
#define NS_DONE		5
#define NS_CANCELLED	6	/* -DHANDOVER, -DCANCELQ: a cancel won the node */

/* enum guard_state */
#define GUARD_FREE	0
#define GUARD_TAKEN	1
#define GUARD_FLUSH_WANTED 2

/* cds_wfcq as in channel.pml: node 0 is the head's own, link 0 is NULL. */
#define NIL		0
#define HEADN		0
#define WOULDBLOCK	255

byte size;			/* map->registers */
byte bits;			/* the bitmap (init sets both) */
byte guard[NCPU];
/* Magazine slots: CPU c's are 2c (bottom) and 2c + 1 (top); n 0: empty. */
byte magf[2 * NCPU];		/* a cached run's first register ... */
byte magn[2 * NCPU];		/* ... and count */
#define CACHED(c)	(magn[2 * (c)] + magn[2 * (c) + 1])	/* cache->cached */
byte waiting;			/* waiting_registers */
byte serve_req;			/* serve_requests */
byte register_head;
byte rqnext[NREQ + 1];
byte rqtail;
byte nstate[NREQ + 1];
byte nregs[NREQ + 1];
byte nbase[NREQ + 1];

/*
 * The rseq magazines (-DRSEQ): the drainers' lock words, `tight` (odd: puts
 * refused, waiters need no fence), the refused-put hints, and who is inside
 * a restartable sequence, and whether it was aborted.
 */
byte lockm[NCPU];
byte tight;
byte refusedc[NCPU];
bool insec[NTHR];
bool abrt[NTHR];
byte restarts[NTHR];		/* of the current sequence */
#define PREEMPTIONS	2	/* a sequence is preempted at most this often */
#define UNTIGHTEN	1	/* untighten_after is 1024..65536: 1 lets SPIN untighten */

/* Store buffers: pending bitmap clears, and one pending queue link. */
byte sbm[NTHR];
bool sblf[NTHR];
byte sbla[NTHR];
byte sblv[NTHR];

/* Ghost state. */
byte held = 1;			/* registers held by callers (or being granted) */
byte returned_w;		/* waiters whose submission returned */
byte granted;
byte before[NREQ + 1];
byte enq_order[NREQ + 1];
byte enq_count;
byte finished;

#define VIOLATION(msg)	printf(msg); assert(false)
#define CHECK(c, msg)	if :: !(c) -> VIOLATION(msg) :: else -> skip fi
#define COVER(n)	assert(reach == 0 || reach != (n))
/*
 * Termination.  Two loops wait on other threads' progress: cache_flush's
 * retries (a guard let go between its two tries) and a sequence's restarts
 * (an abort); each counts and asserts a bound.  Every other loop ends by a
 * finite resource: a scan by its position, a round by its grants (each
 * iteration grants a node or ends the round), serve's loop by the finitely
 * many requests for rounds the finitely many calls make, the trampoline by
 * its list, `memory` by the stores the threads buffered.  So every
 * execution is finite, and `timeout` in init is reached on all of them.
 */
#define BOUND		12
#define LOOP(cnt)	cnt++; CHECK(cnt <= BOUND, "VIOLATION: a loop runs unbounded (livelock)\n")
hidden byte reach_env;
c_code { \#include <stdlib.h> }

#define RUN(first, n)	(((1 << (n)) - 1) << (first))

inline flush_all(t) {
	bits = bits & ~sbm[t]; sbm[t] = 0;
	if
	:: sblf[t] -> rqnext[sbla[t]] = sblv[t]; sblf[t] = false; sbla[t] = 0; sblv[t] = 0
	:: else -> skip
	fi
}
inline drain(t) {
	if :: sbm[t] != 0 || sblf[t] -> flush_all(t) :: else -> skip fi
}
#define PENDING(t)	(sbm[t] != 0 || sblf[t])
#define LD_BITS(t)	(bits & ~sbm[t])
#define LD_RQ(t, n)	((sblf[t] && sbla[t] == (n)) -> sblv[t] : rqnext[n])

inline fence(t) {
	atomic { drain(t) }
}

/*
 * rseq_fence: membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED_RSEQ).  Every
 * restartable sequence running or preempted is aborted, and every CPU that
 * runs a thread of ours passes a full barrier: every store buffer drains.
 */
inline rseq_fence() {
	atomic {
		abrt[0] = abrt[0] || insec[0]; abrt[1] = abrt[1] || insec[1];
		abrt[2] = abrt[2] || insec[2]; abrt[3] = abrt[3] || insec[3];
		flush_all(0); flush_all(1); flush_all(2); flush_all(3);
		printf("EV   rseq fence\n")
	}
}

/*
 * A restartable sequence begins on this thread's CPU: the other thread of
 * the same CPU, if inside one, was preempted by us: it is aborted.
 */
#ifndef LONE0
#define PARTNER(t)	((t) ^ 1)
#else
#define PARTNER(t)	(3 - (t))	/* T1 and T2; T0's is T3, which does not run */
#endif
/* A sequence reads its magazine (the state word and the runs) ... */
#define SNAPSHOT(c)	s0f = magf[2 * (c)]; s0n = magn[2 * (c)]; \
			s1f = magf[2 * (c) + 1]; s1n = magn[2 * (c) + 1]
/* ... and commits what it computed from that view, with one store. */
#define COMMIT(c, f0, n0, f1, n1) magf[2 * (c)] = f0; magn[2 * (c)] = n0; \
			magf[2 * (c) + 1] = f1; magn[2 * (c) + 1] = n1
/*
 * Past the bound the partner is not preempted any more: a thread of its
 * CPU cannot run until the partner's sequence ends (two open sequences on
 * one CPU are no behaviour of the code, and they once made SPIN find a
 * stranding this way that it then found on a real schedule too, -DLONE0).
 */
#define SEQ_MAY_BEGIN(t)	(!insec[PARTNER(t)] || restarts[PARTNER(t)] < PREEMPTIONS)
inline rseq_begin(t) {
	insec[t] = true; abrt[t] = false;
	if
	:: insec[PARTNER(t)] && restarts[PARTNER(t)] < PREEMPTIONS -> abrt[PARTNER(t)] = true
	:: else -> skip
	fi
}

/* regmap_release as a release-order fetch_and: into the store buffer. */
inline regmap_release(t, first, n) {
	atomic {
		assert((LD_BITS(t) & RUN(first, n)) == RUN(first, n));
		sbm[t] = sbm[t] | RUN(first, n);
		printf("EV   T%d releases registers %d+%d to the bitmap (buffered)\n", t, first, n)
	}
}

/*
 * regmap_release as the code makes it, a seq_cst fetch_and: it drains the
 * thread's buffer and clears the bits in memory, in one step.  Followed by
 * registers_return's seq_cst read of waiting_registers, it is the freer's
 * half of the Dekker pair with wait_for_registers, with no fence between.
 */
inline regmap_release_sc(t, first, n) {
	atomic {
		drain(t);
		assert((bits & RUN(first, n)) == RUN(first, n));
		bits = bits & ~RUN(first, n);
		printf("EV   T%d releases registers %d+%d to the bitmap (seq_cst)\n", t, first, n)
	}
}

/* registers_return's release of a refused run (MUTANT_NO_RETURN_FENCE: release order). */
#ifdef MUTANT_NO_RETURN_FENCE
#define RETURN_RELEASE(t, first, n)	regmap_release(t, first, n)
#else
#define RETURN_RELEASE(t, first, n)	regmap_release_sc(t, first, n)
#endif

active proctype memory()
{
end:	do
	:: atomic { PENDING(0) -> flush_all(0) }
	:: atomic { PENDING(1) -> flush_all(1) }
	:: atomic { PENDING(2) -> flush_all(2) }
	:: atomic { PENDING(3) -> flush_all(3) }
	od
}

/*
 * A run is claimed (bitmap CAS or magazine hit) for request `req` (0: for
 * the round's head).  C12: a new request takes nothing while a waiter whose
 * submission returned before it began still waits.
 */
inline ghost_claim(first, n, req) {
	CHECK((held & RUN(first, n)) == 0, "VIOLATION: a register is handed out twice\n");
	held = held | RUN(first, n);
	if
	:: req != 0 ->
		CHECK((before[req] & ~granted) == 0,
		      "VIOLATION: C12: a new request took registers while a waiter waits\n")
	:: else -> skip
	fi
}

/* The round grants node r: every older waiter must have been granted. */
#define OLDER_WAITS(q, r)	(enq_order[q] != 0 && enq_order[q] < enq_order[r] && \
				 (granted & BIT(q)) == 0)
inline ghost_grant(r) {
	CHECK(!(OLDER_WAITS(1, r) || OLDER_WAITS(2, r)),
	      "VIOLATION: C12: a waiter was granted before an older one\n");
	granted = granted | BIT(r);
	printf("EV   request %d is granted registers %d+%d\n", r, nbase[r], nregs[r])
}

/* Return codes of the labelled functions in worker (see channel.pml). */
#define R_SUBMIT	1
#define R_ROUND		2
#define R_RETURN	3
#define R_TAKE		4
#define R_PUT		5
#define R_CLAIM		6
#define R_WAIT		7
#define R_GROW		8
#define R_T0		9
#define R_RP		10
#define R_SUBCLAIM	11
#define R_HAND		12
#define R_WITHDRAW	13
#define R_CANCEL	14

proctype worker(byte t; byte reach)
{
	byte cpu = CPU(t);
	/* registers_claim: count, for whom, the map's size; result and drain */
	byte cl_n, cl_req, cl_size, cl_first, cl_moved, cl_c, cl_drained;
	bool cl_inround, cl_serve;
	/* cache_take / cache_put */
	byte ck_c, ck_first, ck_n, ck_moved;
	bool ck_ok, took;
	/* cache_flush */
	byte cf_c, cf_moved, g_old;
	bool cf_done;
	/* registers_return */
	byte rt_first, rt_n;
	/* serve, serve_register_waiters, the queue */
	byte asked, rmap, head, q, nx, prev, p;
	byte tl, sel, ut, locked;		/* rseq */
	byte s0f, s0n, s1f, s1n;		/* a sequence's view of its magazine */
	bool last, done, lost;
	byte lf;				/* cache_flush's tries */
	/* the trampoline, the submission */
	byte pend0, pend1, cur, sr, sfirst;
	/* return codes */
	byte ret_claim, ret_ck, ret_cf, ret_rt, ret_srv, ret_rp;

	if
	:: t == 0 ->
		/* mapreg_free_map_registers(register 0): registers_return */
		atomic { rt_first = 0; rt_n = 1; ret_rt = R_T0 }; goto RETURN;
RT_T0:		ret_rp = R_T0; goto RUN_PENDING;
RP_T0:		skip
	:: t == 1 || t == 2 ->
		atomic {
			sr = t;			/* request 1 (T1) or 2 (T2) */
			before[sr] = returned_w & ~granted;
			printf("EV   T%d submits request %d for %d registers\n", t, sr, nregs[sr])
		}
		/* lf_submit, holding the channel: claim unless someone waits (C12) */
		if
#ifndef MUTANT_IGNORE_WAITERS
		:: waiting == 0 ->
#else
		:: true ->
#endif
			atomic { cl_n = nregs[sr]; cl_req = sr; cl_size = size; cl_inround = false };
			ret_claim = R_SUBMIT; goto CLAIM;
CL_SUBMIT:		atomic { sfirst = cl_first; cl_first = 0 };
			if
			:: cl_serve -> atomic { cl_serve = false; ret_srv = R_SUBCLAIM }; goto SERVE;
SV_SUBCLAIM:			skip
			:: else -> skip
			fi
		:: else -> sfirst = NONE; COVER(9)
		fi;
		if
#ifdef HANDOVER
		/*
		 * channel_hand_to (cc760df): request 2 is the head of its
		 * adapter's channel queue, and its claim above was the
		 * releaser's take_registers.  node_move(WAIT_CHANNEL ->
		 * GRANTED) may lose to a cancel that won the node meanwhile:
		 * the releaser then gives the run back as any free does.
		 */
		:: sfirst != NONE && sr == 2 ->
			atomic { nstate[sr] = NS_CANCELLED; COVER(15) };
#ifndef MUTANT_CANCEL_DROPS_RUN
			atomic { rt_first = sfirst; rt_n = nregs[sr]; ret_rt = R_HAND }; goto RETURN;
RT_HAND:		skip
#else
			atomic { held = held & ~RUN(sfirst, nregs[sr]) };
			regmap_release_sc(t, sfirst, nregs[sr])	/* to the bitmap, nobody served */
#endif
#endif
		:: sfirst != NONE ->		/* granted at submission: the routine runs */
			atomic {
				nbase[sr] = sfirst; nstate[sr] = NS_GRANTED;
				granted = granted | BIT(sr);
				assert(pend1 == 0); pend1 = pend0; pend0 = sr	/* runs first */
			}
		:: else ->			/* submit_queued, holding the channel */
			/* registers_waiter_raise: seq_cst, then cache_waiter_arrives */
			atomic {
				drain(t); nstate[sr] = NS_WAIT_REGISTERS; waiting++;
				printf("EV   T%d raises waiting_registers for request %d\n", t, sr)
			};
#ifdef RSEQ
			atomic { tl = tight };		/* seq_cst load */
			do
			:: (tl & 1) != 0 ->		/* tight already: no fence */
				printf("EV   T%d finds the pool tight: no fence\n", t); break
			:: else ->
				atomic {
					drain(t);
					if
					:: tight == tl -> tight = tl + 1; done = true;
						printf("EV   T%d makes the pool tight\n", t)
					:: else -> tl = tight; done = false
					fi
				}
				if
				:: done ->
#ifndef MUTANT_NO_WAITER_FENCE
					rseq_fence();	/* puts that read it clear: over */
#endif
					COVER(11); break
				:: else -> skip
				fi
			od;
			atomic { tl = 0; done = false };
#endif
#ifdef HANDOVER
			/*
			 * channel_hand_to, nothing claimed: the waiter was raised
			 * before node_move(WAIT_CHANNEL -> WAIT_REGISTERS), which a
			 * cancel may win; the node never queues for registers and
			 * the raise is withdrawn (registers_waiter_withdraw: a
			 * relaxed fetch_sub, then a round).  The round is owed:
			 * with rseq, a put that read no waiter before this raise's
			 * fence is drained by no one else, when a second waiter
			 * found the pool tight and did not fence.
			 */
			if
			:: sr == 2 ->
				atomic {
					nstate[sr] = NS_CANCELLED; waiting--; COVER(16);
					printf("EV   a cancel wins request 2 after its waiter was raised\n")
				}
#ifndef MUTANT_WITHDRAW_NO_ROUND
				ret_srv = R_WITHDRAW; goto SERVE;
SV_WITHDRAW:			skip;
#endif
				goto HAND_CANCELLED
			:: true -> skip		/* or the move wins: it waits */
			fi;
#endif
			/*
			 * wait_for_registers: the idle serving role first (a
			 * relaxed load, then a CAS from 0); holding it, the node
			 * becomes the head at once if nobody is queued (no head,
			 * cds_wfcq_empty: the head's link, then the tail).  Else
			 * (or the role busy) enqueue, then serve, with no fence
			 * between: serve's fetch_add drains the link's store.
			 */
			if
			:: serve_req == 0 ->
				atomic {
					drain(t);
					if
					:: serve_req == 0 -> serve_req = 1; done = true
					:: else -> done = false
					fi
				}
			:: else -> done = false
			fi;
			if
			:: done ->
				done = false;
				q = rqnext[HEADN];
				/*
				 * The tail's load is where the node takes its place:
				 * an enqueuer's exchange after it comes after us, so
				 * the ghost order is taken there.  register_head is
				 * the server's, written after.
				 */
				atomic {
#ifndef MUTANT_HEAD_SKIPS_QUEUE
					done = register_head == 0 && q == NIL && rqtail == HEADN;
#else
					done = register_head == 0;
#endif
					if
					:: done -> enq_count++; enq_order[sr] = enq_count
					:: else -> skip
					fi
				}
				if
				:: done ->
					atomic { register_head = sr; q = 0; done = false; COVER(14) }
				:: else ->
					q = 0;
					atomic {
						drain(t);
						prev = rqtail; rqtail = sr;
						enq_count++; enq_order[sr] = enq_count
					}
					atomic { sbla[t] = prev; sblv[t] = sr; sblf[t] = true }
				fi;
				ret_srv = R_WAIT; goto SERVE_HOLDING
			:: else ->
				atomic {
					drain(t);
					prev = rqtail; rqtail = sr;
					enq_count++; enq_order[sr] = enq_count
				}
				atomic { sbla[t] = prev; sblv[t] = sr; sblf[t] = true };
				ret_srv = R_WAIT; goto SERVE
			fi;
SV_WAIT:		prev = 0
		fi;
HAND_CANCELLED:
		ret_rp = R_SUBMIT; goto RUN_PENDING;
RP_SUBMIT:	atomic {
			/* a cancelled request waits for nothing: not a waiter of C12's */
			if
			:: nstate[sr] != NS_CANCELLED -> returned_w = returned_w | BIT(sr)
			:: else -> skip
			fi;
			sfirst = 0;
			printf("EV   T%d's submission of request %d returns\n", t, sr)
		}
	:: t == 3 ->
#ifdef CANCELQ
		/*
		 * lf_cancel of request CANCELQ while it waits for registers: the
		 * node's CAS WAIT_REGISTERS -> CANCELLED, then the withdrawal
		 * (registers_waiter_withdraw: fetch_sub, then a round).  The
		 * ghost counts it with the granted: it waits for nothing (C12).
		 */
		atomic {
			drain(t);
			if
			:: nstate[CANCELQ] == NS_WAIT_REGISTERS ->
				nstate[CANCELQ] = NS_CANCELLED; granted = granted | BIT(CANCELQ);
				done = true;
				printf("EV   T3 cancels request %d, waiting for registers\n", CANCELQ)
			:: else -> done = false
			fi
		}
		if
		:: done ->
			atomic { done = false; waiting-- };
#ifndef MUTANT_CANCEL_NO_ROUND
			ret_srv = R_CANCEL; goto SERVE;
#endif
SV_CANCEL:		skip
		:: else -> skip
		fi;
		ret_rp = R_GROW; goto RUN_PENDING;
SV_GROW:	skip		/* not reached: no grow here */
#else
		/* lf_pool_grow: publish the larger map (release), then serve (C25) */
		atomic { drain(t); size = 3; printf("EV   T3 grows the pool to 3\n") };
		ret_srv = R_GROW; goto SERVE;
SV_GROW:	ret_rp = R_GROW; goto RUN_PENDING;
#endif
RP_GROW:	skip
	fi;
	finished++;
	goto DONE;

/*
 * Runs this thread's grants.  Each routine answers
 * DEALLOCATE_OBJECT_KEEP_REGISTERS: its caller keeps the registers to the
 * end, so that what a waiter could have is exactly what no caller holds.
 */
RUN_PENDING:
	do
	:: pend0 != 0 ->
		atomic {
			cur = pend0; pend0 = pend1; pend1 = 0;
			nstate[cur] = NS_DONE;
			printf("EV   T%d runs request %d's routine\n", t, cur);
			cur = 0
		}
	:: else -> break
	od;
	if
	:: ret_rp == R_T0 -> ret_rp = 0; goto RP_T0
	:: ret_rp == R_SUBMIT -> ret_rp = 0; goto RP_SUBMIT
	:: ret_rp == R_GROW -> ret_rp = 0; goto RP_GROW
	fi;

/* registers_return(rt_first, rt_n) on this CPU. */
RETURN:
	atomic {
		assert((held & RUN(rt_first, rt_n)) == RUN(rt_first, rt_n));
		held = held & ~RUN(rt_first, rt_n);
		printf("EV   T%d returns registers %d+%d\n", t, rt_first, rt_n)
	}
#ifdef RSEQ
	/* cache_put -> rseq_put: PUT_CACHED returns at once, no fence */
	atomic { ck_c = cpu; ck_first = rt_first; ck_n = rt_n }; goto RS_PUT;
RS_PUT_DONE:
	if
	:: ck_ok -> goto RETURN_END
	:: else -> RETURN_RELEASE(t, rt_first, rt_n)
	fi;
#else
	/* cache_put -> guarded_put: refused at once if anyone waits */
	if
	:: waiting == 0 ->
		atomic { ck_c = cpu; ck_first = rt_first; ck_n = rt_n; ret_ck = R_PUT }; goto CACHE_PUT;
CK_PUT:		if
		:: ck_ok ->
			/* kept: a waiter that drained us meanwhile is seen now */
#ifdef MUTANT_PUT_NO_RECHECK
			if :: ck_moved == 0 -> goto RETURN_END :: else -> skip fi;
#else
			if :: ck_moved == 0 && waiting == 0 -> goto RETURN_END :: else -> skip fi;
#endif
			COVER(5);
			atomic { cf_c = cpu; ret_cf = R_RETURN }; goto CACHE_FLUSH;
CF_RETURN:		cf_moved = 0;
#ifndef MUTANT_NO_RETURN_FENCE
			fence(t)	/* flushed: pairs with wait_for_registers */
#endif
		:: else -> RETURN_RELEASE(t, rt_first, rt_n)
		fi
	:: else -> RETURN_RELEASE(t, rt_first, rt_n)
	fi;
#endif
	if
	:: waiting > 0 -> ret_srv = R_RETURN; goto SERVE;
SV_RETURN:	skip
	:: else -> skip
	fi;
RETURN_END:
	atomic {
		ck_c = 0; ck_first = 0; ck_n = 0; ck_moved = 0; ck_ok = false;
		rt_first = 0; rt_n = 0;
	if
	:: ret_rt == R_T0 -> ret_rt = 0; goto RT_T0
#if defined(HANDOVER) && !defined(MUTANT_CANCEL_DROPS_RUN)
	:: ret_rt == R_HAND -> ret_rt = 0; goto RT_HAND
#endif
	fi
	};

/*
 * registers_claim(cl_n) for cl_req (0: the round's head), map size cl_size:
 * own magazine, the bitmap, the bitmap after draining every magazine.
 * cl_serve: it would call serve() now (the caller does, at once).
 */
CLAIM:
	atomic { cl_first = NONE; cl_moved = 0; ck_c = cpu; ck_n = cl_n; ret_ck = R_TAKE };
#ifdef RSEQ
	goto RS_TAKE;
#else
	goto CACHE_TAKE;
#endif
CK_TAKE:
	atomic {
		cl_moved = ck_moved;
		if :: ck_ok -> cl_first = ck_first :: else -> skip fi;
		ck_c = 0; ck_n = 0; ck_first = 0; ck_moved = 0
	};
	if
	:: !ck_ok ->
		/* regmap_claim: first fit, one candidate start per step */
		p = 0;
		do
		:: p + cl_n > cl_size -> break
		:: else ->
			atomic {
				drain(t);
				if
				:: (bits & RUN(p, cl_n)) == 0 ->
					bits = bits | RUN(p, cl_n); cl_first = p;
					ghost_claim(p, cl_n, cl_req)
				:: else -> skip
				fi;
				p++
			}
			if :: cl_first != NONE -> break :: else -> skip fi
		od;
		if
		:: cl_first == NONE ->
			/* cache_drain: every magazine, then the bitmap again */
#ifdef RSEQ
			goto RS_DRAIN;
RS_DRAINED:		atomic { cl_drained = cf_moved; cl_moved = cl_moved + cf_moved; cf_moved = 0 };
#else
			cl_c = 0;
			do
#ifdef MUTANT_SKIP_MAGAZINE
			:: cl_c == NCPU - 1 -> break
#else
			:: cl_c == NCPU -> break
#endif
			:: else ->
				atomic { cf_c = cl_c; ret_cf = R_CLAIM }; goto CACHE_FLUSH;
CF_CLAIM:			atomic {
					cl_drained = cl_drained + cf_moved;
					cl_moved = cl_moved + cf_moved; cf_moved = 0; cl_c++
				}
			od;
#endif
			/* the bitmap again, if the drain gave it something */
			p = 0;
			do
			:: p + cl_n > cl_size || cl_drained == 0 -> break
			:: else ->
				atomic {
					drain(t);
					if
					:: (bits & RUN(p, cl_n)) == 0 ->
						bits = bits | RUN(p, cl_n); cl_first = p;
						ghost_claim(p, cl_n, cl_req)
					:: else -> skip
					fi;
					p++
				}
				if :: cl_first != NONE -> break :: else -> skip fi
			od
		:: else -> skip
		fi
	:: else -> skip
	fi;
	atomic {
		p = 0; cl_c = 0; ck_ok = false; cl_n = 0; cl_req = 0; cl_size = 0;
		cl_inround = false; cl_drained = 0
	};
	if
	:: cl_moved != 0 ->
		COVER(4);
		fence(t);
		atomic { cl_serve = (waiting > 0); cl_moved = 0 }
	:: else -> cl_serve = false
	fi;
	if
	:: ret_claim == R_SUBMIT -> ret_claim = 0; goto CL_SUBMIT
	:: ret_claim == R_ROUND -> ret_claim = 0; goto CL_ROUND
	fi;

#ifndef RSEQ
/* The guard fallback (cache.c: guarded_take, guarded_put, guard_flush). */

/* cache_take(ck_c, ck_n): ck_ok (hit), ck_first; ck_moved: a flush it did. */
CACHE_TAKE:
	atomic {
		/* guard_take (CAS, acquire), and what the holder does meanwhile */
		ck_ok = false; ck_moved = 0;
		took = (guard[ck_c] == GUARD_FREE);
		if
		:: took ->
			guard[ck_c] = GUARD_TAKEN;
			if
			:: magn[2 * ck_c + 1] == ck_n ->	/* the top run: LIFO */
				ck_ok = true; ck_first = magf[2 * ck_c + 1];
				magn[2 * ck_c + 1] = 0; magf[2 * ck_c + 1] = 0;
				ghost_claim(ck_first, ck_n, cl_req);
				printf("EV   T%d takes registers %d+%d from CPU %d's magazine\n",
				       t, ck_first, ck_n, ck_c)
			:: magn[2 * ck_c + 1] != ck_n && magn[2 * ck_c] == ck_n ->
				ck_ok = true; ck_first = magf[2 * ck_c];
				magn[2 * ck_c] = magn[2 * ck_c + 1]; magf[2 * ck_c] = magf[2 * ck_c + 1];
				magn[2 * ck_c + 1] = 0; magf[2 * ck_c + 1] = 0;
				ghost_claim(ck_first, ck_n, cl_req);
				printf("EV   T%d takes registers %d+%d from CPU %d's magazine\n",
				       t, ck_first, ck_n, ck_c)
			:: else -> skip
			fi
		:: else -> skip
		fi
	}
	if
	:: took -> goto GUARD_DROP
	:: else -> goto CK_END
	fi;

/* cache_put(ck_c, ck_first, ck_n): ck_ok (kept); ck_moved. */
CACHE_PUT:
	atomic {
		ck_ok = false; ck_moved = 0;
		took = (guard[ck_c] == GUARD_FREE);
		if
		:: took ->
			guard[ck_c] = GUARD_TAKEN;
			if
			:: magn[2 * ck_c + 1] == 0 && CACHED(ck_c) + ck_n <= LIMIT ->
				ck_ok = true;
				if
				:: magn[2 * ck_c] == 0 ->
					magf[2 * ck_c] = ck_first; magn[2 * ck_c] = ck_n
				:: else ->
					magf[2 * ck_c + 1] = ck_first; magn[2 * ck_c + 1] = ck_n
				fi;
				printf("EV   T%d puts registers %d+%d in CPU %d's magazine\n",
				       t, ck_first, ck_n, ck_c)
			:: else -> skip
			fi
		:: else -> skip
		fi
	}
	if
	:: took -> goto GUARD_DROP
	:: else -> goto CK_END
	fi;

/* guard_drop_and_flush: an exchange; FLUSH_WANTED: flush now. */
GUARD_DROP:
	atomic { drain(t); g_old = guard[ck_c]; guard[ck_c] = GUARD_FREE };
	if
	:: g_old == GUARD_FLUSH_WANTED ->
		COVER(2);
		atomic { g_old = 0; cf_c = ck_c; ret_cf = R_TAKE }; goto CACHE_FLUSH;
CF_TAKE:	atomic { ck_moved = cf_moved; cf_moved = 0 }
	:: else -> skip
	fi;
CK_END:
	atomic {
		took = false; g_old = 0;
	if
	:: ret_ck == R_TAKE -> ret_ck = 0; goto CK_TAKE
	:: ret_ck == R_PUT -> ret_ck = 0; goto CK_PUT
	fi
	};

/* cache_flush(cf_c): cf_moved; or asks the guard's holder to flush. */
CACHE_FLUSH:
	do
	:: atomic {
		LOOP(lf);
		/* guard_take, then flush_held: the runs back to the bitmap */
		took = (guard[cf_c] == GUARD_FREE);
		if
		:: took ->
			guard[cf_c] = GUARD_TAKEN;
			cf_moved = CACHED(cf_c);
			if
			:: magn[2 * cf_c] != 0 ->
				regmap_release(t, magf[2 * cf_c], magn[2 * cf_c]);
				magn[2 * cf_c] = 0; magf[2 * cf_c] = 0
			:: else -> skip
			fi;
			if
			:: magn[2 * cf_c + 1] != 0 ->
				regmap_release(t, magf[2 * cf_c + 1], magn[2 * cf_c + 1]);
				magn[2 * cf_c + 1] = 0; magf[2 * cf_c + 1] = 0
			:: else -> skip
			fi
		:: else -> skip
		fi
	   }
		if
		:: took ->
			atomic { drain(t); guard[cf_c] = GUARD_FREE };	/* guard_drop */
			break
		:: else ->
			atomic {
#ifdef MUTANT_SILENT_SKIP
				cf_done = true;
#else
				cf_done = false;
				if
				:: guard[cf_c] == GUARD_TAKEN ->
					guard[cf_c] = GUARD_FLUSH_WANTED; cf_done = true; COVER(1)
				:: guard[cf_c] == GUARD_FLUSH_WANTED -> cf_done = true
				:: else -> skip		/* let go meanwhile: again */
				fi;
#endif
				if :: cf_done -> cf_moved = 0 :: else -> skip fi
			}
			if :: cf_done -> break :: else -> skip fi
		fi
	od;
	atomic {
		took = false; cf_done = false; lf = 0; cf_c = 0;
	if
	:: ret_cf == R_CLAIM -> ret_cf = 0; goto CF_CLAIM
	:: ret_cf == R_TAKE -> ret_cf = 0; goto CF_TAKE
	:: ret_cf == R_RETURN -> ret_cf = 0; goto CF_RETURN
	fi
	};

#endif

#ifdef RSEQ
/*
 * rseq_take -> rseq_pop on this CPU's magazine: a restartable sequence
 * (its loads, then one committing store): ck_ok, ck_first.  A drainer's
 * lock makes it a miss; an abort restarts it.
 */
RS_TAKE:
	atomic {
		SEQ_MAY_BEGIN(t) -> ck_ok = false; ck_moved = 0;
		rseq_begin(t);
		SNAPSHOT(ck_c);
		if
		:: lockm[ck_c] != 0 -> sel = NONE
		:: lockm[ck_c] == 0 && magn[2 * ck_c + 1] == ck_n -> sel = 2 * ck_c + 1
		:: lockm[ck_c] == 0 && magn[2 * ck_c + 1] != ck_n && magn[2 * ck_c] == ck_n ->
			sel = 2 * ck_c
		:: else -> sel = NONE
		fi;
		if :: sel == NONE -> insec[t] = false; s0f = 0; s0n = 0; s1f = 0; s1n = 0 :: else -> skip fi
	}
	if
	:: sel != NONE ->
		atomic {				/* the commit: one store */
			if
			:: abrt[t] -> done = true; COVER(12)	/* aborted: again */
			:: else ->
				/* the state word and the run, as the sequence read them */
				done = false; ck_ok = true;
				if
				:: sel == 2 * ck_c ->
					ck_first = s0f; COMMIT(ck_c, s1f, s1n, 0, 0)
				:: else -> ck_first = s1f; COMMIT(ck_c, s0f, s0n, 0, 0)
				fi;
				ghost_claim(ck_first, ck_n, cl_req);
				printf("EV   T%d pops registers %d+%d from CPU %d's magazine\n",
				       t, ck_first, ck_n, ck_c)
			fi;
			insec[t] = false; abrt[t] = false; sel = 0;
			s0f = 0; s0n = 0; s1f = 0; s1n = 0
		}
		if
		:: done -> atomic { done = false; LOOP(restarts[t]) }; goto RS_TAKE
		:: else -> skip
		fi
	:: else -> skip
	fi;
	atomic { sel = 0; ret_ck = 0; restarts[t] = 0; goto CK_TAKE };

/*
 * rseq_put -> rseq_push: kept (ck_ok) only if the drainers' lock is free,
 * the pool is not tight, nobody waits, and it has room; then untighten.
 */
RS_PUT:
	atomic {
		SEQ_MAY_BEGIN(t) -> ck_ok = false; ck_moved = 0;
		rseq_begin(t);
		SNAPSHOT(ck_c);
		ck_ok = lockm[ck_c] == 0 &&
#ifndef MUTANT_PUT_IGNORES_TIGHT
			(tight & 1) == 0 &&
#endif
			waiting == 0 && s1n == 0 && s0n + ck_n <= LIMIT;
		if :: !ck_ok -> insec[t] = false; s0f = 0; s0n = 0; s1f = 0; s1n = 0 :: else -> skip fi
	}
	if
	:: ck_ok ->
		atomic {				/* the commit */
			if
			:: abrt[t] -> done = true; COVER(12)
			:: else ->
				done = false;
				if
				:: s0n == 0 -> COMMIT(ck_c, ck_first, ck_n, 0, 0)
				:: else -> COMMIT(ck_c, s0f, s0n, ck_first, ck_n)
				fi;
				printf("EV   T%d pushes registers %d+%d on CPU %d's magazine\n",
				       t, ck_first, ck_n, ck_c)
			fi;
			insec[t] = false; abrt[t] = false;
			s0f = 0; s0n = 0; s1f = 0; s1n = 0
		}
		if
		:: done -> atomic { done = false; ck_ok = false; LOOP(restarts[t]) }; goto RS_PUT
		:: else -> skip
		fi
	:: else ->
		/* untighten: a refused put, tight and nobody waiting, counts */
		atomic { ut = tight };
		if
		:: (ut & 1) != 0 && waiting == 0 ->
			atomic {
				refusedc[ck_c] = refusedc[ck_c] + 1;
				done = (refusedc[ck_c] >= UNTIGHTEN);
				if :: done -> refusedc[ck_c] = 0 :: else -> skip fi
			}
			if
			:: done ->
				atomic {		/* CAS, seq_cst */
					drain(t);
					if
					:: tight == ut -> tight = ut + 1; COVER(13);
						printf("EV   T%d untightens the pool\n", t)
					:: else -> skip
					fi;
					done = false
				}
			:: else -> skip
			fi
		:: else -> skip
		fi;
		ut = 0
	fi;
	atomic { restarts[t] = 0; goto RS_PUT_DONE };

/*
 * cache_drain -> rseq_drain_some: lock the magazines that hold something
 * (a relaxed look, then a CAS), fence running sequences, empty them, unlock.
 */
RS_DRAIN:
	atomic { locked = 0; cf_moved = 0; cl_c = 0 };
	do
#ifdef MUTANT_SKIP_MAGAZINE
	:: cl_c == NCPU - 1 -> break
#else
	:: cl_c == NCPU -> break
#endif
	:: else ->
		if
		:: CACHED(cl_c) != 0 ->
			atomic {			/* CAS(lock, 0, 1), relaxed */
				if
				:: lockm[cl_c] == 0 -> lockm[cl_c] = 1; locked = locked | BIT(cl_c)
				:: else -> skip
				fi
			}
		:: else -> skip				/* empty: left alone */
		fi;
		cl_c++
	od;
	if
	:: locked != 0 ->
#ifndef MUTANT_DRAIN_NO_FENCE
		rseq_fence();
#endif
		cl_c = 0;
		do
		:: cl_c == NCPU -> break
		:: else ->
			if
			:: (locked & BIT(cl_c)) != 0 ->
				atomic {		/* flush_owned */
					cf_moved = cf_moved + CACHED(cl_c);
					if
					:: magn[2 * cl_c] != 0 ->
						regmap_release(t, magf[2 * cl_c], magn[2 * cl_c]);
						magn[2 * cl_c] = 0; magf[2 * cl_c] = 0
					:: else -> skip
					fi;
					if
					:: magn[2 * cl_c + 1] != 0 ->
						regmap_release(t, magf[2 * cl_c + 1], magn[2 * cl_c + 1]);
						magn[2 * cl_c + 1] = 0; magf[2 * cl_c + 1] = 0
					:: else -> skip
					fi
				}
				atomic { drain(t); lockm[cl_c] = 0 }	/* release */
			:: else -> skip
			fi;
			cl_c++
		od
	:: else -> skip
	fi;
	atomic { locked = 0; cl_c = 0; goto RS_DRAINED };
#endif

/* serve(): ask for a round; the thread that raised the count from 0 serves. */
SERVE:
#ifdef MUTANT_SERVE_PLAIN_COUNT
	atomic { asked = serve_req; serve_req++ };
#else
	atomic { drain(t); asked = serve_req; serve_req++ };
#endif
	if
	:: asked != 0 -> asked = 0; goto SERVED
	:: else -> skip
	fi;
/* The role held (serve_holding_role): rounds until the count goes back to 0. */
SERVE_HOLDING:
		asked = 1;
		do
		:: /*
		    * The round's fence: on x86 the code's fence_after_rmw() is
		    * a compiler barrier, the fetch_add above or the CAS below
		    * having drained the buffer already; nothing is stored
		    * between, so no fence is modelled.
		    */
			goto ROUND;
RD_END:			atomic {			/* CAS(serve_requests, asked, 0) */
				drain(t);
				done = (serve_req == asked);
				if
				:: done -> serve_req = 0
				:: else -> asked = serve_req; COVER(3)
				fi
			}
			if :: done -> break :: else -> skip fi
		od;
		atomic { asked = 0; done = false };
SERVED:
	if
	:: ret_srv == R_SUBCLAIM -> ret_srv = 0; goto SV_SUBCLAIM
	:: ret_srv == R_WAIT -> ret_srv = 0; goto SV_WAIT
	:: ret_srv == R_RETURN -> ret_srv = 0; goto SV_RETURN
	:: ret_srv == R_GROW -> ret_srv = 0; goto SV_GROW
#ifdef CANCELQ
	:: ret_srv == R_CANCEL -> ret_srv = 0; goto SV_CANCEL
#endif
#if defined(HANDOVER) && !defined(MUTANT_WITHDRAW_NO_ROUND)
	:: ret_srv == R_WITHDRAW -> ret_srv = 0; goto SV_WITHDRAW
#endif
	fi;

/* serve_register_waiters: head first; a head that does not fit ends it. */
ROUND:
	rmap = size;				/* map_of(pool), once per round */
	do
	:: head = register_head;
		if
		:: head == 0 ->
			/*
			 * __cds_wfcq_dequeue_nonblocking, as one step (its
			 * interleavings are channel.pml's): NULL if empty,
			 * WOULDBLOCK if a link is still missing, else the node.
			 */
			atomic {
				drain(t);
				q = rqnext[HEADN];
				if
				:: q == NIL && rqtail == HEADN -> skip
				:: q == NIL && rqtail != HEADN -> q = WOULDBLOCK
				:: q != NIL && rqnext[q] != NIL -> rqnext[HEADN] = rqnext[q]
				:: q != NIL && rqnext[q] == NIL && rqtail == q ->
					rqnext[HEADN] = NIL; rqtail = HEADN
				:: q != NIL && rqnext[q] == NIL && rqtail != q -> q = WOULDBLOCK
				fi
			}
			if
			:: q == NIL || q == WOULDBLOCK ->
				if :: q == WOULDBLOCK -> COVER(6) :: else -> skip fi;
				break			/* a late enqueuer asks for its own round */
			:: else -> atomic { register_head = q; head = q }
			fi
		:: else -> skip
		fi;
		if
		:: nstate[head] != NS_WAIT_REGISTERS ->	/* cancelled (-DCANCELQ): dropped */
			atomic {
				register_head = 0; COVER(17);
				printf("EV   T%d's round drops cancelled request %d\n", t, head)
			}
		:: else ->
		atomic { cl_n = nregs[head]; cl_req = 0; cl_size = rmap; cl_inround = true };
		ret_claim = R_ROUND; goto CLAIM;
CL_ROUND:	if
		:: cl_serve ->			/* serve() inside the round: a count */
			atomic { drain(t); assert(serve_req != 0); serve_req++ }
		:: else -> skip
		fi;
		if
		:: cl_first == NONE -> COVER(7); break	/* the head does not fit */
		:: else ->
			atomic {			/* node_move WAIT_REGISTERS -> GRANTED (CAS) */
				drain(t);
				if
				:: nstate[head] == NS_WAIT_REGISTERS ->
					lost = false;
					nstate[head] = NS_GRANTED;
					nbase[head] = cl_first;
					ghost_grant(head);
					COVER(8);
					if :: nregs[head] == 3 -> COVER(10) :: else -> skip fi
				:: else -> lost = true		/* -DCANCELQ */
				fi
			}
			if
			:: !lost ->
				atomic {
					register_head = 0; waiting--;
					if
					:: pend0 == 0 -> pend0 = head
					:: else -> assert(pend1 == 0); pend1 = head
					fi
				}
			:: else ->
				/*
				 * Lost to a cancel: the run goes back to the bitmap
				 * (release order here, seq_cst in the code: the
				 * weaker, the more it checks), and the round goes on.
				 */
				atomic {
					held = held & ~RUN(cl_first, nregs[head]); COVER(18);
					printf("EV   T%d's grant of request %d lost to a cancel\n", t, head)
				};
				regmap_release(t, cl_first, nregs[head]);
				atomic { register_head = 0; lost = false }
			fi
		fi
		fi
	od;
	atomic { head = 0; q = 0; nx = 0; last = false; cl_first = 0; cl_serve = false; rmap = 0 };
	goto RD_END;

DONE:
	skip
}

#define QUIESCENT	(finished == NTHR && !PENDING(0) && !PENDING(1) && \
			 !PENDING(2) && !PENDING(3))
/* r waits, and no older waiter does: r is the head */
#define HEAD_WAITS(r)	(nstate[r] == NS_WAIT_REGISTERS && \
			 !(OLDER_WAITS(1, r) || OLDER_WAITS(2, r)))
#define FREE_RUN(p, n)	((p) + (n) <= size && (held & RUN(p, n)) == 0)
#define FITS(n)		(FREE_RUN(0, n) || FREE_RUN(1, n) || FREE_RUN(2, n))
#define SLOTBITS(i)	(magn[i] != 0 -> RUN(magf[i], magn[i]) : 0)
#define MAGBITS		(SLOTBITS(0) | SLOTBITS(1) | SLOTBITS(2) | SLOTBITS(3))

init
{
	c_code { char *e = getenv("REACH"); reach_env = e ? atoi(e) : 0; };
	atomic {
#if defined(GROW)
		/* 2 registers: 0 held by T0, 1 cached on CPU 1; request 1 wants 3 */
		size = 2; bits = 3;
		magf[2] = 1; magn[2] = 1;
		nregs[1] = 3;
#elif defined(ORDER)
		/* 2 registers: 0 held by T0, 1 cached on CPU 1 */
		size = 2; bits = 3;
		magf[2] = 1; magn[2] = 1;
#ifndef BIGHEAD
		nregs[1] = 2; nregs[2] = 1;
#else
		nregs[1] = 3; nregs[2] = 1;	/* request 1 never fits */
#endif
#else
		/* 3 registers: 0 held by T0, 1 and 2 cached on CPU 1 (two runs) */
		size = 3; bits = 7;
		magf[2] = 1; magn[2] = 1; magf[3] = 2; magn[3] = 1;
		nregs[1] = 2; nregs[2] = 1;
#endif
		run worker(0, reach_env);
		run worker(1, reach_env);
#ifdef GROW
		finished++;			/* T2 does not run */
		run worker(3, reach_env)
#else
		run worker(2, reach_env);
#ifdef CANCELQ
		run worker(3, reach_env)	/* the canceller */
#else
		finished++			/* T3 does not run */
#endif
#endif
	}
	timeout;			/* nothing can move */
	CHECK(QUIESCENT, "VIOLATION: deadlock: a thread is stuck\n");
	CHECK(!(HEAD_WAITS(1) && FITS(nregs[1])) && !(HEAD_WAITS(2) && FITS(nregs[2])),
	      "VIOLATION: C13/C14: the head waiter fits in the registers no caller holds, yet waits\n");
	CHECK(serve_req == 0, "VIOLATION: the serving counter is not at rest\n");
	CHECK(waiting == (nstate[1] == NS_WAIT_REGISTERS) + (nstate[2] == NS_WAIT_REGISTERS),
	      "VIOLATION: waiting_registers does not count the waiters\n");
	CHECK(bits == (held | MAGBITS) && (held & MAGBITS) == 0,
	      "VIOLATION: registers leaked or lost (bitmap != held + magazines)\n");
	CHECK(guard[0] == GUARD_FREE && guard[1] == GUARD_FREE, "VIOLATION: a guard is left taken\n")
}
