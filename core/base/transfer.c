/* SPDX-License-Identifier: MIT */
/*
 * The transfer state machine: see transfer.h for the states and invariants.
 *
 * Memory orders.  `state` is the only word two threads fight over; every
 * transition is a compare-and-swap, acq_rel, so that:
 *  - the thread that wins SUBMITTING sees everything the previous owner wrote
 *    into the embedded request before it released the transfer to IDLE (the
 *    release store in xfer_finish pairs with that acquire);
 *  - the BUSY published by commit carries the request's fields to a canceller
 *    that reads BUSY (acquire), should a backend read them without a lock.
 * `magic` and `adapter` change only at init, which a caller must not race
 * with other calls on the same transfer other than cancel; they are atomics,
 * relaxed except for magic's release/acquire, only so that such a race is
 * defined behaviour (the loser sees an old or new binding, never a torn one).
 */
#include "base/transfer.h"
#include "hooks/fault.h"
#include "hooks/perturb.h"

#define XFER_MAGIC 0x6d61707265677866ull		/* "mapregxf" */

static uint64_t xfer_magic(mapreg_transfer *xfer)
{
	return XFER_MAGIC ^ (uint64_t)(uintptr_t)xfer;
}

bool xfer_initialized(mapreg_transfer *xfer)
{
	if (xfer == NULL)
		return false;
	return atomic_load_explicit(&xfer_impl(xfer)->magic, memory_order_acquire) ==
	       xfer_magic(xfer);
}

struct mapreg_adapter *xfer_adapter(mapreg_transfer *xfer)
{
	if (!xfer_initialized(xfer))
		return NULL;
	return atomic_load_explicit(&xfer_impl(xfer)->adapter, memory_order_relaxed);
}

static uint32_t with_state(uint32_t word, uint32_t state)
{
	return (word & ~((1u << XFER_STATE_BITS) - 1)) | state;
}

static bool xfer_names_request(uint32_t state)
{
	return state == XFER_SUBMITTING || state == XFER_SUBMITTING_MARKED ||
	       state == XFER_BUSY;
}

mapreg_status xfer_init(struct mapreg_adapter *adapter, mapreg_transfer *xfer)
{
	struct xfer_impl *impl = xfer_impl(xfer);

	if (!xfer_initialized(xfer)) {
		atomic_store_explicit(&impl->adapter, adapter, memory_order_relaxed);
		atomic_store_explicit(&impl->state, XFER_IDLE, memory_order_relaxed);
		/* Release: whoever sees the magic sees adapter and state. */
		atomic_store_explicit(&impl->magic, xfer_magic(xfer), memory_order_release);
		return MAPREG_OK;
	}
	/*
	 * Re-init: claim the transfer as if submitting, so that no submission
	 * can start against the old binding while it changes, then release it
	 * as IDLE, which also clears a cancel mark (C21).
	 */
	uint32_t word = atomic_load_explicit(&impl->state, memory_order_acquire);
	do {
		if (xfer_names_request(XFER_STATE(word)))
			return MAPREG_INVALID_PARAMETER;
	} while (!atomic_compare_exchange_weak_explicit(&impl->state, &word,
							with_state(word, XFER_SUBMITTING),
							memory_order_acq_rel,
							memory_order_acquire));
	atomic_store_explicit(&impl->adapter, adapter, memory_order_relaxed);
	/*
	 * A new generation: a cancel that loaded the IDLE word of the old
	 * binding must fail its CAS and look at the binding again.
	 */
	atomic_store_explicit(&impl->state,
			      with_state(word + (1u << XFER_STATE_BITS), XFER_IDLE),
			      memory_order_release);
	return MAPREG_OK;
}

mapreg_status xfer_begin_submit(struct mapreg_adapter *adapter, mapreg_transfer *xfer,
				bool sync, uint32_t *generation)
{
	struct xfer_impl *impl = xfer_impl(xfer);
	uint32_t word = atomic_load_explicit(&impl->state, memory_order_acquire), next;

	PERTURB();
	for (;;) {
		if (XFER_STATE(word) == XFER_IDLE)	/* a new submission, a new generation */
			next = with_state(word + (1u << XFER_STATE_BITS),
					  sync ? XFER_BUSY : XFER_SUBMITTING);
		else if (XFER_STATE(word) == XFER_MARKED)
			next = with_state(word, XFER_IDLE);	/* C21: consume the mark */
		else
			return MAPREG_INVALID_PARAMETER;
		if (atomic_compare_exchange_weak_explicit(&impl->state, &word, next,
							  memory_order_acq_rel,
							  memory_order_acquire))
			break;
	}
	if (XFER_STATE(word) == XFER_MARKED)
		return MAPREG_CANCELLED;
	/* Re-check the binding now that no init can change it under us. */
	if (atomic_load_explicit(&impl->adapter, memory_order_relaxed) != adapter) {
		atomic_store_explicit(&impl->state, with_state(next, XFER_IDLE),
				      memory_order_release);
		return MAPREG_INVALID_PARAMETER;
	}
	*generation = XFER_GENERATION(next);
	return MAPREG_OK;
}

mapreg_status xfer_check_hold(mapreg_transfer *xfer)
{
	struct xfer_impl *impl = xfer_impl(xfer);
	/*
	 * Relaxed, the load and the CAS that consumes a mark: nothing of the
	 * transfer is read or written after them, and a consumed mark returns
	 * CANCELLED having touched nothing else.
	 */
	uint32_t word = atomic_load_explicit(&impl->state, memory_order_relaxed);

	PERTURB();
	for (;;) {
		if (XFER_STATE(word) == XFER_IDLE)
			return MAPREG_OK;
		if (XFER_STATE(word) != XFER_MARKED)
			return MAPREG_INVALID_PARAMETER;		/* C9 */
		if (atomic_compare_exchange_weak_explicit(&impl->state, &word,
							  with_state(word, XFER_IDLE),
							  memory_order_relaxed,
							  memory_order_relaxed))
			return MAPREG_CANCELLED;		/* C21: consumed */
	}
}

bool xfer_commit_submit(mapreg_transfer *xfer)
{
	struct xfer_impl *impl = xfer_impl(xfer);
	uint32_t word = atomic_load_explicit(&impl->state, memory_order_relaxed);

	/* Only its submitter and a marking cancel change a SUBMITTING word. */
	PERTURB();
	while (XFER_STATE(word) == XFER_SUBMITTING) {
		if (atomic_compare_exchange_weak_explicit(&impl->state, &word,
							  with_state(word, XFER_BUSY),
							  memory_order_acq_rel,
							  memory_order_acquire))
			return true;
	}
	/* A cancel marked it: SUBMITTING_MARKED. */
	atomic_store_explicit(&impl->state, with_state(word, XFER_IDLE), memory_order_release);
	return false;
}

void xfer_abort_submit(mapreg_transfer *xfer)
{
	struct xfer_impl *impl = xfer_impl(xfer);
	uint32_t word = atomic_load_explicit(&impl->state, memory_order_relaxed);

	while (!atomic_compare_exchange_weak_explicit(&impl->state, &word,
			with_state(word, XFER_STATE(word) == XFER_SUBMITTING ? XFER_IDLE : XFER_MARKED),
			memory_order_acq_rel, memory_order_relaxed))
		;
}

void xfer_finish(mapreg_transfer *xfer)
{
	struct xfer_impl *impl = xfer_impl(xfer);
	/* Only the request's owner writes a BUSY word: no CAS needed. */
	uint32_t word = atomic_load_explicit(&impl->state, memory_order_relaxed);

	PERTURB();

	/* Release: the next submitter's acquire sees the request as we left it. */
	atomic_store_explicit(&impl->state, with_state(word, XFER_IDLE), memory_order_release);
}

bool xfer_cancel_needs_backend(struct mapreg_adapter *adapter, mapreg_transfer *xfer,
			       uint32_t *generation)
{
	struct xfer_impl *impl = xfer_impl(xfer);

	if (adapter == NULL || !xfer_initialized(xfer))
		return false;				/* C21: changes nothing */

	uint32_t word = atomic_load_explicit(&impl->state, memory_order_acquire);
	for (;;) {
		uint32_t next;

		/*
		 * The binding is checked after each load of the word: the owner
		 * may re-init the transfer for another adapter and submit there
		 * meanwhile, and this cancel names the old one (C21: a foreign
		 * transfer changes nothing).  The acquire load orders the
		 * re-init's binding before the word we read.
		 */
		PAUSE(PAUSE_CANCEL_LOADED_STATE);
		PERTURB();
		if (atomic_load_explicit(&impl->adapter, memory_order_relaxed) != adapter)
			return false;
		if (XFER_STATE(word) == XFER_BUSY) {
			*generation = XFER_GENERATION(word);
			return true;
		}
		if (XFER_STATE(word) == XFER_IDLE)
			next = with_state(word, XFER_MARKED);
		else if (XFER_STATE(word) == XFER_SUBMITTING)
			next = with_state(word, XFER_SUBMITTING_MARKED);
		else
			return false;			/* already marked */
		PAUSE(PAUSE_CANCEL_BEFORE_MARK);
		PERTURB();
		if (atomic_compare_exchange_weak_explicit(&impl->state, &word, next,
							  memory_order_acq_rel,
							  memory_order_acquire))
			return false;
	}
}
