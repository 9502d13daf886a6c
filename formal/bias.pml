/*
 * bias.pml -- the biased channel: an adapter's channel taken and given back
 * by its owner with plain stores, and the bias's revocation.
 *
 * Models (core/lockfree/bias.h, bias.c, and the entry points of channel.c
 * and request.c that look at a BIASED word):
 *   bias_mine (with bias_claim under -DCLAIM), bias_state, bias_store (the
 *   owner's plain store of bias_held, the compiler barrier, the relaxed load
 *   of the word, bias_revoked_seen), bias_take, bias_release, bias_revoke
 *   (the seq_cst CAS BIASED -> REVOKING, fence_heavy() unless the revoker
 *   is the owner, the acquire load of bias_held, bias_seen, the release
 *   store of the real word with one new hold count for SYNC),
 *   wait_while_revoking; take_now; the BIASED/REVOKING branches of
 *   channel_take (from SYNC: ending a biased C8 hold; from KEPT),
 *   channel_take_free, channel_pass_on, channel_hold (SYNC and KEPT),
 *   channel_end_sync_keeping_run; submit_queued (its self-revocation when it
 *   holds the channel is the bias_state != FREE branch of bias_take here:
 *   a second request while the owner holds its channel, which in the
 *   library is a request made while its own C8 hold is open: check.c
 *   refuses a routine's request on its own adapter); with -DRECORD, the kept-run records' own bias:
 *   registers_keep and lf_free_map_registers: bias_claim_record (the
 *   owner's plain claim of a record under bias_busy while bias_records is
 *   1), bias_records_revoke (CAS 1 -> 2, fence_heavy(), the wait for
 *   bias_busy to fall, 0) and the record's CAS.  The real protocol after
 *   the revocation (proven by channel.pml) is abstracted to atomic steps:
 *   channel_take_free (CAS FREE -> HELD, and if the queue is not empty,
 *   pass on), channel_pass_on's real part (grant the queue's head, or
 *   release FREE), submit_queued's enqueue with its take of a FREE channel,
 *   channel_hold's store, the CAS of channel_end_sync_keeping_run and of
 *   channel_take (the word's hold count included).
 *
 * Rules checked:
 *   mutual exclusion: the channel has at most one holder (the owner while
 *        its biased state is HELD or SYNC, a request granted in the real
 *        word, a C8 or KEEP_OBJECT holder, destroy).  [ghost, at every take
 *        and grant]
 *   C11  a request whose submission returned queued is not overtaken by a
 *        take (biased or real, the owner's or destroy's) that began after
 *        that return; the queue grants in order.  [assertion at every take]
 *   C14  no lost wake-up: once nothing can move, every thread finished, no
 *        request waits, the queue is empty, and the channel is FREE, or
 *        still BIASED with its owner's state FREE.  [after `timeout`]
 *   C24  a C8 hold is ended exactly once: of the owner's end and a foreign
 *        mapreg_free_adapter_object racing it, one succeeds; an end that
 *        read one hold never ends a later one (the word's hold count); the
 *        owner's end fails only if another thread ended its hold.
 *        [assertions at every end, and after `timeout`]
 *   C23  (-DRECORD) a kept run is freed exactly once: of the owner's plain
 *        claim and another thread's CAS racing it, one succeeds.
 *        [assertion at every free, and after `timeout`]
 *   The bias invariant (bias.h): no operation of channel.c's real protocol
 *   (queue, take, pass-on, hold store) runs on a BIASED or REVOKING word.
 *   Termination: every wait (wait_while_revoking, a queued request's wait
 *   for its grant) is a blocking guard and every loop is bounded by the
 *   owner's cycles, so every execution is finite and `timeout` in init is
 *   reached on all: a revocation waited on forever, or a request never
 *   granted, fails the end assertions.
 *
 * Threads and bounds (one adapter, requests of 0 registers):
 *   O   the owner (bias_owner is O from the start; -DCLAIM: nobody, and the
 *       first taker claims it), NCYC = 2 cycles, each one of:
 *       - a request (asynchronous, with a routine): take_now; granted: the
 *         routine answers DEALLOCATE_OBJECT (channel_pass_on) or
 *         KEEP_OBJECT (channel_hold(KEPT), then mapreg_free_channel:
 *         channel_take(KEPT), channel_pass_on), or first submits a nested
 *         request on the same adapter (the bias is held: self-revocation,
 *         then it queues; the owner waits for it after its routine);
 *         not granted: submit_queued, wait for the grant, pass on;
 *       - a C8 hold (lf_hold: take_now, channel_hold(SYNC)), then its end:
 *         KEEP_REGISTERS (channel_end_sync_keeping_run) or DEALLOCATE_OBJECT
 *         (channel_take(SYNC), channel_pass_on); a failed take is C8's
 *         INSUFFICIENT_RESOURCES.
 *   F1, F2 (-DONE_FOREIGN: F1 only) other threads, each one of:
 *       (a) a request (take_now: the bias is not theirs, so
 *           channel_take_free revokes; queued if it must, waits for its
 *           grant; its routine answers DEALLOCATE_OBJECT);
 *       (b) mapreg_free_adapter_object on the owner's C8 hold, from
 *           another thread: KEEP_REGISTERS or DEALLOCATE_OBJECT (revokes,
 *           then the real end; C24: racing the owner's own end);
 *       (c) destroy's channel_take_free (revokes; if it gets the channel,
 *           gives it back with channel_pass_on, as a BUSY destroy);
 *       (d) -DRECORD: mapreg_free_map_registers on the run the owner's
 *           first hold kept, once the end that kept it returned (or the
 *           owner finished): a double free racing the keeper's own free.
 *       With -DRECORD, the thread whose end kept a run frees it at once.
 *   Configurations (check.sh): two foreign threads (two revokers race);
 *   -DRECORD -DONE_FOREIGN (the records); -DCLAIM -DRECORD -DONE_FOREIGN.
 *   A granted routine runs on the thread of its request (the trampoline's
 *   thread does not matter to the channel: channel_pass_on is one step).
 *
 * Atomicity: every shared load, store and CAS is one step (the owner's
 * look at bias_records and its load of a record in bias_claim_record are
 * two; its first looks at bias_records and bias_owner are one); a relaxed look
 * followed by a CAS that only filters (bias_revoke's, channel_take_free's)
 * is merged into the CAS; wait_while_revoking's last acquire load and the
 * relaxed load of bias_seen that follows it are one step (bias_seen is
 * written before the release store that ends REVOKING).  bias_claim is one
 * step.  The ghost bookkeeping rides in the step it describes: the owner's
 * biased transition takes effect at its load of the word that sees BIASED
 * (or, revoked, at its read of bias_seen); a holder's critical section ends
 * when it calls the release.
 *
 * Memory model: x86-TSO for the Dekker pairs of the bias.  A plain store
 * (the owner's to bias_held and bias_busy, a record's by registers_keep or
 * by the owner's plain claim) enters the thread's store buffer (one entry
 * per thread; process `memory` commits it at any moment; a second store,
 * or a locked instruction of that thread, commits it first); the thread's
 * own loads see it; its load of the word may be satisfied while the store
 * is still buffered.  fence_heavy() (membarrier PRIVATE_EXPEDITED) is one
 * step that commits every thread's buffered store (a thread running on a
 * CPU is interrupted and fenced; a preempted one was fenced when switched
 * out).  Every other access is sequentially consistent (the real
 * protocol's own orders are channel.pml's).
 *
 * Mutations (each must be caught by SPIN; see check.sh):
 *   MUTANT_NO_MEMBARRIER     the revoker does not fence: the owner's load
 *                            saw BIASED while its store sat in its buffer,
 *                            and the revoker reads the older bias_held.
 *   MUTANT_IGNORE_SEEN       the owner takes its transition for done
 *                            whenever its load finds the word no longer
 *                            BIASED (bias_seen ignored).
 *   MUTANT_READ_BEFORE_REVOKE the revoker reads bias_held before its CAS to
 *                            REVOKING (and fences after it).
 *   MUTANT_HOLDER_SKIPS_REVOKING  channel_pass_on and channel_hold test the
 *                            word for BIASED only: found REVOKING, they run
 *                            the real protocol on it (the code as first
 *                            written); with -DNO_REAL_CHECK (no invariant
 *                            assertion) its consequence: the owner's FREE is
 *                            overwritten by the revoker's HELD, and every
 *                            later request waits forever.
 *   MUTANT_NO_BUSY_WAIT      (-DRECORD) bias_records_revoke does not wait
 *                            for bias_busy: the owner's plain claim of a
 *                            record and the foreign free's CAS both succeed
 *                            (C23).
 *
 * Probes (REACH=n, check.sh): 1 the owner finds the bias revoked and
 * bias_seen equal to its store (the revoker read it); 2 bias_seen is the
 * state before (the owner applies its transition in the real word); 3 a
 * revoker reads HELD; 4 SYNC; 5 FREE; 6 two revokers race (a CAS finds
 * REVOKING); 7 the double end: the owner's end fails because a foreign end
 * won; 8 a foreign end fails at its CAS because the owner's end won; 9
 * fence_heavy() commits the owner's buffered store; 10 the owner revokes
 * its own bias (KEEP_OBJECT or a nested request); 11 the owner's real
 * pass-on grants a foreign request queued behind the converted HELD; 12
 * the owner's own request, refused after the revocation, queues; 13 a
 * foreign thread claims the bias (-DCLAIM); 14 the owner claims a kept
 * run's record with plain stores; 15 bias_records_revoke waits for
 * bias_busy; 16 the owner's record claim finds bias_records no longer 1
 * after raising bias_busy, and uses the CAS (14-16: -DRECORD); 17 the
 * owner's C8 hold skips the word's load (channel_hold_owned) when the word
 * is no longer BIASED, and its store of SYNC decides.
 */

#ifdef ONE_FOREIGN
#define NTHR	2		/* O = 0, F1 = 1 */
#else
#define NTHR	3		/* O = 0, F1 = 1, F2 = 2 */
#endif
#define O	0
#define NCYC	2
#define RNEST	3		/* request id of the owner's nested request */
#define NREQ	4		/* request ids: a thread's own (0..2), the nested one */
#define BIT(r)	(1 << (r))

/* enum channel_state */
#define CH_FREE		0
#define CH_HELD		1
#define CH_KEPT		2
#define CH_SYNC		3
#define CH_PARKED	4
#define CH_BIASED	5
#define CH_REVOKING	6

/* enum bias_held */
#define BIAS_FREE	0
#define BIAS_HELD	1
#define BIAS_SYNC	2
#define NOSEEN		7

/* The channel word: its state and its hold count; and the adapter's bias. */
byte ch = CH_BIASED;
byte hc;			/* hold count (CH_ONE_HOLD units) */
#ifdef CLAIM
byte owner = 0;			/* bias_owner: 0, or thread + 1 */
#else
byte owner = O + 1;
#endif
byte held = BIAS_FREE;		/* bias_held in memory */
byte seen = NOSEEN;		/* bias_seen */

/* The channel queue (real protocol, abstract): request ids in FIFO order. */
byte q[NREQ];
byte qlen;

/* The kept-run records (C23) of the owner's holds 1 and 2, and bias_busy. */
byte rec[NCYC + 1];		/* 1: kept (RUN_RECORD ... RUN_KEPT), 0: none */
byte busy;			/* bias_busy */
byte recb = 1;			/* bias_records: 1 biased, 2 revoking, 0 for good */

/*
 * Store buffers: one entry per thread.  The plain stores buffered are the
 * owner's to bias_held and bias_busy, and every registers_keep and plain
 * record claim (address A_REC + hold).
 */
#define A_HELD	1
#define A_BUSY	2
#define A_REC	2		/* + 1 or 2: rec[1], rec[2] */
bool sbf[NTHR];
byte sba[NTHR];
byte sbv[NTHR];
byte sbid[NTHR];		/* ghost: the hold a stored SYNC is */
byte held_id;			/* ghost: the hold bias_held's SYNC in memory is */

/* Ghost state. */
byte holders;			/* requests (ids) holding the channel */
byte waiting;			/* requests in the queue */
byte retq;			/* ... whose submission has returned */
byte whold;			/* the hold the word's SYNC is */
byte nholds;			/* C8 holds begun (ids 1..NCYC) */
byte ends[NCYC + 1];		/* successful ends per hold */
byte finished;
bool revoked;
bool odone;			/* the owner has finished */
bool kept_ret[NCYC + 1];	/* the end that kept hold i's run has returned */
byte rkept[NCYC + 1];		/* hold i's run was kept */
byte rfreed[NCYC + 1];		/* ... and freed (successful frees) */

#define VIOLATION(msg)	printf(msg); assert(false)
#define CHECK(c, msg)	if :: !(c) -> VIOLATION(msg) :: else -> skip fi

/* Reachability probes: REACH=n makes probe n fail when reached (check.sh). */
#define COVER(n)	assert(reach == 0 || reach != (n))
hidden byte reach_env;
c_code { \#include <stdlib.h> }

/* ---- memory: the owner's bias_held store buffer ---- */

inline flush1(t) {
	if
	:: sba[t] == A_HELD -> held = sbv[t]; held_id = sbid[t];
		printf("MEM  T%d's store bias_held = %d reaches memory\n", t, sbv[t])
	:: sba[t] == A_BUSY -> busy = sbv[t];
		printf("MEM  T%d's store bias_busy = %d reaches memory\n", t, sbv[t])
	:: sba[t] > A_REC -> rec[sba[t] - A_REC] = sbv[t];
		printf("MEM  T%d's store record[%d] = %d reaches memory\n", t, sba[t] - A_REC, sbv[t])
	fi;
	sbf[t] = false; sba[t] = 0; sbv[t] = 0; sbid[t] = 0
}
inline drain(t) {
	if :: sbf[t] -> flush1(t) :: else -> skip fi
}
#define LD_HELD(t)	((sbf[t] && sba[t] == A_HELD) -> sbv[t] : held)
#define LD_HELD_ID(t)	((sbf[t] && sba[t] == A_HELD) -> sbid[t] : held_id)
#define LD_BUSY(t)	((sbf[t] && sba[t] == A_BUSY) -> sbv[t] : busy)
#define LD_REC(t, i)	((sbf[t] && sba[t] == A_REC + (i)) -> sbv[t] : rec[i])

/* A plain (relaxed or release) store: into the buffer, behind the older entry. */
inline st_buf(t, a, v, i) {
	drain(t); sba[t] = a; sbv[t] = v; sbid[t] = i; sbf[t] = true
}

active proctype memory()
{
end:	do
	:: atomic { sbf[0] -> flush1(0) }
	:: atomic { sbf[1] -> flush1(1) }
#ifndef ONE_FOREIGN
	:: atomic { sbf[2] -> flush1(2) }
#endif
	od
}

/* fence_heavy(): membarrier(PRIVATE_EXPEDITED): every thread's store is visible. */
inline fence_heavy(t) {
	atomic {
		if :: sbf[O] && sba[O] == A_HELD -> COVER(9) :: else -> skip fi;
		drain(0); drain(1);
#ifndef ONE_FOREIGN
		drain(2);
#endif
		printf("EV   T%d: fence_heavy (membarrier)\n", t)
	}
}

/* ---- ghost bookkeeping ---- */

/* Request r gets the channel: nobody else holds it. */
inline ghost_hold(r) {
	CHECK(holders == 0, "VIOLATION: mutual exclusion: two holders of the channel\n");
	holders = BIT(r);
	printf("EV   request %d holds the channel\n", r)
}
/* A take that began when `bef` (returned, queued) requests were waiting. */
inline ghost_take(r) {
	CHECK((bef & waiting) == 0,
	      "VIOLATION: C11 overtake: a take passes a request whose submission returned queued\n");
	ghost_hold(r)
}
/* A C8 hold is ended (its end succeeded): once, and the channel is no longer the owner's. */
inline ghost_end(id) {
	CHECK(id != 0 && ends[id] == 0, "VIOLATION: C24: a C8 hold is ended twice\n");
	ends[id] = 1;
	holders = holders & ~BIT(O);
	printf("EV   hold %d ended\n", id)
}

/* The bias invariant: the real protocol never runs on a BIASED or REVOKING word. */
#ifdef NO_REAL_CHECK
#define REAL_WORD	skip
#define HOLDER(msg)	skip
#else
#define REAL_WORD	CHECK(ch < CH_BIASED, \
	"VIOLATION: the real protocol runs on a BIASED or REVOKING word\n")
#define HOLDER(msg)	CHECK(ch == CH_HELD, msg)
#endif

/* ---- the real protocol, abstract (channel.pml proves it) ---- */

/* channel_pass_on's real part, by the channel's holder (HELD) for nobody. */
inline pass_real(t) {
	REAL_WORD;
	HOLDER("VIOLATION: channel_pass_on by a thread that does not hold the channel\n");
	if
	:: qlen > 0 ->
		r = q[0]; q[0] = q[1]; q[1] = q[2]; q[2] = q[3]; q[3] = 0; qlen--;
		waiting = waiting & ~BIT(r); retq = retq & ~BIT(r);
		if :: t == O && r != RNEST -> COVER(11) :: else -> skip fi;
		printf("EV   T%d passes the channel on to request %d\n", t, r);
		ghost_hold(r)
	:: else ->
		ch = CH_FREE;
		printf("EV   T%d releases the channel FREE\n", t)
	fi
}

/* ---- small pieces (expanded in place) ---- */

/* bias_mine(word): the word is BIASED and the caller owns it, or claims it. */
inline bias_mine(t, w, mine) {
	atomic {
		if
		:: w == CH_BIASED && owner == t + 1 -> mine = true
		:: w == CH_BIASED && owner == 0 -> owner = t + 1; mine = true;	/* bias_claim */
			if :: t != O -> COVER(13) :: else -> skip fi;
			printf("EV   T%d claims the bias\n", t)
		:: else -> mine = false
		fi
	}
}

/*
 * The owner's biased transition `kind` takes effect (bias_store returned
 * true, or bias_seen says the revoker read it).
 */
#define K_TAKE		1	/* FREE -> HELD: bias_take */
#define K_HOLD		2	/* HELD -> SYNC: channel_hold */
#define K_END		3	/* SYNC -> FREE: channel_end_sync_keeping_run */
#define K_TAKESYNC	4	/* SYNC -> HELD: channel_take(SYNC) */
#define K_RELEASE	5	/* HELD -> FREE: bias_release */
inline ghost_bias(kind, id) {
	if
	:: kind == K_TAKE -> ghost_take(req)
	:: kind == K_END -> ghost_end(id)
	:: kind == K_TAKESYNC -> ghost_end(id); ghost_hold(req)
	:: else -> skip
	fi
}

/* submit_queued (not holding the channel): enqueue, fence, take FREE. */
inline submit_queued(t) {
	atomic {
		REAL_WORD;
		q[qlen] = req; qlen++; waiting = waiting | BIT(req);
		if :: t == O && req == O -> COVER(12) :: else -> skip fi;
		printf("EV   T%d enqueues request %d\n", t, req);
		if
		:: ch == CH_FREE -> ch = CH_HELD;
			printf("EV   T%d takes the FREE channel after enqueuing\n", t);
			pass_real(t)
		:: else -> skip
		fi
	}
	atomic {		/* the submission returns */
		if :: waiting & BIT(req) -> retq = retq | BIT(req) :: else -> skip fi;
		r = 0
	}
}

/* Reload the word (and, ghost, the hold its SYNC is) after a revocation. */
inline reload() {
	atomic { w = ch; whc = hc; rid = whold }
}

/* A kept run's record is claimed: once (C23). */
inline ghost_free(i) {
	CHECK(rkept[i] != 0 && rfreed[i] == 0, "VIOLATION: C23: a kept run is freed twice\n");
	rfreed[i] = 1;
	printf("EV   T%d frees hold %d's kept run\n", t, i)
}

/*
 * One proctype serves every thread, and each C function below exists once
 * in it (as in channel.pml: inline expansion made pan.c eight times larger
 * and its compilation take most of a minute).  A function is a labelled
 * block, called by setting its return code and jumping to it; it jumps back
 * through that code.  Nothing recurses, so one return code per function
 * suffices.  Arguments and results are the thread's locals named below.
 */
#define CALL(f, n)	ret_##f = n; goto f; f##_r##n: skip
#define BACK(f, n)	:: ret_##f == n -> ret_##f = 0; goto f##_r##n

proctype thread(byte t; byte reach)
{
	byte w, whc, rid, s, h, hid, bid, kid, cl, r, id, bef, req, cyc;
	bool got, ok, won, mine, keep, done, nested;
	bool owned;		/* TAKENOW took the channel by bias_take's store */
	byte st_to, st_id, st_kind, hstate, frun;		/* arguments */
	bool st_ok;					/* bias_store's result */
	byte ret_REVOKE, ret_STORE, ret_TAKEFREE, ret_TAKENOW, ret_PASSON,
	     ret_HOLD, ret_ENDKEEP, ret_TAKESYNC, ret_FREERUN;

	if
	:: t == O ->
		do
		:: cyc < NCYC -> cyc++;
			req = O;
			if
			:: keep = false		/* a request with a routine */
			:: keep = true		/* a C8 hold (lf_hold) */
			fi;
			CALL(TAKENOW, 1);
			if
			:: !keep && got ->
				if
				:: skip			/* the routine answers DEALLOCATE_OBJECT */
				:: /* KEEP_OBJECT, then mapreg_free_channel: channel_take(KEPT) */
					hstate = CH_KEPT; CALL(HOLD, 1);
					atomic {	/* (a BIASED word would make it fail: no KEPT hold) */
						CHECK(ch == CH_KEPT, "VIOLATION: C22: the KEEP_OBJECT hold is lost\n");
						ch = CH_HELD;
						printf("EV   T%d takes its KEPT channel back\n", t)
					}
				:: /* the routine submits a nested request on the adapter */
					req = RNEST; nested = true;
					CALL(TAKENOW, 2);
					CHECK(!got, "VIOLATION: mutual exclusion: a nested request takes the held channel\n");
					submit_queued(t);
					req = O
				fi;
				CALL(PASSON, 1);
				if
				:: nested -> req = RNEST; nested = false;
					(waiting & BIT(req)) == 0;	/* granted: its routine runs */
					CALL(PASSON, 2)
				:: else -> skip
				fi
			:: !keep && !got ->
				submit_queued(t);
				(waiting & BIT(req)) == 0;		/* granted: its routine runs */
				CALL(PASSON, 3)
			:: keep && got ->
				hstate = CH_SYNC; CALL(HOLD, 2);	/* the channel stays the owner's */
				atomic {
					id = nholds;
					/* the owner's use ends when it calls the free */
					holders = holders & ~BIT(O)
				}
				if
				:: CALL(ENDKEEP, 1);
#ifdef RECORD
					if
					:: ok -> kept_ret[id] = true; frun = id; CALL(FREERUN, 1)
					:: else -> skip
					fi
#endif
				:: CALL(TAKESYNC, 1)
				fi;
				if
				:: !ok -> CHECK(ends[id] != 0,
					"VIOLATION: C24: the owner's end of its hold fails, yet nobody ended it\n");
					COVER(7)
				:: else -> skip
				fi
			:: keep && !got -> skip		/* C8: INSUFFICIENT_RESOURCES */
			fi;
			atomic { got = false; ok = false; keep = false; id = 0; bef = 0; kid = 0; hstate = 0; frun = 0 }
		:: else -> break
		od;
		odone = true
	:: t != O ->
		req = t;
		if
		:: /* (a) a request with a routine */
			CALL(TAKENOW, 3);
			if
			:: got -> skip
			:: else -> submit_queued(t);
				(waiting & BIT(req)) == 0		/* granted: its routine runs */
			fi;
			CALL(PASSON, 4)
		:: /* (b) mapreg_free_adapter_object(KEEP_REGISTERS) on the owner's hold */
			CALL(ENDKEEP, 2);
#ifdef RECORD
			if
			:: ok -> kept_ret[kid] = true; frun = kid; CALL(FREERUN, 2)
			:: else -> skip
			fi
#endif
		:: /* (b) mapreg_free_adapter_object(DEALLOCATE_OBJECT) on it */
			CALL(TAKESYNC, 2)
#ifdef RECORD
		:: /* (d) mapreg_free_map_registers on the run kept from the first hold */
			(kept_ret[1] || odone);
			frun = 1; CALL(FREERUN, 3)
#endif
		:: /* (c) destroy's channel_take_free */
			atomic { bef = retq & waiting };
			CALL(TAKEFREE, 4);
			if
			:: got -> CALL(PASSON, 5)	/* BUSY: gives it back */
			:: else -> skip
			fi
		fi
	fi;
	finished++;
	goto DONE;

/*
 * bias_revoke: the CAS BIASED -> REVOKING (seq_cst: a locked instruction
 * commits the caller's own buffer), fence_heavy() unless the caller is the
 * owner, bias_held (acquire), bias_seen, the real word (release); a loser
 * waits while REVOKING.
 */
REVOKE:
#ifdef MUTANT_READ_BEFORE_REVOKE
	atomic { h = LD_HELD(t); hid = LD_HELD_ID(t) };
#endif
	atomic {
		drain(t);
		if
		:: ch == CH_BIASED -> ch = CH_REVOKING; won = true; revoked = true;
			printf("EV   T%d revokes the bias: REVOKING\n", t)
		:: else -> won = false;
			if :: ch == CH_REVOKING -> COVER(6) :: else -> skip fi
		fi
	}
	if
	:: won ->
#ifndef MUTANT_NO_MEMBARRIER
		if :: owner != t + 1 -> fence_heavy(t) :: else -> COVER(10) fi;
#endif
#ifndef MUTANT_READ_BEFORE_REVOKE
		atomic {
			h = LD_HELD(t); hid = LD_HELD_ID(t);
			if :: h == BIAS_HELD -> COVER(3) :: h == BIAS_SYNC -> COVER(4) :: else -> COVER(5) fi;
			printf("EV   T%d reads bias_held = %d\n", t, h)
		}
#endif
		seen = h;
		atomic {
			if
			:: h == BIAS_SYNC -> ch = CH_SYNC; hc++; whold = hid
			:: h == BIAS_HELD -> ch = CH_HELD
			:: else -> ch = CH_FREE
			fi;
			printf("EV   T%d publishes the real word %d\n", t, ch);
			won = false; h = 0; hid = 0
		}
	:: else ->
		(ch != CH_REVOKING)		/* wait_while_revoking */
	fi;
	if
	BACK(REVOKE, 1) BACK(REVOKE, 2) BACK(REVOKE, 3) BACK(REVOKE, 4)
	BACK(REVOKE, 5)
	fi;

/*
 * bias_store(st_to): the plain store (into the buffer), the compiler
 * barrier, the relaxed load of the word.  st_ok: still BIASED.  Else
 * wait_while_revoking and s = bias_seen; st_ok also when s == st_to (the
 * transition is in the real word already).  Not st_ok: the caller applies
 * it in the real protocol.  The ghost of the transition (st_kind, hold
 * st_id) rides in the step that decides it.
 */
STORE:
	atomic {
		st_buf(t, A_HELD, st_to, st_id);
		printf("EV   T%d stores bias_held = %d (in its store buffer)\n", t, st_to)
	}
	atomic {
		if
		:: ch == CH_BIASED -> st_ok = true; ghost_bias(st_kind, st_id);
			printf("EV   T%d loads the word: BIASED, done\n", t)
		:: else -> st_ok = false
		fi
	}
	if
	:: !st_ok ->
		atomic {
			ch != CH_REVOKING;		/* wait_while_revoking, then bias_seen */
			s = seen;
			printf("EV   T%d: revoked; bias_seen = %d\n", t, s);
#ifdef MUTANT_IGNORE_SEEN
			st_ok = true; ghost_bias(st_kind, st_id)
#else
			if
			:: s == st_to -> st_ok = true; COVER(1); ghost_bias(st_kind, st_id)
			:: else -> COVER(2)
			fi
#endif
		}
	:: else -> skip
	fi;
	atomic { s = 0; st_to = 0; st_id = 0; st_kind = 0 }
	if
	BACK(STORE, 1) BACK(STORE, 2) BACK(STORE, 3) BACK(STORE, 4) BACK(STORE, 5)
	fi;

/* channel_take_free (result: got): revoke a BIASED (or wait out a REVOKING) word, take FREE. */
TAKEFREE:
	if
	:: ch >= CH_BIASED -> CALL(REVOKE, 1)
	:: else -> skip
	fi;
	atomic {
		REAL_WORD;
		if
		:: ch == CH_FREE -> ch = CH_HELD;
			if
			:: qlen == 0 -> got = true;
				printf("EV   T%d takes the FREE channel\n", t);
				ghost_take(req)
			:: else -> got = false;
				printf("EV   T%d takes FREE, finds the queue touched\n", t);
				pass_real(t)
			fi
		:: else -> got = false
		fi;
		r = 0
	}
	if
	BACK(TAKEFREE, 1) BACK(TAKEFREE, 2) BACK(TAKEFREE, 3) BACK(TAKEFREE, 4)
	fi;

/* take_now's channel part (result: got): the owner's bias_take, or channel_take_free. */
TAKENOW:
	atomic {
		w = ch; bef = retq & waiting; owned = false;
		printf("EV   T%d submits request %d\n", t, req)
	}
	bias_mine(t, w, mine);
	if
	:: mine ->			/* bias_take */
		if
		:: LD_HELD(t) == BIAS_FREE ->
			st_to = BIAS_HELD; st_kind = K_TAKE; CALL(STORE, 1);
			if
			:: st_ok -> got = true; owned = true
			:: else -> CALL(TAKEFREE, 1)
			fi
		:: else ->
			CALL(REVOKE, 2);
			CALL(TAKEFREE, 2)
		fi
	:: else -> CALL(TAKEFREE, 3)
	fi;
	atomic { w = 0; mine = false; st_ok = false }
	if
	BACK(TAKENOW, 1) BACK(TAKENOW, 2) BACK(TAKENOW, 3)
	fi;

/* channel_pass_on: a BIASED (or REVOKING) word is released by bias_release, else the real part. */
PASSON:
	atomic {
		w = ch;
		holders = holders & ~BIT(req);		/* the caller's use is over */
		printf("EV   T%d passes the channel on (word %d)\n", t, w)
	}
	if
#ifdef MUTANT_HOLDER_SKIPS_REVOKING
	:: w == CH_BIASED ->
#else
	:: w >= CH_BIASED ->
#endif
		st_to = BIAS_FREE; st_kind = K_RELEASE; CALL(STORE, 2)	/* bias_release */
	:: else -> st_ok = false
	fi;
	if
	:: !st_ok -> atomic { pass_real(t); r = 0 }
	:: else -> skip
	fi;
	atomic { w = 0; st_ok = false }
	if
	BACK(PASSON, 1) BACK(PASSON, 2) BACK(PASSON, 3) BACK(PASSON, 4) BACK(PASSON, 5)
	BACK(PASSON, 6)
	fi;

/*
 * channel_hold(hstate) by the holder of a HELD channel (the owner, here).
 * A C8 hold whose channel bias_take took (`owned`) may also be lf_hold's
 * fast path on a magazine hit, channel_hold_owned: no load of the word
 * first, as if it were still BIASED; the store of SYNC and its look decide.
 */
HOLD:
	atomic {
		if
		:: owned && hstate == CH_SYNC -> w = CH_BIASED; whc = hc;
			if :: ch != CH_BIASED -> COVER(17) :: else -> skip fi;
			printf("EV   T%d: channel_hold_owned, the word not read\n", t)
		:: w = ch; whc = hc
		fi;
		owned = false;
		if :: hstate == CH_SYNC -> nholds++; id = nholds :: else -> id = 0 fi;
		printf("EV   T%d begins a hold %d (state %d)\n", t, id, hstate)
	}
	if
#ifdef MUTANT_HOLDER_SKIPS_REVOKING
	:: w == CH_BIASED ->
#else
	:: w >= CH_BIASED ->
#endif
		if
		:: hstate == CH_SYNC -> st_to = BIAS_SYNC; st_id = id; st_kind = K_HOLD; CALL(STORE, 3)
		:: else -> st_ok = false
		fi;
		if
		:: !st_ok ->
			CALL(REVOKE, 3);
			atomic { w = ch; whc = hc }
		:: else -> skip
		fi
	:: else -> st_ok = false
	fi;
	if
	:: !st_ok ->
		atomic {
			REAL_WORD;
			HOLDER("VIOLATION: channel_hold by a thread that does not hold the channel\n");
			ch = hstate; hc = whc + 1;
			if :: hstate == CH_SYNC -> whold = id :: else -> whold = 0 fi;
			printf("EV   T%d stores the word %d (hold count %d)\n", t, hstate, hc)
		}
	:: else -> skip
	fi;
	atomic { w = 0; whc = 0; st_ok = false }
	if
	BACK(HOLD, 1) BACK(HOLD, 2)
	fi;

/*
 * channel_end_sync_keeping_run (mapreg_free_adapter_object with
 * KEEP_REGISTERS; result: ok, and kid the hold whose run it kept): the
 * owner's biased SYNC -> FREE, or the real CAS SYNC -> FREE (HELD and pass
 * on when the queue holds requests); then registers_keep.
 */
ENDKEEP:
	reload();
	bias_mine(t, w, mine);
	ok = false; done = false;
	if
	:: mine ->
		if
		:: LD_HELD(t) != BIAS_SYNC -> done = true	/* C24: no hold open */
		:: else ->
			bid = LD_HELD_ID(t);
			st_to = BIAS_FREE; st_id = bid; st_kind = K_END; CALL(STORE, 4);
			if :: st_ok -> ok = true; done = true; kid = bid :: else -> reload() fi
		fi
	:: !mine && w >= CH_BIASED -> CALL(REVOKE, 4); reload()
	:: else -> skip
	fi;
	if
	:: done || w != CH_SYNC -> skip
	:: else ->
		atomic {
			REAL_WORD;
			if
			:: ch == CH_SYNC && hc == whc ->
				CHECK(whold == rid, "VIOLATION: C24: an end ends a later hold than the one it read\n");
				ok = true; ghost_end(whold); kid = rid;
				printf("EV   T%d ends hold %d by its CAS\n", t, rid);
				if
				:: qlen == 0 -> ch = CH_FREE
				:: else -> ch = CH_HELD; pass_real(t)
				fi
			:: else -> if :: t != O -> COVER(8) :: else -> skip fi
			fi
		}
	fi;
#ifdef RECORD
	if
	:: ok ->		/* registers_keep: the run's record (release store) */
		atomic {
			st_buf(t, A_REC + kid, 1, 0); rkept[kid] = 1;
			printf("EV   T%d keeps hold %d's run (record stored)\n", t, kid)
		}
	:: else -> skip
	fi;
#endif
	atomic { w = 0; whc = 0; rid = 0; bid = 0; mine = false; done = false; r = 0; st_ok = false }
	if
	BACK(ENDKEEP, 1) BACK(ENDKEEP, 2)
	fi;

/*
 * channel_take(SYNC) (mapreg_free_adapter_object with DEALLOCATE_OBJECT;
 * result: ok): the owner's biased SYNC -> HELD, or the real CAS SYNC ->
 * HELD; then release_all passes the channel on.
 */
TAKESYNC:
	reload();
	bias_mine(t, w, mine);
	ok = false; done = false;
	if
	:: mine ->
		if
		:: LD_HELD(t) != BIAS_SYNC -> done = true	/* C24: no hold open */
		:: else ->
			bid = LD_HELD_ID(t);
			st_to = BIAS_HELD; st_id = bid; st_kind = K_TAKESYNC; CALL(STORE, 5);
			if :: st_ok -> ok = true; done = true :: else -> reload() fi
		fi
	:: !mine && w >= CH_BIASED -> CALL(REVOKE, 5); reload()
	:: else -> skip
	fi;
	if
	:: done || w != CH_SYNC -> skip
	:: else ->
		atomic {
			REAL_WORD;
			if
			:: ch == CH_SYNC && hc == whc ->
				CHECK(whold == rid, "VIOLATION: C24: an end ends a later hold than the one it read\n");
				ok = true; ch = CH_HELD; ghost_end(whold); ghost_hold(req);
				printf("EV   T%d takes hold %d back by its CAS\n", t, rid)
			:: else -> if :: t != O -> COVER(8) :: else -> skip fi
			fi
		}
	fi;
	atomic { w = 0; whc = 0; rid = 0; bid = 0; mine = false; done = false; st_ok = false }
	if
	:: ok -> CALL(PASSON, 6)		/* release_all */
	:: else -> skip
	fi;
	if
	BACK(TAKESYNC, 1) BACK(TAKESYNC, 2)
	fi;

#ifdef RECORD
/*
 * mapreg_free_map_registers(run of hold frun): bias_claim_record (the
 * owner's plain claim while bias_records is 1: bias_busy = 1, the compiler
 * barrier, bias_records still 1? then the record's load and store,
 * bias_busy = 0), else bias_records_revoke (CAS 1 -> 2, fence_heavy()
 * unless the owner, the wait for bias_busy to fall, 0; a loser waits for
 * 0) and the CAS on the record.
 */
FREERUN:
	atomic { mine = (recb == 1 && owner == t + 1) };
	cl = 2;				/* -1: not the owner's to claim plainly */
	if
	:: mine ->
		atomic {
			st_buf(t, A_BUSY, 1, 0);
			printf("EV   T%d stores bias_busy = 1 (in its store buffer)\n", t)
		}
		atomic {
			if
			:: recb == 1 -> cl = 0;
				printf("EV   T%d loads bias_records: 1, claims the record plainly\n", t)
			:: else -> COVER(16);
				printf("EV   T%d loads bias_records: %d, not biased\n", t, recb)
			fi
		}
		if
		:: cl == 0 ->
			atomic {
				if
				:: LD_REC(t, frun) == 1 -> cl = 1; ghost_free(frun); COVER(14)
				:: else -> skip
				fi
			}
			if
			:: cl == 1 -> atomic { st_buf(t, A_REC + frun, 0, 0) }
			:: else -> skip
			fi
		:: else -> skip
		fi;
		atomic {
			st_buf(t, A_BUSY, 0, 0);
			printf("EV   T%d stores bias_busy = 0 (in its store buffer)\n", t)
		}
	:: else -> skip
	fi;
	if
	:: cl == 2 ->
		if			/* bias_records_revoke */
		:: recb == 0 -> skip
		:: else ->
			atomic {
				drain(t);
				if
				:: recb == 1 -> recb = 2; won = true;
					printf("EV   T%d revokes the records' bias: 2\n", t)
				:: else -> won = false
				fi
			}
			if
			:: won ->
				if :: owner != t + 1 -> fence_heavy(t) :: else -> skip fi;
#ifndef MUTANT_NO_BUSY_WAIT
				atomic {	/* a claim begun before the fence ends */
					if :: LD_BUSY(t) != 0 -> COVER(15) :: else -> skip fi;
					LD_BUSY(t) == 0
				}
#endif
				atomic { recb = 0; won = false }
			:: else -> (recb == 0)
			fi
		fi;
		atomic {		/* the CAS kept -> 0 (locked) */
			drain(t);
			if
			:: rec[frun] == 1 -> rec[frun] = 0; ghost_free(frun)
			:: else -> printf("EV   T%d's free of hold %d's run fails\n", t, frun)
			fi
		}
	:: else -> skip
	fi;
	atomic { cl = 0; mine = false }
	if
	BACK(FREERUN, 1) BACK(FREERUN, 2) BACK(FREERUN, 3)
	fi;
#endif
DONE:
	skip
}

init
{
	c_code { char *e = getenv("REACH"); reach_env = e ? atoi(e) : 0; };
	atomic {
		run thread(O, reach_env);
		run thread(1, reach_env);
#ifndef ONE_FOREIGN
		run thread(2, reach_env)
#endif
	}
	timeout;			/* nothing can move */
	CHECK(finished == NTHR, "VIOLATION: deadlock: a thread waits forever (a revocation or a grant)\n");
	CHECK(!sbf[0] && !sbf[1] && !sbf[NTHR - 1], "VIOLATION: a store is left buffered\n");
	CHECK(rfreed[1] == rkept[1] && rfreed[2] == rkept[2],
	      "VIOLATION: C23: a kept run is never freed\n");
	CHECK(rec[1] == 0 && rec[2] == 0 && busy == 0 && recb != 2,
	      "VIOLATION: a record is left kept, or the records' revocation unfinished\n");
	CHECK(waiting == 0 && qlen == 0,
	      "VIOLATION: C14 lost wake-up: a queued request waits with every thread done\n");
	CHECK(holders == 0, "VIOLATION: the channel is held with every thread done\n");
	CHECK(ch == CH_FREE || (ch == CH_BIASED && held == BIAS_FREE),
	      "VIOLATION: C14: the channel is not FREE with every thread done\n");
	CHECK(nholds < 1 || ends[1] == 1, "VIOLATION: C24: a C8 hold is never ended\n");
	CHECK(nholds < 2 || ends[2] == 1, "VIOLATION: C24: a C8 hold is never ended\n")
}
