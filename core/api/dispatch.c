/* SPDX-License-Identifier: MIT */
/*
 * The per-thread trampoline that runs control routines: see dispatch.h.
 *
 * Invariants (per thread):
 *  - pending is empty whenever depth is 0: the loop that raised depth from
 *    0 drains it before lowering depth again;
 *  - frames lists, innermost first, the adapters whose routines are running
 *    on this thread, and polls the adapters this thread is polling; both
 *    are empty whenever depth is 0.
 * All of it is thread-local: no atomics, no locks.
 */
#include "api/answer.h"
#include "api/dispatch.h"
#include "base/transfer.h"

struct routine_frame {
	const struct mapreg_adapter *adapter;
	struct routine_frame *outer;
};

struct dispatch_thread {
	struct grant_list pending;
	unsigned int depth;
	struct routine_frame *frames;		/* routines running */
	struct routine_frame *polls;		/* mapreg_poll calls in progress */
};

static __thread struct dispatch_thread self __attribute__((tls_model("initial-exec")));

bool dispatch_in_routine_of(const struct mapreg_adapter *adapter)
{
	for (const struct routine_frame *f = self.frames; f != NULL; f = f->outer)
		if (f->adapter == adapter)
			return true;
	return false;
}

bool dispatch_polling(const struct mapreg_adapter *adapter)
{
	for (const struct routine_frame *f = self.polls; f != NULL; f = f->outer)
		if (f->adapter == adapter)
			return true;
	return false;
}

bool dispatch_in_any_routine(void)
{
	return self.frames != NULL;
}

static bool action_is_valid(mapreg_action action)
{
	return action == MAPREG_KEEP_OBJECT || action == MAPREG_DEALLOCATE_OBJECT ||
	       action == MAPREG_DEALLOCATE_OBJECT_KEEP_REGISTERS;
}

static void run_routine(struct request *req, enum holder holder)
{
	struct mapreg_adapter *adapter = req->adapter;
	struct routine_frame frame = { adapter, self.frames };
	struct grant_list granted = GRANT_LIST_INIT;

	self.frames = &frame;
	mapreg_action action = req->fn(req->device, req->xfer, req->base, req->context);
	self.frames = frame.outer;

	if (!action_is_valid(action)) {			/* C19 */
		atomic_fetch_add_explicit(&adapter->pool->caller_errors, 1,
					  memory_order_relaxed);
		action = MAPREG_DEALLOCATE_OBJECT;
	}
	answer_apply(req, action, holder, &granted);	/* finishes xfer (C10) */
	grant_list_splice(&self.pending, &granted);
}

static void drain_pending(void)
{
	struct request *req;

	while ((req = grant_list_pop(&self.pending)) != NULL)
		run_routine(req, HOLDER_REQUEST);
}

void dispatch_run_now(struct request *req)
{
	self.depth++;
	run_routine(req, HOLDER_SUBMITTER);
	if (self.depth == 1)
		drain_pending();
	self.depth--;
}

void dispatch_grants(struct grant_list *granted)
{
	if (granted->head == NULL)
		return;		/* the common case: touch no thread-local state */
	grant_list_splice(&self.pending, granted);
	if (self.depth > 0)
		return;		/* an outer loop on this thread runs them (C17) */
	self.depth++;
	drain_pending();
	self.depth--;
}

size_t dispatch_poll(struct mapreg_adapter *adapter, size_t max)
{
	const struct backend_ops *ops = adapter->pool->ops;
	struct routine_frame poll = { adapter, self.polls };
	struct request *req;
	size_t ran = 0;

	self.polls = &poll;
	self.depth++;
	while (ran < max && (req = ops->poll_pop(adapter)) != NULL) {
		run_routine(req, HOLDER_REQUEST);
		ran++;
		if (self.depth == 1)
			drain_pending();
	}
	self.depth--;
	self.polls = poll.outer;
	return ran;
}
