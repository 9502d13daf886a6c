/*
 * poll.pml -- poll dispatch and its eventfd.
 *
 * Models (core/lockfree/poll.c, core/api/dispatch.c, core/base/eventfd.c):
 *   grant() for a MAPREG_DISPATCH_POLL adapter (the grant stored in the
 *   adapter's one slot, then the eventfd written), lf_poll_pop (the slot
 *   taken by an exchange, the eventfd drained, the slot looked at again and
 *   the eventfd written if a grant is there), dispatch_poll (at most `max`
 *   routines per call), adapter_eventfd_signal and adapter_eventfd_drain (an
 *   eventfd counter: a write adds, a read empties it, or fails with EAGAIN
 *   when it is 0: readable iff not 0).
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
 * Threads and bounds: 3 requests of one adapter, 4 threads.  The slot holds
 * one grant because the channel (C11) lets a request of the adapter be
 * granted only after the routine of the one before ran; the model's
 * environment keeps to that, and checks it ("two grants pending").
 *   G1 grants request 1 (a free on another thread).
 *   G2 grants request 2 once request 1's routine ran (a free on another
 *      thread, after the channel passed to request 2): its store and write
 *      race with the pollers' next calls.
 *   P1, P2 sleep until the eventfd is readable, then call
 *      mapreg_poll(adapter, 1), forever (epoll, level-triggered).
 *   Request 2's routine grants request 3 from inside the poller (C18: the
 *   grant runs grant() on the polling thread).
 *
 * Abstractions: sequential consistency: every access here is a locked
 * read-modify-write (the slot's exchange), a seq_cst load (the slot after a
 * drain), a release store (the grant's), or a system call (the eventfd),
 * all full barriers or ordered by the system calls around them.  The
 * `eventfd_written` flag (poll.c), which only spares drains, is not
 * modelled: every drain reads.
 *
 * Liveness needs weak fairness here: without it a second poller, woken by a
 * readable eventfd, may lose every exchange to the first and poll again
 * forever (a non-progress cycle that only an unfair scheduler runs).
 *
 * Mutations (each must be caught; see check.sh):
 *   MUTANT_NO_RECHECK         lf_poll_pop does not look at the slot again
 *                             after draining the eventfd: a grant stored
 *                             between a poller's exchange and its drain
 *                             loses its write.
 *   MUTANT_WRITE_BEFORE_STORE grant() writes the eventfd before it stores
 *                             the slot: a woken poller finds it empty,
 *                             drains and looks before the store.
 *
 * Probes (REACH=n): 1 the eventfd is written; 2 a poller's exchange finds
 * the slot empty; 3 a poller takes a grant; 4 a drain; 5 the look after a
 * drain writes the eventfd again.
 */

#define NREQ	3
#define BIT(r)	(1 << (r))

byte slot;			/* poll_slot: 0 or a request */
byte efd;			/* the eventfd's counter */

/* Ghost. */
byte granted;
byte ran;
byte finished;			/* granters done */

#define VIOLATION(msg)	printf(msg); assert(false)
#define CHECK(c, msg)	if :: !(c) -> VIOLATION(msg) :: else -> skip fi
#define COVER(n)	assert(reach == 0 || reach != (n))
hidden byte reach_env;
c_code { \#include <stdlib.h> }

inline eventfd_write() {
	atomic { efd++; printf("EV   eventfd written (%d)\n", efd) }
}

/* grant() of request r on the poll adapter. */
inline grant(r) {
	atomic {
		CHECK(slot == 0, "VIOLATION: model: two grants pending on one adapter\n");
		granted = granted | BIT(r)
	};
#ifdef MUTANT_WRITE_BEFORE_STORE
	eventfd_write(); COVER(1);
	atomic { slot = r; printf("EV   request %d granted: stored\n", r) }
#else
	atomic { slot = r; printf("EV   request %d granted: stored\n", r) };	/* release */
	eventfd_write(); COVER(1)
#endif
}

proctype granter(byte r; byte reach)
{
	if
	:: r == 2 -> (ran & BIT(1)) != 0	/* the channel passed on after routine 1 */
	:: else -> skip
	fi;
	grant(r);
	finished++
}

/*
 * A poller: sleeps until the eventfd is readable, then mapreg_poll(adapter, 1):
 * dispatch_poll with lf_poll_pop.
 */
proctype poller(byte reach)
{
	byte req, ranhere;

end:	do
	:: efd > 0 ->
		ranhere = 0;
		do
		:: ranhere == 1 -> break		/* max */
		:: else ->
			/* lf_poll_pop: the idle path's two loads are a shortcut to "nothing" */
			atomic {				/* exchange, acquire */
				req = slot; slot = 0;
				if
				:: req == 0 -> COVER(2)
				:: else -> COVER(3); printf("EV   a poller takes request %d\n", req)
				fi
			}
			atomic { efd = 0; COVER(4); printf("EV   a poller drains the eventfd\n") };
#ifndef MUTANT_NO_RECHECK
			if
			:: slot != 0 ->				/* seq_cst load; write */
				atomic { efd++; COVER(5); printf("EV   a poller writes the eventfd again\n") }
			:: else -> skip
			fi;
#endif
			if
			:: req == 0 -> break			/* NULL: the call returns */
			:: else -> skip
			fi;
			/* run_routine: C16, once, inside mapreg_poll */
			atomic {
				CHECK((ran & BIT(req)) == 0, "VIOLATION: C16: a routine runs twice\n");
				CHECK((granted & BIT(req)) != 0, "VIOLATION: a routine runs ungranted\n");
				ran = ran | BIT(req); ranhere++;
				printf("EV   a poller runs request %d's routine\n", req)
			}
			if
			:: req == 2 -> grant(3)		/* its answer passes the channel to 3 */
			:: else -> skip
			fi
		od;
		atomic { ranhere = 0; req = 0 }
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
	CHECK(slot == 0 && ran == granted,
	      "VIOLATION: C29: work is pending while the eventfd is unreadable\n");
	CHECK(finished == 2 && ran == ALL, "VIOLATION: deadlock: a granter is stuck\n")
}

#ifndef NOCLAIM
/* Under weak fairness, pending work is always eventually run. */
ltl c29 { [] ((slot != 0) -> <> (slot == 0)) }
#endif
