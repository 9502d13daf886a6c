/*
 * channel.pml -- the lock-free backend's per-adapter channel hand-off.
 *
 * Models (core/lockfree/channel.c, request.c and pool.c, core/base/rcu.h,
 * liburcu 0.13's cds_wfcq):
 *   channel_take, channel_take_free, channel_pass_on (its decision, the
 *   seq_cst exchange that releases FREE or PARKED, the seq_cst re-read of
 *   the owed link, the retake), channel_hand_to (its nregs == 0 branch),
 *   channel_hold, lf_submit's channel part, submit_queued (enqueue, fence,
 *   take FREE or PARKED), lf_end_hold ending a C8 hold (both ways: taking
 *   the channel back and passing it on, and channel_end_sync_keeping_run's
 *   single CAS from SYNC), lf_adapter_destroy
 *   (take_free, the kept-runs branch, queue_free_all), lf_cancel of a
 *   WAIT_CHANNEL node; cds_wfcq's enqueue (node init, tail exchange, link
 *   store) and __cds_wfcq_dequeue_nonblocking, step by step, as liburcu 0.13
 *   writes them; the trampoline (dispatch.c: a thread runs its grants after
 *   its call's backend part, in order).
 *
 * Rules checked:
 *   C11  no request whose submission returned (queued) is overtaken by a
 *        request whose submission began after that return, and a synchronous
 *        call made after such a return does not get the channel; nodes are
 *        handed the channel in queue (tail-exchange) order.  [assertions at
 *        every grant]
 *   C14  no lost wake-up: once nothing can move, every thread has finished,
 *        no request waits, the queue is empty and the channel is FREE (or
 *        held by a successful destroy).  [assertions after `timeout`]
 *   C3   destroy never drops a live request (queue_free_all meets only
 *        cancelled nodes), returns OK only with an empty queue, and nothing
 *        is granted after it returned OK.  [assertions]
 *   Termination: channel_pass_on's loop is bounded (BOUND), every other loop
 *   by a finite resource, so every execution ends, and the end assertions
 *   hold on all of them (this is the liveness argument: no LTL needed; the
 *   `ltl live` formula below says the same and can be checked by hand).
 *
 * Threads and bounds (one adapter, every request asks for 0 registers):
 *   H   holds the channel with a C8 synchronous hold at the start (SYNC) and
 *       ends it (mapreg_free_adapter_object): the releaser.
 *   S1  submits A (asynchronous), then, after A's call returned, B
 *       (asynchronous, or synchronous with a routine: a choice), then
 *       destroys the adapter once S2 is done (C28: no request races destroy;
 *       H may still be inside its free, as in tests/regressions.c's
 *       stale-FREE replay).  -DNO_SECOND drops B, -DNO_DESTROY the destroy.
 *   S2  submits C (asynchronous) concurrently, then may cancel it.
 *   Every granted routine answers MAPREG_DEALLOCATE_OBJECT on the thread that
 *   granted it (inline dispatch), and so passes the channel on again.
 *   3 threads, 3 requests, 3 nodes (never reused: freed after a grace
 *   period).  KEPT holds behave as the SYNC hold (the same take and pass-on).
 *
 * Atomicity: every shared load, store, exchange and CAS is one Promela step;
 * a relaxed look before a CAS (channel_take) is a step of its own.  The
 * ghost bookkeeping rides in the step it describes.  Registers, transfers,
 * counters (waiting_channel) and RCU are left out (registers.pml,
 * cancel.pml); a request that waits for registers holds the channel exactly
 * as a granted one does, until its routine passes it on.
 *
 * Memory model: x86-TSO for the locations of the Dekker pairs, one
 * store-buffer entry per thread.  Plain stores to a queue link (the
 * enqueuer's CMM_STORE_SHARED(prev->next)) and to `channel` (channel_hold's
 * release store) enter the thread's buffer and reach memory at a
 * non-deterministic later moment (process `memory`), at the latest at the
 * thread's next fence or locked instruction (xchg, CAS), or when it buffers
 * another store (FIFO).  The thread's own loads see its buffered store.
 * Every other store drains the buffer first; locked instructions, seq_cst
 * loads and fences are sequentially consistent.  So a missing fence between
 * a buffered store and a later load is caught (MUTANT_NO_ENQ_FENCE,
 * MUTANT_RELEASE_STORE).
 *
 * Mutations (each must be caught by SPIN; see check.sh):
 *   MUTANT_STALE_FREE     the protocol before commit eb2edf6: a FREE channel
 *                         is taken without reading the queue's tail: the
 *                         C11 overtake (-DNO_DESTROY), or destroy drops a
 *                         live queued request (-DNO_SECOND).
 *   MUTANT_NO_ENQ_FENCE   submit_queued without the fence between its link
 *                         store and its channel read: lost wake-up (C14).
 *   MUTANT_RELEASE_STORE  channel_pass_on releases with a release store
 *                         instead of the seq_cst exchange (the store without
 *                         its fence): lost wake-up (C14).
 *   MUTANT_REQUEUE_HEAD   FAULT_CHANNEL_OVERTAKE: the dequeued head goes back
 *                         behind its successor: C11.
 *   MUTANT_FUSED_NO_RECHECK  channel_end_sync_keeping_run releases FREE and
 *                         does not look at the head's link again: an
 *                         enqueuer that read SYNC before the CAS is never
 *                         served: lost wake-up (C14).
 *
 * Probes (REACH=n, check.sh): 1 pass_on releases PARKED (an enqueue half
 * done at its decision); 2 its dequeue meets WOULDBLOCK; 3 it sees the owed
 * link after releasing and takes the channel back; 4 an enqueuer takes a
 * PARKED channel; 5 an enqueuer takes a FREE one; 6 channel_take_free finds
 * the queue touched and passes the channel on; 7 a synchronous call fails
 * with a returned request queued; 8 a cancelled node is skipped; 9 destroy
 * returns OK; 10 destroy gives the channel back (kept runs); 11 destroy is
 * BUSY; 12 a FREE channel is taken while a returned request still waits
 * (the stale-FREE window of the C11 bug); 13 the fused end of a C8 hold
 * (KEEP_REGISTERS) released FREE, then saw a link and took the channel
 * back; 14 it found the queue touched and went through HELD.
 */

#define NTHR	3		/* H = 0, S1 = 1, S2 = 2 */
#define NREQ	3		/* A = 1, B = 2, C = 3 */
#define H	0
#define S1	1
#define S2	2
#define RA	1
#define RB	2
#define RC	3
#define BIT(r)	(1 << (r))

/* enum channel_state */
#define CH_FREE		0
#define CH_HELD		1
#define CH_KEPT		2
#define CH_SYNC		3
#define CH_PARKED	4

/* enum node_state (only the states a zero-register request passes) */
#define NS_NONE		0
#define NS_WAIT_CHANNEL	1
#define NS_GRANTED	3
#define NS_CANCELLED	4
#define NS_DONE		5

/*
 * cds_wfcq: node 0 is the queue head's own node; a link of 0 is NULL (no
 * node ever links to the head node), a tail of 0 is "tail at the head".
 */
#define NIL		0
#define HEADN		0
#define WOULDBLOCK	255

byte channel = CH_SYNC;
byte qnext[NREQ + 1];		/* qnext[0]: the head's next */
byte qtail = HEADN;
byte nstate[NREQ + 1];

/* Store buffers: one entry per thread.  Address A_CH is `channel`, else a link. */
#define A_CH	9
bool sbf[NTHR];
byte sba[NTHR];
byte sbv[NTHR];

/* Ghost state for the properties. */
byte returned_q;		/* requests whose submission returned */
byte resolved;			/* requests granted or cancelled */
byte before[NREQ + 1];		/* returned, unresolved, when r's submission began */
byte enq_order[NREQ + 1];	/* order of the tail exchange, 1-based */
byte enq_count;
bool destroyed;
byte finished;			/* threads done */
bool s2_done;

#define VIOLATION(msg)	printf(msg); assert(false)
#define CHECK(c, msg)	if :: !(c) -> VIOLATION(msg) :: else -> skip fi

/*
 * Reachability probes (check.sh runs ./pan with REACH=n in the environment):
 * each names a situation the proof must cover, and the probe passes when
 * SPIN reaches it (the assertion fails).  REACH unset: they never fire.
 */
#define COVER(n)	assert(reach == 0 || reach != (n))

/*
 * Termination.  channel_pass_on's loop is the one loop whose exit waits on
 * other threads (a link that appears after its fence makes it take the
 * channel back and go round again); it counts its rounds and asserts a
 * bound.  The others end by a finite resource: the trampoline by its list,
 * queue_free_all by the queue, `memory` by the stores the threads buffered.
 * So every execution is finite, and `timeout` in init is reached on all.
 */
#define BOUND		8
#define LOOP(cnt)	cnt++; CHECK(cnt <= BOUND, "VIOLATION: a loop runs unbounded (livelock)\n")
hidden byte reach_env;		/* $REACH, read once by init */
c_code { \#include <stdlib.h> }

inline flush1(t) {
	if
	:: sba[t] == A_CH -> channel = sbv[t];
		printf("MEM  T%d's store channel = %d reaches memory\n", t, sbv[t])
	:: else -> qnext[sba[t]] = sbv[t];
		printf("MEM  T%d's store link[%d] = %d reaches memory\n", t, sba[t], sbv[t])
	fi;
	sbf[t] = false; sba[t] = 0; sbv[t] = 0
}
inline drain(t) {
	if :: sbf[t] -> flush1(t) :: else -> skip fi
}
#define LD_CH(t)	((sbf[t] && sba[t] == A_CH) -> sbv[t] : channel)
#define LD_NEXT(t, n)	((sbf[t] && sba[t] == (n)) -> sbv[t] : qnext[n])

/* A plain (or release) store: into the buffer, behind the older entry. */
inline st_buf(t, a, v) {
	atomic { drain(t); sba[t] = a; sbv[t] = v; sbf[t] = true }
}
/* atomic_thread_fence(memory_order_seq_cst) */
inline fence(t) {
	atomic { drain(t) }
}

/* The memory subsystem: drains any buffered store at any moment. */
active proctype memory()
{
end:	do
	:: atomic { sbf[0] -> flush1(0) }
	:: atomic { sbf[1] -> flush1(1) }
	:: atomic { sbf[2] -> flush1(2) }
	od
}

/* C11: r is granted (gets the channel); nobody queued before it began may wait. */
#define RESOLVED(q)	((resolved & BIT(q)) != 0)
#define QBEFORE(q, r)	(enq_order[q] != 0 && enq_order[q] < enq_order[r] && !RESOLVED(q))
inline ghost_grant(r) {
	printf("EV   request %d gets the channel\n", r);
	CHECK((before[r] & ~resolved) == 0,
	      "VIOLATION: C11 overtake: a request whose submission returned (queued) is passed by a later one\n");
	CHECK(enq_order[r] == 0 || !(QBEFORE(1, r) || QBEFORE(2, r) || QBEFORE(3, r)),
	      "VIOLATION: C11 queue order: a node is handed the channel before an older live node\n");
	CHECK(!destroyed, "VIOLATION: C3: a grant after destroy returned OK\n");
	resolved = resolved | BIT(r)
}

/*
 * channel_take(adapter, from): a relaxed look (a plain load: it does not
 * drain the store buffer), then a CAS acq_rel (locked: it does).  Probe
 * `probe` fires when it succeeds.
 */
inline channel_take(t, from, ok, probe) {
	if
	:: LD_CH(t) != from -> ok = false
	:: else ->
		atomic {
			drain(t);
			if
			:: channel == from -> channel = CH_HELD; ok = true; COVER(probe);
				printf("EV   T%d takes the channel (it was %d)\n", t, from)
			:: else -> ok = false
			fi
		}
	fi
}

/*
 * wfcq_enqueue: cds_wfcq_node_init (the node's own link, written before the
 * exchange, which is a full barrier), xchg the tail, then link the
 * predecessor.
 */
inline enqueue(t, n, prev) {
	atomic {
		drain(t);
		qnext[n] = NIL;
		prev = qtail; qtail = n;
		enq_count++; enq_order[n] = enq_count;
		printf("EV   T%d enqueues request %d: tail exchanged (after %d)\n", t, n, prev)
	}
	st_buf(t, prev, n)
}

/*
 * __cds_wfcq_dequeue_nonblocking, single consumer (the channel's holder).
 * q: a node, NIL (empty) or WOULDBLOCK.
 */
inline dequeue(t, q, nx, last) {
	q = LD_NEXT(t, HEADN);
	if
	:: q == NIL ->
		if
		:: qtail == HEADN -> skip			/* empty */
		:: else ->
			q = LD_NEXT(t, HEADN);			/* sync_next(head) */
			if :: q == NIL -> q = WOULDBLOCK :: else -> skip fi
		fi
	:: else -> skip
	fi;
	if
	:: q != NIL && q != WOULDBLOCK ->
		nx = LD_NEXT(t, q);
		if
		:: nx == NIL ->
			atomic { drain(t); qnext[HEADN] = NIL };
			atomic {				/* cmpxchg(tail, q, head) */
				drain(t);
				last = (qtail == q);
				if :: last -> qtail = HEADN :: else -> skip fi
			}
			if
			:: last -> skip
			:: else ->
				nx = LD_NEXT(t, q);		/* sync_next(q) */
				if
				:: nx == NIL ->
					atomic {
						drain(t); qnext[HEADN] = q;
						q = WOULDBLOCK; COVER(2)
					}
				:: else ->
					atomic { drain(t); qnext[HEADN] = nx }
				fi
			fi
		:: else ->
			atomic { drain(t); qnext[HEADN] = nx }
		fi
	:: else -> skip
	fi
}

/* Granted requests this thread's trampoline will run (dispatch.c). */
inline append(r) {
	if
	:: pend0 == 0 -> pend0 = r
	:: else -> assert(pend1 == 0); pend1 = r
	fi
}

/* channel_hand_to for nregs == 0: WAIT_CHANNEL -> GRANTED, or lost to a cancel. */
inline hand_to(t, q, ok) {
	atomic {
		drain(t);
		if
		:: nstate[q] == NS_WAIT_CHANNEL ->
			nstate[q] = NS_GRANTED; ok = true;
			ghost_grant(q)
		:: else -> ok = false; COVER(8);
			printf("EV   T%d skips cancelled request %d\n", t, q)
		fi
	}
	if :: ok -> append(q) :: else -> skip fi
}

/*
 * One proctype serves every thread, so that each C function below exists
 * once in the generated verifier (inline expansion made pan.c ten times
 * larger).  A function is a labelled block, "called" by setting its return
 * code (ret_*) and jumping to it; it jumps back through that code.  Nothing
 * recurses, so one return code per function suffices.
 */
#define PO_H		1	/* pass_on's return points */
#define PO_TF		2
#define PO_SUBQ		3
#define PO_RP		4
#define PO_KEEPS	5
#define TF_SUBMIT	1	/* take_free's */
#define TF_DESTROY	2
#define RP_H		1	/* run_pending's */
#define RP_SUBMIT	2
#define RP_DESTROY	3
#define SUB_A		1	/* submit's */
#define SUB_B		2
#define SUB_C		3

proctype worker(byte t; byte reach)
{
	byte owed, rel, q, nx, prev, lp;	/* channel_pass_on */
	bool release, ok, last, requeued;
	byte cur, pend0, pend1;			/* the trampoline (dispatch.c) */
	byte sr, mine;				/* submit: the request, the ghost */
	bool ssync, got, keeps, idle;
	byte ret_po, ret_tf, ret_rp, ret_sub;	/* return codes */

	if
	:: t == H ->
		if
		:: /* mapreg_free_adapter_object(DEALLOCATE_OBJECT): take it back, pass it on */
			channel_take(t, CH_SYNC, ok, 0);
			assert(ok);
			ret_po = PO_H; goto PASS_ON
		:: /*
		    * mapreg_free_adapter_object(DEALLOCATE_OBJECT_KEEP_REGISTERS):
		    * channel_end_sync_keeping_run: the relaxed look at the
		    * head's link, the seq_cst read of the tail, one seq_cst CAS
		    * SYNC -> FREE (idle) or HELD, then as a release of FREE.
		    */
			idle = (LD_NEXT(t, HEADN) == NIL);
			atomic { drain(t); idle = idle && qtail == HEADN };
			atomic {
				drain(t);
				assert(channel == CH_SYNC);	/* the one ender: the CAS wins */
				if :: idle -> channel = CH_FREE :: else -> channel = CH_HELD fi;
				printf("EV   T%d ends its hold: the channel is %d\n", t, channel)
			}
			if
#ifdef MUTANT_FUSED_NO_RECHECK
			:: idle -> skip
#else
			:: idle && LD_NEXT(t, HEADN) == NIL -> skip	/* wfcq_link_sc */
			:: idle && LD_NEXT(t, HEADN) != NIL ->
				channel_take(t, CH_FREE, ok, 13);
				if
				:: ok -> ret_po = PO_H; goto PASS_ON
				:: else -> skip
				fi
#endif
			:: !idle -> COVER(14); ret_po = PO_H; goto PASS_ON
			fi
		fi;
PO_H_RET:	idle = false; ok = false;
		ret_rp = RP_H; goto RUN_PENDING;
RP_H_RET:	skip
	:: t == S1 ->
		sr = RA; ssync = false;
		ret_sub = SUB_A; goto SUBMIT;
SUB_A_RET:
#ifndef NO_SECOND
		sr = RB;
		if
		:: ssync = false
		:: ssync = true
		fi;
		ret_sub = SUB_B; goto SUBMIT;
SUB_B_RET:
#endif
#ifndef NO_DESTROY
		/* mapreg_adapter_destroy, once no other request can race it (C28) */
		s2_done;
		printf("EV   T%d destroys the adapter\n", t);
		sr = 0; ret_tf = TF_DESTROY; goto TAKE_FREE;
TF_DESTROY_RET:
		if
		:: got ->
			if
			:: keeps = true			/* adapter_keeps_runs */
			:: keeps = false
			fi;
			if
			:: keeps -> COVER(10);		/* MAPREG_BUSY */
				ret_po = PO_KEEPS; goto PASS_ON;
PO_KEEPS_RET:			skip
			:: else ->
				/* queue_free_all: only cancelled nodes may be left */
				do
				:: dequeue(t, q, nx, last);
					if
					:: q == NIL || q == WOULDBLOCK -> break
					:: else ->
						CHECK(nstate[q] != NS_WAIT_CHANNEL,
						      "VIOLATION: C3: destroy dropped a live queued request\n")
					fi
				od;
				CHECK(qtail == HEADN, "VIOLATION: C3: destroy left a queue behind\n");
				q = 0; nx = 0; last = false;
				atomic {
					destroyed = true; COVER(9);	/* MAPREG_OK */
					printf("EV   T%d: destroy returns OK\n", t)
				}
			fi
		:: else -> COVER(11)			/* MAPREG_BUSY */
		fi;
		got = false; keeps = false;
		ret_rp = RP_DESTROY; goto RUN_PENDING;
RP_DESTROY_RET:
#endif
		skip
	:: t == S2 ->
		sr = RC; ssync = false;
		ret_sub = SUB_C; goto SUBMIT;
SUB_C_RET:
#ifndef NO_CANCEL
		if
		:: atomic {				/* lf_cancel of a WAIT_CHANNEL node */
			drain(t);
			if
			:: nstate[RC] == NS_WAIT_CHANNEL ->
				nstate[RC] = NS_CANCELLED;
				resolved = resolved | BIT(RC);
				printf("EV   T%d cancels request %d\n", t, RC)
			:: else -> skip
			fi
		   }
		:: skip
		fi;
#endif
		s2_done = true
	fi;
	finished++;
	goto DONE;

/*
 * mapreg_allocate_channel_ex(adapter, ..., nregs 0, sync?, routine): lf_submit,
 * submit_queued, then the trampoline.  Request sr, synchronous if ssync.
 */
SUBMIT:
	atomic {
		before[sr] = returned_q & ~resolved; mine = sr;
		printf("EV   T%d submits request %d (synchronous: %d)\n", t, sr, ssync)
	};
	ret_tf = TF_SUBMIT; goto TAKE_FREE;
TF_SUBMIT_RET:
	if
	:: got ->				/* granted at submission: its routine runs */
		assert(pend0 == 0); pend0 = sr
	:: !got && ssync ->			/* C8: INSUFFICIENT_RESOURCES */
		atomic {
			mine = 0;
			if :: (returned_q & ~resolved) != 0 -> COVER(7) :: else -> skip fi
		}
	:: !got && !ssync ->			/* submit_queued */
		atomic { drain(t); nstate[sr] = NS_WAIT_CHANNEL };
		enqueue(t, sr, prev);
#ifndef MUTANT_NO_ENQ_FENCE
		fence(t);				/* pairs with channel_pass_on */
#endif
		channel_take(t, CH_FREE, ok, 5);
		if
		:: !ok -> channel_take(t, CH_PARKED, ok, 4)
		:: else -> skip
		fi;
		if
		:: ok -> ret_po = PO_SUBQ; goto PASS_ON;
PO_SUBQ_RET:		skip
		:: else -> skip
		fi
	fi;
	ret_rp = RP_SUBMIT; goto RUN_PENDING;
RP_SUBMIT_RET:
	atomic {
		printf("EV   T%d's submission of request %d returns\n", t, sr);
		if :: mine != 0 -> returned_q = returned_q | BIT(mine) :: else -> skip fi;
		mine = 0; got = false; ok = false; prev = 0; ssync = false
	}
	if
	:: ret_sub == SUB_A -> ret_sub = 0; goto SUB_A_RET
#ifndef NO_SECOND
	:: ret_sub == SUB_B -> ret_sub = 0; goto SUB_B_RET
#endif
	:: ret_sub == SUB_C -> ret_sub = 0; goto SUB_C_RET
	fi;

/*
 * channel_take_free: a new request (sr != 0) or destroy (sr == 0) takes a
 * FREE channel: the seq_cst CAS, then the seq_cst read of the tail.
 */
TAKE_FREE:
	channel_take(t, CH_FREE, got, 0);
	if
	:: got ->
#ifdef MUTANT_STALE_FREE
		atomic {
			if :: sr != 0 -> ghost_grant(sr) :: else -> skip fi
		}
#else
		atomic {
			got = (qtail == HEADN);		/* wfcq_untouched */
			if :: got && sr != 0 -> ghost_grant(sr) :: else -> skip fi;
			if :: (returned_q & ~resolved) != 0 -> COVER(12) :: else -> skip fi;
			if :: !got -> COVER(6) :: else -> skip fi
		}
		if
		:: !got ->			/* queued behind: pass it on */
			ret_po = PO_TF; goto PASS_ON;
PO_TF_RET:		skip
		:: else -> skip
		fi
#endif
	:: else -> skip
	fi;
	if
	:: ret_tf == TF_SUBMIT -> ret_tf = 0; goto TF_SUBMIT_RET
#ifndef NO_DESTROY
	:: ret_tf == TF_DESTROY -> ret_tf = 0; goto TF_DESTROY_RET
#endif
	fi;

/*
 * dispatch_grants / drain_pending: run this thread's grants in order.  Each
 * routine answers DEALLOCATE_OBJECT: lf_complete, release_all (no
 * registers): the channel is passed on.
 */
RUN_PENDING:
	do
	:: pend0 != 0 ->
		atomic {
			cur = pend0; pend0 = pend1; pend1 = 0;
			drain(t); nstate[cur] = NS_DONE;
			printf("EV   T%d runs request %d's routine\n", t, cur)
		}
		ret_po = PO_RP; goto PASS_ON;
PO_RP_RET:	cur = 0
	:: else -> break
	od;
	if
	:: ret_rp == RP_H -> ret_rp = 0; goto RP_H_RET
	:: ret_rp == RP_SUBMIT -> ret_rp = 0; goto RP_SUBMIT_RET
#ifndef NO_DESTROY
	:: ret_rp == RP_DESTROY -> ret_rp = 0; goto RP_DESTROY_RET
#endif
	fi;

/* channel_pass_on: the caller holds the channel (HELD) on nobody's behalf. */
PASS_ON:
	do
	:: atomic {
			LOOP(lp);
			owed = LD_NEXT(t, HEADN);	/* the link we may be owed */
			rel = CH_PARKED; release = false
		}
		if
		:: owed == NIL ->
			/* owed: the head's own link; FREE if nothing was enqueued */
			atomic {
				if
				:: qtail == HEADN -> rel = CH_FREE
				:: else -> COVER(1)
				fi;
				printf("EV   T%d decides to release the channel as %d\n", t, rel);
				release = true
			}
		:: else ->
			dequeue(t, q, nx, last);
			assert(q != NIL);
			if
			:: q == WOULDBLOCK -> release = true	/* owed: q's next link */
			:: else ->
#ifdef MUTANT_REQUEUE_HEAD
				if
				:: !requeued && LD_NEXT(t, HEADN) != NIL ->
					requeued = true;
					enqueue(t, q, prev);	/* the head goes last */
					fence(t)
				:: else ->
#endif
				hand_to(t, q, ok);
				if :: ok -> break :: else -> skip fi;	/* cancelled: next */
#ifdef MUTANT_REQUEUE_HEAD
				fi
#endif
			fi
		fi;
		if
		:: release ->
#ifdef MUTANT_RELEASE_STORE
			/* the release as a plain release store, with no fence after it */
			atomic {
				st_buf(t, A_CH, rel);
				printf("EV   T%d stores channel = %d (in its store buffer)\n", t, rel)
			}
#else
			/* atomic_exchange(channel, release_as, seq_cst): locked */
			atomic {
				drain(t); channel = rel;
				printf("EV   T%d exchanges the channel to %d\n", t, rel)
			}
#endif
			if
			:: LD_NEXT(t, owed) == NIL -> break	/* wfcq_link_sc: its enqueuer tries */
			:: else ->
				channel_take(t, rel, ok, 3);
				if :: !ok -> break :: else -> skip fi
			fi
		:: else -> skip
		fi
	od;
	atomic {
		owed = 0; rel = 0; q = 0; nx = 0; prev = 0; lp = 0;
		release = false; ok = false; last = false
	}
	if
	:: ret_po == PO_H -> ret_po = 0; goto PO_H_RET
#ifndef MUTANT_STALE_FREE
	:: ret_po == PO_TF -> ret_po = 0; goto PO_TF_RET
#endif
	:: ret_po == PO_SUBQ -> ret_po = 0; goto PO_SUBQ_RET
	:: ret_po == PO_RP -> ret_po = 0; goto PO_RP_RET
#ifndef NO_DESTROY
	:: ret_po == PO_KEEPS -> ret_po = 0; goto PO_KEEPS_RET
#endif
	fi;
DONE:
	skip
}

#define LIVE_WAITERS	(nstate[1] == NS_WAIT_CHANNEL || nstate[2] == NS_WAIT_CHANNEL || \
			 nstate[3] == NS_WAIT_CHANNEL)
#define QUIESCENT	(finished == NTHR && !sbf[0] && !sbf[1] && !sbf[2])

init
{
	c_code { char *e = getenv("REACH"); reach_env = e ? atoi(e) : 0; };
	atomic {
		run worker(H, reach_env);
		run worker(S1, reach_env);
		run worker(S2, reach_env)
	}
	/* C14 at quiescence: every request granted or cancelled, channel FREE. */
	timeout;			/* nothing can move: every thread is done */
	CHECK(QUIESCENT, "VIOLATION: deadlock: a thread is stuck\n");
	CHECK(!LIVE_WAITERS,
	      "VIOLATION: C14 lost wake-up: a queued request waits with every thread done\n");
	CHECK(channel == CH_FREE || (destroyed && channel == CH_HELD),
	      "VIOLATION: C14: the channel is not FREE with every thread done\n");
	CHECK(qtail == HEADN && qnext[HEADN] == NIL,
	      "VIOLATION: the queue is not empty at the end\n")
}

#ifndef NOCLAIM
/* Every run reaches quiescence with no request waiting (C14). */
ltl live { <> (QUIESCENT && !LIVE_WAITERS) }
#endif
