/* SPDX-License-Identifier: MIT */
/*
 * The transfer (DMA transfer context) state machine, shared by all backends.
 *
 *            init                 cancel (C21)
 *   (raw) --------> IDLE <------------------------> MARKED
 *                   |  ^        next _ex: CANCELLED
 *        _ex begins |  | routine returned / sync call returned /
 *                   v  | cancel returned true (C10)
 *               SUBMITTING ----commit----> BUSY
 *                   |   (granted at once:    (backend owns the request)
 *                   |    no commit; finish)
 *            cancel |
 *                   v
 *           SUBMITTING_MARKED --commit fails--> IDLE (_ex returns CANCELLED)
 *
 * Invariants:
 *  - a transfer names a request exactly while it is SUBMITTING, SUBMITTING_MARKED
 *    or BUSY, and then it is refused by _ex and by init (C9); a synchronous
 *    call without a routine names none (xfer_check_hold);
 *  - only the thread that moved it to SUBMITTING moves it on to BUSY or back to
 *    IDLE, and only the request's owner (routine runner, canceller that won,
 *    synchronous caller) moves BUSY to IDLE: every other party only marks;
 *  - a cancel that meets SUBMITTING marks it and returns false.  A request
 *    that must wait commits before it can be seen (its linearization point):
 *    a mark made before then makes the submission return MAPREG_CANCELLED,
 *    so a cancel never returns false about a request that is then left
 *    waiting (C20).  A request granted at submission never waits and never
 *    commits: it stays SUBMITTING until its routine returns, a cancel that
 *    marked it meanwhile came after the grant (it returned false, C20), and
 *    xfer_finish drops the mark (it stores IDLE).  That spares the granted
 *    path a compare-and-swap.
 */
#ifndef MAPREG_TRANSFER_H
#define MAPREG_TRANSFER_H

#include <stdatomic.h>

#include "base/backend.h"

enum xfer_state {
	XFER_IDLE = 1,
	XFER_MARKED,
	XFER_SUBMITTING,
	XFER_SUBMITTING_MARKED,
	XFER_BUSY,
};

/*
 * The state word also counts submissions: the bits above XFER_STATE_BITS are
 * a generation, raised by every IDLE -> SUBMITTING.  A cancel that reads BUSY
 * reads the generation with it, in the same load, and the backend cancels
 * only a request of that generation: never one submitted after the cancel
 * looked (a stale pointer may lead it to a newer submission's copy).
 */
#define XFER_STATE_BITS 3u
#define XFER_STATE(word) ((word) & ((1u << XFER_STATE_BITS) - 1))
#define XFER_GENERATION(word) ((word) >> XFER_STATE_BITS)

struct xfer_impl {
	_Atomic uint64_t magic;			/* XFER_MAGIC ^ own address */
	_Atomic(struct mapreg_adapter *) adapter;
	_Atomic uint32_t state;			/* enum xfer_state */
	struct request request;
};

_Static_assert(sizeof(struct xfer_impl) <= sizeof(mapreg_transfer),
	       "mapreg_transfer is too small for struct xfer_impl");
_Static_assert(_Alignof(struct xfer_impl) <= _Alignof(mapreg_transfer),
	       "mapreg_transfer is under-aligned for struct xfer_impl");

static inline struct xfer_impl *xfer_impl(mapreg_transfer *xfer)
{
	return (struct xfer_impl *)xfer;
}

/* Whether xfer was initialized (and not copied); false for NULL. */
bool xfer_initialized(mapreg_transfer *xfer);
/* The adapter xfer was initialized for; NULL if uninitialized. */
struct mapreg_adapter *xfer_adapter(mapreg_transfer *xfer);

mapreg_status xfer_init(struct mapreg_adapter *adapter, mapreg_transfer *xfer);

/*
 * Starts an _ex submission: MAPREG_OK (now SUBMITTING, *generation set), MAPREG_CANCELLED (a
 * mark was consumed), or MAPREG_INVALID_PARAMETER (foreign, or it still
 * names a request).  The caller has checked that xfer is initialized.
 *
 * A synchronous submission goes to BUSY at once: it never waits, so there
 * is nothing for a cancel to remove, and a cancel that meets it returns
 * false (the request is being granted or refused) without a mark.  Only an
 * asynchronous one has a commit (its linearization point) to make.
 */
mapreg_status xfer_begin_submit(struct mapreg_adapter *adapter, mapreg_transfer *xfer,
				bool sync, uint32_t *generation);
/*
 * A synchronous call without a routine (a C8 hold) in place of
 * xfer_begin_submit: MAPREG_OK if xfer is IDLE, MAPREG_CANCELLED (a mark
 * was consumed), or MAPREG_INVALID_PARAMETER (it names a request).  It
 * writes nothing on success: such a call names no request a cancel could
 * reach or a routine could run for, and uses a request of its own, so the
 * transfer is free again the moment the call has looked at it.  A cancel
 * that marks it meanwhile comes after the call (C21: the mark stays for the
 * next _ex); a second call using it meanwhile changes nothing of this one.
 */
mapreg_status xfer_check_hold(mapreg_transfer *xfer);
/*
 * An asynchronous submission's linearization point, called by the backend at
 * the moment the request becomes visible to cancel (it is about to wait):
 * true and BUSY, or false and IDLE when a cancel marked it meanwhile (the
 * submission returns CANCELLED).  A request granted at once does not call it.
 */
bool xfer_commit_submit(mapreg_transfer *xfer);
/*
 * A submission that failed before its commit (MAPREG_NO_MEMORY) changes
 * nothing: SUBMITTING -> IDLE, and a mark a cancel left meanwhile stays.
 */
void xfer_abort_submit(mapreg_transfer *xfer);
/* The request named by xfer is over: xfer may be used again (C10). */
void xfer_finish(mapreg_transfer *xfer);

/*
 * A cancel's first step: true if xfer is BUSY and the backend must try to
 * remove its request of *generation; false if it was marked (or already marked), foreign or
 * uninitialized, and the cancel returns false.
 */
bool xfer_cancel_needs_backend(struct mapreg_adapter *adapter, mapreg_transfer *xfer,
			       uint32_t *generation);

#endif /* MAPREG_TRANSFER_H */
