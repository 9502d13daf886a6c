/* SPDX-License-Identifier: MIT */
/*
 * The answer, decided once (answer.h).  The three actions of C19:
 *  - KEEP_OBJECT: the channel and the registers stay held (C22);
 *  - DEALLOCATE_OBJECT: registers back to the pool, then the channel on;
 *  - DEALLOCATE_OBJECT_KEEP_REGISTERS: the registers stay with the caller
 *    as a run (C23), the channel passes on.
 */
#include "api/answer.h"
#include "base/transfer.h"

static mapreg_status end_hold(struct mapreg_adapter *adapter, enum holder holder,
			      mapreg_base base, mapreg_action action, struct grant_list *granted)
{
	const struct backend_ops *ops = adapter->pool->ops;

	if (action == MAPREG_KEEP_OBJECT) {
		ops->keep_channel(adapter, base);
		return MAPREG_OK;
	}
	return ops->end_hold(adapter, holder, base,
			     action == MAPREG_DEALLOCATE_OBJECT_KEEP_REGISTERS, granted);
}

void answer_apply(struct request *req, mapreg_action action, enum holder holder,
		  struct grant_list *granted)
{
	struct mapreg_adapter *adapter = req->adapter;
	mapreg_transfer *xfer = req->xfer;
	mapreg_base base = req->base;

	adapter->pool->ops->retire(req);
	/*
	 * C10: the transfer is reusable once the routine returned, and must be
	 * so before the channel or registers come free: a thread that sees
	 * them free may reuse the transfer at once, or free its memory.
	 */
	if (xfer != NULL)
		xfer_finish(xfer);
	end_hold(adapter, holder, base, action, granted);
}

mapreg_status answer_end_hold(struct mapreg_adapter *adapter, enum holder holder,
			      mapreg_action action, struct grant_list *granted)
{
	return end_hold(adapter, holder, (mapreg_base){ 0, 0 }, action, granted);
}
