/*
 * poll.pml -- poll dispatch and its eventfd.
 *
 * Models (core/lockfree/poll.c, core/api/dispatch.c, core/base/eventfd.c):
 *   grant() for a MAPREG_DISPATCH_POLL adapter (poll_pending counted, then
 *   the node enqueued, then the eventfd written if the count rose from 0),
 *   lf_poll_pop (the `polling` consumer token, the dequeue, the decrement,
 *   the drain when the count falls to 0 and the re-read after it),
 *   dispatch_poll (at most `max` routines per call), adapter_eventfd_signal
 *   and adapter_eventfd_drain (an eventfd counter: a write adds, a read
 *   empties it, or fails with EAGAIN when it is 0: readable iff not 0).
 *
 * Rules checked:
 *   C29  never unreadable while something is pending: whenever every thread
 *        is blocked or done (the pollers sleep on the eventfd), nothing is
 *        pending and every granted routine ran.  [assertions after
 *        `timeout`; and, under weak fairness, `ltl c29`: pending work is
 *        always eventually run]
 *   C16  a poll-mode routine runs only inside mapreg_poll, at most `max` per
 *        call, exactly once each.  [assertions]
 *   poll_pending never falls below 0 (the decrement of a popped node always
 *   finds it counted).  [assertion]
 *
 * Threads and bounds: 3 requests, 4 threads.  G1 and G2 grant requests 1
 * and 2 (a free or cancel on another thread that made their grants); P1 and
 * P2 are pollers that sleep until the eventfd is readable, then call
 * mapreg_poll(adapter, 1), forever (epoll, level-triggered).  Request 1's
 * routine frees the channel and so grants request 3 from inside the poller
 * (C18: the grant runs grant() on the polling thread).
 *
 * Abstractions: sequential consistency: every access here is a locked
 * read-modify-write (poll_pending, the token's CAS), a seq_cst load, a
 * release store (the token's), or a system call (the eventfd), all full
 * barriers or covered by the token's acquire/release; the queue's enqueue is
 * the tail exchange then the link store, two steps, and its single-consumer
 * dequeue is one step that sees NULL, WOULDBLOCK (a link not yet written) or
 * a node (channel.pml checks the queue step by step).
 *
 * Liveness needs weak fairness here: without it a second poller, woken by
 * a readable eventfd while the first holds the token, returns 0 and polls
 * again forever (a non-progress cycle that only an unfair scheduler runs).
 *
 * Mutations (each must be caught; see check.sh):
 *   MUTANT_NO_RECHECK         lf_poll_pop does not read poll_pending again
 *                             after draining the eventfd: lost wake-up.
 *   MUTANT_COUNT_AFTER_QUEUE  grant() counts the node after enqueuing it: the
 *                             poller's decrement can pass zero.
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

byte pending;			/* poll_pending */
byte polling;			/* the consumer token */
byte efd;			/* the eventfd's counter */
byte pqnext[NREQ + 1];
byte pqtail;

/* Ghost. */
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
#ifndef MUTANT_COUNT_AFTER_QUEUE
	atomic {					/* fetch_add, acq_rel */
		first = (pending == 0); pending++; granted = granted | BIT(r);
		printf("EV   request %d granted: poll_pending %d\n", r, pending)
	};
#endif
	atomic { prev = pqtail; pqtail = r };			/* enqueue: xchg */
	atomic { pqnext[prev] = r; printf("EV   request %d queued\n", r) };	/* link */
#ifdef MUTANT_COUNT_AFTER_QUEUE
	atomic {
		first = (pending == 0); pending++; granted = granted | BIT(r);
		printf("EV   request %d granted: poll_pending %d\n", r, pending)
	};
#endif
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
	bool first, got;
	byte prev, req, ranhere, old;

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
			atomic {				/* __cds_wfcq_dequeue_nonblocking */
				req = pqnext[HEADN];
				if
				:: req == NIL && pqtail == HEADN -> skip
				:: req == NIL && pqtail != HEADN -> req = 0; COVER(3)	/* WOULDBLOCK */
				:: req != NIL && pqnext[req] != NIL -> pqnext[HEADN] = pqnext[req]
				:: req != NIL && pqnext[req] == NIL && pqtail == req ->
					pqnext[HEADN] = NIL; pqtail = HEADN
				:: req != NIL && pqnext[req] == NIL && pqtail != req -> req = 0; COVER(3)
				fi
			}
			polling = 0;				/* release */
			if
			:: req != 0 ->
				atomic {			/* fetch_sub, acq_rel */
					CHECK(pending > 0, "VIOLATION: poll_pending falls below 0\n");
					old = pending; pending--;
					printf("EV   a poller pops request %d: poll_pending %d\n", req, pending)
				}
				if
				:: old != 1 -> goto runit	/* others pending: no drain */
				:: else -> skip
				fi
			:: else ->
				if
				:: pending != 0 -> break	/* WOULDBLOCK: its granter signals */
				:: else -> skip
				fi
			fi;
			/* the count fell to 0 (or was 0): drain, then look again */
			atomic { efd = 0; COVER(4); printf("EV   a poller drains the eventfd\n") };
#ifndef MUTANT_NO_RECHECK
			if
			:: pending != 0 ->			/* seq_cst load; signal */
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
				ran = ran | BIT(req); ranhere++; old = 0;
				printf("EV   a poller runs request %d's routine\n", req)
			}
			if
			:: req == 1 -> grant(3)		/* its free grants request 3 */
			:: else -> skip
			fi
		od;
		atomic { ranhere = 0; req = 0; got = false; old = 0 }
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
