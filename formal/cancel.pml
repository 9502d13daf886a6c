/*
 * cancel.pml -- grant versus cancel, the transfer's state word with its
 * generation, a transfer re-initialized for another adapter while a cancel
 * is in flight, and the node's two-owner free under RCU.
 *
 * Models (core/base/transfer.c, core/lockfree/request.c, core/lockfree/node.c,
 * core/api/api.c, core/api/answer.c):
 *   xfer_init (re-init: claim as SUBMITTING, rebind, IDLE with a new
 *   generation), xfer_begin_submit, xfer_commit_submit, xfer_finish,
 *   xfer_cancel_needs_backend (binding re-read after every load of the word),
 *   mapreg_cancel_channel, lf_cancel (the generation check, the state CAS
 *   loop, node_unpublish, node_release_cancelled, and for WAIT_REGISTERS the
 *   pass-on of the named adapter's channel), submit_queued (node_copy, the
 *   commit as linearization point, the failed-commit free), channel_hand_to
 *   (both branches), serve_register_waiters' grant and its lost-to-a-cancel
 *   branch, answer_apply (lf_retire: DONE, unpublish, free; then xfer_finish),
 *   node_free (call_rcu) and RCU grace periods.
 *
 * Rules checked:
 *   C20  per request, exactly one of: its routine ran, a cancel returned true
 *        for it (or its submission returned MAPREG_CANCELLED: neither).
 *        [end-state assertions]
 *   C21  a cancel acts only on a request of the generation it read with BUSY,
 *        on the adapter it names (so never on a newer submission, nor on one
 *        made after the transfer was rebound); a mark left by a cancel is
 *        consumed only by a submission on the adapter that cancel named; a
 *        cancel of a request still waiting returns true.  [assertions]
 *   C10  once a request is over (its completion finished the transfer, or a
 *        cancel returned true) the transfer can be re-initialized and
 *        submitted again, and the old request never touches it after.
 *   Memory: no node is read after it is freed (RCU: a pointer loaded in a
 *   read-side section stays valid to its end), none is freed twice, none is
 *   freed while the transfer still points to it, and a cancelled node is
 *   freed by the later of its two owners.  [assertions]
 *
 * Threads and bounds: one transfer, two adapters A and B, two submissions:
 *   O  the owner: initializes the transfer for A (done at the start), submits
 *      request 1 on A (it waits for A's channel), waits until it is over,
 *      re-initializes the transfer for B, submits request 2 on B (it waits
 *      for B's channel, or, holding it, for registers: a choice), then
 *      cancels it naming B, which must return true.
 *   C  a cancel naming A, at any moment: the stale cancel of the rebound race
 *      (tests/regressions.c).
 *   K  the backend's consumers: A's channel holder hands A's channel to
 *      request 1 (granting it, nregs 0, or moving it to WAIT_REGISTERS for
 *      the server: a choice) or frees it if cancelled; the register server
 *      grants request 1, never request 2 (no register is left for it), and
 *      frees cancelled heads.  A granted routine runs on K and completes.
 *   `rcu` ends grace periods.  Nobody releases B's channel.
 *
 * Abstractions: sequential consistency (every transition here is a CAS,
 * acquire/release, or an RCU pairing; no Dekker pair); each load, store and
 * CAS of the transfer word, the binding, `queued`, a node's state and
 * owners is one step.  The queues are reduced to "which queue holds the
 * node" (their interleavings are channel.pml's and registers.pml's);
 * counters (waiting_*) and the channels' own protocol are left out.  The
 * K thread does one hand-off at a time (A's channel holder and the server
 * never act on request 1 at once: the server gets it from the holder).
 * Synchronous submissions (which begin BUSY, with no node: a stale cancel
 * of one finds `queued` NULL) are not modelled.  RCU: a free waits for the
 * threads inside a read-side section when it was called.
 *
 * Mutations (each must be caught; see check.sh):
 *   MUTANT_NO_GEN_CHECK        lf_cancel without `queued->generation ==
 *                              generation`: it cancels a newer submission.
 *   MUTANT_NO_BINDING_RECHECK  the binding checked once, before the loop (the
 *                              rebound race the stress suite found): a cancel
 *                              naming A marks the transfer bound to B.
 *   MUTANT_FREE_NOW            node_free without a grace period: a cancel's
 *                              loaded pointer is used after the free.
 *   MUTANT_ONE_OWNER           the canceller frees a cancelled node at once:
 *                              the queue's consumer uses it after the free.
 *   MUTANT_UNPUBLISH_LATE      xfer_finish before lf_retire: the old request
 *                              clears the reused transfer's `queued` (C10).
 *
 * Probes (REACH=n): 1 a cancel marks; 2 a cancel of a WAIT_REGISTERS node;
 * 3 a cancel loads a node of another generation; 4 a submission consumes a
 * mark; 5 a commit fails; 6 the round loses to a cancel; 7 a cancel finds the
 * transfer rebound; 8 the stale cancel wins legitimately; 9 the consumer, 10
 * the canceller, is the last owner of a cancelled node; 11 a node is freed
 * while the stale cancel holds its pointer inside a read-side section.
 */

#define BIT(r)	(1 << (r))
#define A	1		/* adapters */
#define B	2
#define TO	0		/* threads: O, C, K */
#define TC	1
#define TK	2

/* enum xfer_state */
#define XFER_IDLE		1
#define XFER_MARKED		2
#define XFER_SUBMITTING		3
#define XFER_SUBMITTING_MARKED	4
#define XFER_BUSY		5

/* enum node_state */
#define NS_WAIT_CHANNEL		1
#define NS_WAIT_REGISTERS	2
#define NS_GRANTED		3
#define NS_CANCELLED		4
#define NS_DONE			5

/* where a node is: nowhere, in its adapter's channel queue, the register queue */
#define IN_NONE		0
#define IN_CHANNEL	1
#define IN_REGISTERS	2

/* node memory */
#define LIVE		0
#define FREE_PENDING	1	/* call_rcu'd: valid until the grace period ends */
#define FREED		2

/* The transfer (struct xfer_impl): the state word is (xst, xgen). */
byte xst = XFER_IDLE;
byte xgen;
byte xad = A;			/* binding */
byte xq;			/* request.queued: a node, 0: NULL */

/* Nodes 1 (request 1) and 2 (request 2). */
byte nst[3];
byte ngen[3];
byte nad[3];
byte nown[3];			/* owners of a cancelled node */
byte nmem[3];
byte nin[3];
byte gpw[3];			/* readers a pending free still waits for */

byte rcu_in;			/* threads inside a read-side section */

/* Ghost. */
byte committed;			/* requests whose commit succeeded */
byte ran;			/* requests whose routine ran */
byte ctrue;			/* requests a cancel returned true for */
byte over;			/* requests that are over (C10) */
byte mark_by;			/* adapter named by the cancel that marked */
byte cq;			/* the node C's cancel loaded (probe 11) */
byte finished;

#define VIOLATION(msg)	printf(msg); assert(false)
#define CHECK(c, msg)	if :: !(c) -> VIOLATION(msg) :: else -> skip fi
#define COVER(n)	assert(reach == 0 || reach != (n))
hidden byte reach_env;
c_code { \#include <stdlib.h> }

#define USE(n)		CHECK(nmem[n] != FREED, "VIOLATION: a node is used after its free\n")

inline rcu_enter(t) {
	rcu_in = rcu_in | BIT(t)
}
inline rcu_leave(t) {
	atomic {
		rcu_in = rcu_in & ~BIT(t);
		gpw[1] = gpw[1] & ~BIT(t); gpw[2] = gpw[2] & ~BIT(t)
	}
}

/* node_free: call_rcu; freed once every reader in a section now has left. */
inline node_free(n) {
	atomic {
		CHECK(nmem[n] == LIVE, "VIOLATION: a node is freed twice\n");
		CHECK(xq != n, "VIOLATION: a node is freed while the transfer still names it\n");
#ifdef MUTANT_FREE_NOW
		nmem[n] = FREED
#else
		nmem[n] = FREE_PENDING; gpw[n] = rcu_in;
#endif
		if :: cq == n && (rcu_in & BIT(TC)) != 0 -> COVER(11) :: else -> skip fi
	}
}

/* Grace periods end. */
active proctype rcu()
{
end:	do
	:: atomic { nmem[1] == FREE_PENDING && gpw[1] == 0 -> nmem[1] = FREED }
	:: atomic { nmem[2] == FREE_PENDING && gpw[2] == 0 -> nmem[2] = FREED }
	od
}

/* node_release_cancelled: the last of the two owners frees it. */
inline release_cancelled(t, n) {
	atomic {
		USE(n);
		assert(nst[n] == NS_CANCELLED && nown[n] > 0);
		nown[n]--;
		last = (nown[n] == 0)
	}
	if
	:: last ->
		if :: t == TK -> COVER(9) :: else -> COVER(10) fi;
		node_free(n)
	:: else -> skip
	fi;
	last = false
}

/* node_unpublish: the node's transfer stops naming it. */
inline unpublish(n) {
	atomic {
		USE(n);
		CHECK((over & BIT(n)) == 0,
		      "VIOLATION: C10: an old request touches the transfer after it is over\n");
		xq = 0
	}
}

/* xfer_finish: only the request's owner writes a BUSY word. */
inline xfer_finish(r) {
	atomic {
		assert(xst == XFER_BUSY);
		xst = XFER_IDLE;
		over = over | BIT(r)
	}
}

/*
 * The routine returned (answer_apply): lf_retire (NS_DONE, unpublish, free
 * after a grace period), then xfer_finish (C10), then the channel and the
 * registers go (end_hold: not modelled here).
 */
inline complete(t, n) {
	atomic {
		USE(n);
		CHECK((ctrue & BIT(n)) == 0, "VIOLATION: C20: a routine runs for a cancelled request\n");
		ran = ran | BIT(n); nst[n] = NS_DONE;
		printf("EV   T%d runs request %d's routine\n", t, n)
	}
#ifdef MUTANT_UNPUBLISH_LATE
	xfer_finish(n);			/* the transfer is reusable ... */
	unpublish(n);			/* ... before the old request lets go of it */
	node_free(n)
#else
	unpublish(n);			/* lf_retire: before the transfer is reused */
	node_free(n);
	xfer_finish(n)			/* C10 */
#endif
}

/*
 * mapreg_cancel_channel(ad, xfer) by thread t: xfer_cancel_needs_backend,
 * lf_cancel, then xfer_finish.  res: its result.
 */
inline cancel(t, ad, res) {
	res = false;
	/* xfer_cancel_needs_backend */
#ifdef MUTANT_NO_BINDING_RECHECK
	if :: xad != ad -> goto cancel_out :: else -> skip fi;	/* checked once */
#endif
	atomic {					/* load, acquire */
		wst = xst; wgen = xgen;
		printf("EV   T%d's cancel naming %d reads state %d, generation %d\n", t, ad, wst, wgen)
	};
	do
	:: 
#ifndef MUTANT_NO_BINDING_RECHECK
		if
		:: xad != ad -> COVER(7); goto cancel_out	/* C21: foreign now */
		:: else -> skip
		fi;
#endif
		if
		:: wst == XFER_BUSY ->			/* the backend's, of generation wgen */
			printf("EV   T%d's cancel naming %d goes to the backend\n", t, ad);
			break
		:: wst == XFER_IDLE || wst == XFER_SUBMITTING ->
			atomic {			/* CAS: mark */
				if
				:: xst == wst && xgen == wgen ->
					xst = (wst == XFER_IDLE -> XFER_MARKED : XFER_SUBMITTING_MARKED);
					mark_by = ad; wst = 0; COVER(1);
					printf("EV   T%d's cancel naming %d marks the transfer\n", t, ad)
				:: else -> wst = xst; wgen = xgen;	/* the CAS reloads */
					printf("EV   T%d's cancel naming %d reads state %d, generation %d\n",
					       t, ad, wst, wgen)
				fi
			}
			if :: wst == 0 -> goto cancel_out :: else -> skip fi
		:: else -> goto cancel_out		/* already marked */
		fi
	od;
	/* lf_cancel(ad, generation wgen) */
	rcu_enter(t);
	atomic {					/* acquire */
		q = xq; if :: t == TC -> cq = q :: else -> skip fi;
		printf("EV   T%d's cancel loads the transfer's node: %d\n", t, q)
	};
	if
	:: q != 0 ->
		atomic {
			USE(q);
#ifdef MUTANT_NO_GEN_CHECK
			gen_ok = true
#else
			gen_ok = (ngen[q] == wgen)
#endif
		}
		if
		:: gen_ok ->
			atomic { USE(q); s = nst[q] };
			do
			:: s == NS_WAIT_CHANNEL || s == NS_WAIT_REGISTERS ->
				atomic {			/* node_move(s -> CANCELLED) */
					USE(q);
					if
					:: nst[q] == s ->
						nst[q] = NS_CANCELLED; res = true;
						CHECK(ngen[q] == wgen,
						      "VIOLATION: C21: a cancel acted on a newer submission\n");
						CHECK(nad[q] == ad,
						      "VIOLATION: C21: a cancel acted on a request of another adapter\n");
						CHECK((ran & BIT(q)) == 0,
						      "VIOLATION: C20: a request whose routine ran is cancelled\n");
						ctrue = ctrue | BIT(q);
						if :: t == TC -> COVER(8) :: else -> skip fi;
						printf("EV   T%d's cancel naming %d cancels request %d\n", t, ad, q)
					:: else -> s = nst[q]		/* handed on or granted */
					fi
				}
				if
				:: res ->
					unpublish(q);
#ifdef MUTANT_ONE_OWNER
					node_free(q);
#else
					release_cancelled(t, q);	/* the queue's consumer frees it */
#endif
					/* WAIT_REGISTERS: serve, and pass the named adapter's channel on */
					if :: s == NS_WAIT_REGISTERS -> COVER(2) :: else -> skip fi;
					break
				:: else -> skip
				fi
			:: else -> break
			od
		:: else -> COVER(3)			/* another generation's node */
		fi
	:: else -> skip
	fi;
	atomic { rcu_leave(t); if :: t == TC -> cq = 0 :: else -> skip fi };
	if :: res -> xfer_finish(q) :: else -> skip fi;	/* C10 */
cancel_out:
	atomic { q = 0; s = 0; wst = 0; wgen = 0; gen_ok = false }
}

/*
 * mapreg_allocate_channel_ex(ad, xfer, ...) asynchronous, by O, for request r
 * (node r): it waits, for ad's channel or (regs) for registers.  st: its
 * result: 1 OK (queued), 2 CANCELLED.
 */
inline submit(r, ad, regs, st) {
	/* xfer_begin_submit */
	atomic {
		if
		:: xst == XFER_IDLE -> xst = XFER_SUBMITTING; xgen++; st = 1
		:: xst == XFER_MARKED ->			/* C21: consume the mark */
			CHECK(mark_by == ad, "VIOLATION: C21: a submission consumed another adapter's mark\n");
			xst = XFER_IDLE; st = 2; COVER(4)
		:: else -> VIOLATION("VIOLATION: C10: the transfer is refused though its request is over\n")
		fi
	}
	if
	:: st == 1 ->
		assert(xad == ad);			/* the re-check of the binding */
		atomic {				/* node_copy; publish: release */
			nst[r] = (regs -> NS_WAIT_REGISTERS : NS_WAIT_CHANNEL);
			ngen[r] = xgen; nad[r] = ad; nown[r] = 2; nmem[r] = LIVE;
			xq = r;
			printf("EV   O submits request %d on %d (generation %d)\n", r, ad, xgen)
		}
		atomic {				/* xfer_commit_submit */
			if
			:: xst == XFER_SUBMITTING -> xst = XFER_BUSY; committed = committed | BIT(r)
			:: else ->
				assert(xst == XFER_SUBMITTING_MARKED);
				CHECK(mark_by == ad,
				      "VIOLATION: C21: a submission consumed another adapter's mark\n");
				xst = XFER_IDLE; st = 2; COVER(5)
			fi
		}
		if
		:: st == 1 ->				/* visible: queue it */
			nin[r] = (regs -> IN_REGISTERS : IN_CHANNEL)
		:: else ->				/* CANCELLED: never queued */
			unpublish(r);
			node_free(r)
		fi
	:: else -> skip
	fi;
	atomic {
		if :: st == 2 -> over = over | BIT(r) :: else -> skip fi;
		printf("EV   O's submission of request %d on %d returns %d\n", r, ad, st)
	}
}

proctype owner(byte reach)
{
	byte st, wst, wgen, q, s;
	bool res, gen_ok, last, regs;

	submit(1, A, false, st);
	/* the request is over: its routine completed, a cancel returned true, or CANCELLED */
	(over & BIT(1)) != 0;
	/* xfer_init(B, xfer): claim as SUBMITTING, rebind, IDLE with a new generation */
	atomic {
		CHECK(xst == XFER_IDLE || xst == XFER_MARKED,
		      "VIOLATION: C10: re-init refused though the request is over\n");
		xst = XFER_SUBMITTING
	}
	xad = B;
	atomic { xst = XFER_IDLE; xgen++; printf("EV   O re-initializes the transfer for B\n") };
	if
	:: regs = false
	:: regs = true
	fi;
	st = 0;
	submit(2, B, regs, st);
	if
	:: st == 1 ->
		cancel(TO, B, res);
		CHECK(res, "VIOLATION: C20: a cancel of a waiting request returned false\n")
	:: else -> skip
	fi;
	finished++
}

proctype canceller(byte reach)
{
	byte wst, wgen, q, s;
	bool res, gen_ok, last;

	cancel(TC, A, res);
	finished++
}

/* The backend: A's channel holder, and the register server. */
proctype backend(byte reach)
{
	byte q, s;
	bool last, ok, head_kept, toregs;

end:	do
	:: atomic { nin[1] == IN_CHANNEL -> nin[1] = IN_NONE; q = 1 };	/* dequeued */
		if
		:: toregs = false			/* request 1 asks for 0 registers */
		:: toregs = true			/* or for some */
		fi;
		atomic {				/* channel_hand_to: node_move */
			USE(q); ok = (nst[q] == NS_WAIT_CHANNEL);
			if
			:: ok && !toregs -> nst[q] = NS_GRANTED;
				printf("EV   K hands A's channel to request 1: granted\n")
			:: ok && toregs -> nst[q] = NS_WAIT_REGISTERS; nin[q] = IN_REGISTERS;
				printf("EV   K hands A's channel to request 1: it waits for registers\n")
			:: else -> toregs = false
			fi
		}
		if
		:: toregs -> skip			/* the server's now */
		:: !toregs && ok -> complete(TK, q)
		:: !toregs && !ok -> release_cancelled(TK, q)	/* it was cancelled */
		fi;
		atomic { q = 0; ok = false; toregs = false }
	:: atomic { nin[1] == IN_REGISTERS -> nin[1] = IN_NONE; q = 1 };
		/* serve_register_waiters: registers for request 1 are there */
		atomic {
			USE(q); ok = (nst[q] == NS_WAIT_REGISTERS);
			if :: ok -> nst[q] = NS_GRANTED :: else -> skip fi
		}
		if
		:: ok -> complete(TK, q)
		:: else -> COVER(6); release_cancelled(TK, q)	/* lost to a cancel */
		fi;
		atomic { q = 0; ok = false }
	:: atomic { nin[2] == IN_REGISTERS -> nin[2] = IN_NONE; head_kept = true };
		/* register_head: request 2 never fits; kept until cancelled */
	:: atomic { head_kept && nst[2] == NS_CANCELLED -> head_kept = false };
		q = 2;
		release_cancelled(TK, q);
		q = 0
	od
}

init
{
	c_code { char *e = getenv("REACH"); reach_env = e ? atoi(e) : 0; };
	atomic {
		run owner(reach_env);
		run canceller(reach_env);
		run backend(reach_env)
	}
	timeout;
	CHECK(finished == 2, "VIOLATION: deadlock: a thread is stuck\n");
	/* C20: exactly one of routine and cancel, per committed request */
	CHECK(((committed & BIT(1)) == 0 || ((ran & BIT(1)) != 0) != ((ctrue & BIT(1)) != 0)) &&
	      ((committed & BIT(2)) == 0 || ((ran & BIT(2)) == 0 && (ctrue & BIT(2)) != 0)),
	      "VIOLATION: C20: a request neither ran nor was cancelled, or both\n");
	CHECK(((committed | ran | ctrue) & ~(BIT(1) | BIT(2))) == 0, "VIOLATION: ghost\n")
}
