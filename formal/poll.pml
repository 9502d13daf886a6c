/*
 * poll.pml -- poll dispatch and its eventfd.
 *
 * Models (core/lockfree/poll.c, core/api/dispatch.c, core/base/eventfd.c):
 *   grant() for a MAPREG_DISPATCH_POLL adapter (the node enqueued, then the
 *   eventfd written if the enqueue's exchange found the queue empty),
 *   lf_poll_pop (the `polling` consumer token, the dequeue with its LAST
 *   state, the drain when it emptied the queue or found it empty, and the
 *   look at the tail after it; nothing on WOULDBLOCK), dispatch_poll (at
 *   most `max` routines per call), adapter_eventfd_signal and
 *   adapter_eventfd_drain (an eventfd counter: a write adds, a read empties
 *   it, or fails with EAGAIN when it is 0: readable iff not 0).
 *
 * Rules checked:
 *   C29  never unreadable while something is pending: whenever every thread
 *        is blocked or done (the pollers sleep on the eventfd), nothing is
 *        pending and every granted routine ran.  [assertions after
 *        `timeout`; and, under weak fairness, `ltl c29`: pending work is
 *        always eventually run]
 *   C16  a poll-mode routine runs only inside mapreg_poll, at most `max` per
 *        call, exactly once each.  [assertions]
 *
 * Threads and bounds: 3 requests, 4 threads.  G1 and G2 grant requests 1
 * and 2 (a free or cancel on another thread that made their grants); P1 and
 * P2 are pollers that sleep until the eventfd is readable, then call
 * mapreg_poll(adapter, 1), forever (epoll, level-triggered).  Request 1's
 * routine frees the channel and so grants request 3 from inside the poller
 * (C18: the grant runs grant() on the polling thread).
 *
 * Abstractions: sequential consistency: every access here is a locked
 * read-modify-write (the tail's exchange and compare-and-swap, the token's
 * CAS), a seq_cst load (the tail after a drain), a release store (the
 * token's), or a system call (the eventfd), all full barriers or covered by
 * the token's acquire/release; the queue's enqueue is the tail exchange then
 * the link store, two steps, and its single-consumer dequeue is one step
 * that sees NULL, WOULDBLOCK (a link not yet written) or a node, the last
 * one if its compare-and-swap put the tail back on the head (channel.pml
 * checks the queue step by step).  `pending` (granted, not yet popped) is
 * a ghost: the library keeps no such count.  The `eventfd_written` flag
 * (poll.c), which only spares drains, is not modelled: every drain reads.
 *
 * Liveness needs weak fairness here: without it a second poller, woken by
 * a readable eventfd while the first holds the token, returns 0 and polls
 * again forever (a non-progress cycle that only an unfair scheduler runs).
 *
 * Mutations (each must be caught; see check.sh):
 *   MUTANT_NO_RECHECK         lf_poll_pop does not look at the tail again
 *                             after draining the eventfd: lost wake-up.
 *   MUTANT_EMPTY_LOOKED_BEFORE  grant() decides whether it makes the queue
 *                             non-empty by a look at the tail before its
 *                             exchange, not by the exchange: a pop and
 *                             drain between them loses the write.
 *
 * Probes (REACH=n): 1 the eventfd is written; 2 a second poller gets
 * nothing; 3 a dequeue meets an unlinked node; 4 a drain; 5 the re-read
 * after a drain writes the eventfd again.
 */

#define NREQ	3
#define BIT(r)	(1 << (r))
#define NIL	0
#define HEADN	0
#define WOULDBLOCK 255

byte polling;			/* the consumer token */
byte efd;			/* the eventfd's counter */
byte pqnext[NREQ + 1];
byte pqtail;

/* Ghost. */
byte pending;			/* granted, not yet popped */
byte granted;
byte ran;
byte finished;			/* granters done */

#define VIOLATION(msg)	printf(msg); assert(false)
#define CHECK(c, msg)	if :: !(c) -> VIOLATION(msg) :: else -> skip fi
#define COVER(n)	assert(reach == 0 || reach != (n))
hidden byte reach_env;
c_code { \#include <stdlib.h> }

/* grant() of request r on a poll adapter. */
inline grant(r) {
#ifdef MUTANT_EMPTY_LOOKED_BEFORE
	first = (pqtail == HEADN);				/* a look, then */
	atomic { prev = pqtail; pqtail = r;			/* enqueue: xchg */
#else
	atomic { prev = pqtail; pqtail = r; first = (prev == HEADN);
#endif
		 pending++; granted = granted | BIT(r);
		 printf("EV   request %d granted: enqueued, first %d\n", r, first) };
	atomic { pqnext[prev] = r; printf("EV   request %d linked\n", r) };	/* link */
	if
	:: first -> atomic { efd++; COVER(1); printf("EV   eventfd written (%d)\n", efd) }
	:: else -> skip
	fi;
	atomic { first = false; prev = 0 }
}

proctype granter(byte r; byte reach)
{
	bool first;
	byte prev;

	grant(r);
	finished++
}

/*
 * A poller: sleeps until the eventfd is readable, then mapreg_poll(adapter, 1):
 * dispatch_poll with lf_poll_pop.
 */
proctype poller(byte reach)
{
	bool first, got, last, wb;
	byte prev, req, ranhere;

end:	do
	:: efd > 0 ->
		ranhere = 0;
		do
		:: ranhere == 1 -> break		/* max */
		:: else ->
			/* lf_poll_pop */
			req = 0;
			atomic { got = (polling == 0); if :: got -> polling = 1 :: else -> skip fi };
			if
			:: !got -> COVER(2); break		/* a second poller gets nothing */
			:: else -> skip
			fi;
			atomic {	/* __cds_wfcq_dequeue_with_state_nonblocking */
				req = pqnext[HEADN]; last = false; wb = false;
				if
				:: req == NIL && pqtail == HEADN -> skip
				:: req == NIL && pqtail != HEADN -> wb = true; COVER(3)
				:: req != NIL && pqnext[req] != NIL -> pqnext[HEADN] = pqnext[req]
				:: req != NIL && pqnext[req] == NIL && pqtail == req ->
					pqnext[HEADN] = NIL; pqtail = HEADN; last = true
				:: req != NIL && pqnext[req] == NIL && pqtail != req ->
					req = 0; wb = true; COVER(3)
				fi;
				if
				:: req != 0 ->
					pending--;
					printf("EV   a poller pops request %d (last %d)\n", req, last)
				:: else -> skip
				fi
			}
			polling = 0;				/* release */
			if
			:: req != 0 && !last -> goto runit	/* more queued: no drain */
			:: wb -> break				/* the queue was never empty */
			:: else -> skip
			fi;
			/* emptied, or found empty: drain, then look again */
			atomic { efd = 0; COVER(4); printf("EV   a poller drains the eventfd\n") };
#ifndef MUTANT_NO_RECHECK
			if
			:: pqtail != HEADN ->			/* seq_cst load; signal */
				atomic { efd++; COVER(5); printf("EV   a poller writes the eventfd again\n") }
			:: else -> skip
			fi;
#endif
			if
			:: req == 0 -> break			/* NULL: the call returns */
			:: else -> skip
			fi;
runit:
			/* run_routine: C16, once, inside mapreg_poll */
			atomic {
				CHECK((ran & BIT(req)) == 0, "VIOLATION: C16: a routine runs twice\n");
				CHECK((granted & BIT(req)) != 0, "VIOLATION: a routine runs ungranted\n");
				ran = ran | BIT(req); ranhere++;
				printf("EV   a poller runs request %d's routine\n", req)
			}
			if
			:: req == 1 -> grant(3)		/* its free grants request 3 */
			:: else -> skip
			fi
		od;
		atomic { ranhere = 0; req = 0; got = false; last = false; wb = false }
	od
}

#define ALL	(BIT(1) | BIT(2) | BIT(3))

init
{
	c_code { char *e = getenv("REACH"); reach_env = e ? atoi(e) : 0; };
	atomic {
		run granter(1, reach_env);
		run granter(2, reach_env);
		run poller(reach_env);
		run poller(reach_env)
	}
	timeout;			/* the granters are done, the pollers asleep */
	CHECK(finished == 2, "VIOLATION: deadlock: a granter is stuck\n");
	CHECK(pending == 0 && ran == ALL,
	      "VIOLATION: C29: work is pending while the eventfd is unreadable\n")
}

#ifndef NOCLAIM
/* Under weak fairness, pending work is always eventually run. */
ltl c29 { [] ((pending > 0) -> <> (pending == 0)) }
#endif
