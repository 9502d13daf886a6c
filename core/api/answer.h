/* SPDX-License-Identifier: MIT */
/*
 * What a routine's answer, and each call that ends a hold, does to the
 * channel and the registers: decided here, once, for every backend, which
 * only offers the mechanisms (base/backend.h).
 */
#ifndef MAPREG_ANSWER_H
#define MAPREG_ANSWER_H

#include "base/backend.h"

/*
 * A routine of `req` answered `action` (valid; C19 was applied); `holder`:
 * HOLDER_SUBMITTER when it ran inside its submitter's call, else
 * HOLDER_REQUEST.
 */
void answer_apply(struct request *req, mapreg_action action, enum holder holder,
		  struct grant_list *granted);

/*
 * mapreg_free_adapter_object (holder HOLDER_SYNC, action DEALLOCATE or
 * KEEP_REGISTERS) and mapreg_free_channel (HOLDER_KEPT, DEALLOCATE).
 */
mapreg_status answer_end_hold(struct mapreg_adapter *adapter, enum holder holder,
			      mapreg_action action, struct grant_list *granted);

#endif /* MAPREG_ANSWER_H */
