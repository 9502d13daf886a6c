/* SPDX-License-Identifier: MIT */
/*
 * The executable model of docs/CONTRACT.md: see model.h.  Written for
 * obviousness, not speed: every rule is a few lines citing its number, and
 * nothing here knows how a backend is built.
 *
 * Where the rules are silent the model follows the choices docs/CONTRACT.md
 * lists:
 *  - argument checks come before C5's limit check, C5 before the transfer's
 *    own state (a transfer naming a request, C9; a cancel mark, C21);
 *  - a request for 0 registers never waits for registers (it takes none, so
 *    C12's "no new request takes registers" does not hold it back);
 *  - a free first serves the register queue, then hands the channel on (the
 *    register waiters started waiting first, C12);
 *  - the contract orders grants (C11 per adapter, C12 across the pool), not
 *    the routines of the grants one step makes (a free may grant a register
 *    waiter and hand a channel on): those run in any order among
 *    themselves, but all before the grants of later steps (C16's FIFO on
 *    the thread).
 */
#include <string.h>

#include "model.h"

enum model_request_state {
	RQ_UNUSED,
	RQ_WAIT_CHANNEL,	/* on its adapter's channel queue (C11) */
	RQ_WAIT_REGISTERS,	/* holds the channel, on the register queue (C12) */
	RQ_PENDING,		/* granted, inline: on the thread's pending FIFO */
	RQ_POLL,		/* granted, poll: on its adapter's poll queue */
	RQ_GRANTED_NOW,		/* granted at submission, about to run (C6) */
	RQ_RUNNING,
	RQ_DONE,
};

enum model_channel { CH_FREE, CH_REQUEST, CH_KEPT, CH_SYNC };

enum model_xfer_state { XS_RAW, XS_IDLE, XS_MARKED, XS_BUSY };

enum model_frame_kind { F_PLAIN, F_CALL, F_RUN_NOW, F_POLL };

enum model_frame_phase { PH_DONE, PH_START, PH_AFTER, PH_DRAIN, PH_LOOP };

enum fit { FIT_NO, FIT_YES, FIT_MAYBE };

/* FIFOs of requests, linked through model_request.next (a request is on one at most). */

static bool fifo_empty(const struct model_fifo *q)
{
	return q->head == 0;
}

static void fifo_push(struct model *m, struct model_fifo *q, uint8_t id)
{
	m->req[id].next = 0;
	if (q->head == 0)
		q->head = id;
	else
		m->req[q->tail].next = id;
	q->tail = id;
}

static uint8_t fifo_pop(struct model *m, struct model_fifo *q)
{
	uint8_t id = q->head;

	if (id != 0)
		q->head = m->req[id].next;
	return id;
}

static void fifo_remove(struct model *m, struct model_fifo *q, uint8_t id)
{
	uint8_t prev = 0;

	for (uint8_t at = q->head; at != 0; prev = at, at = m->req[at].next) {
		if (at != id)
			continue;
		if (prev == 0)
			q->head = m->req[at].next;
		else
			m->req[prev].next = m->req[at].next;
		if (q->tail == id)
			q->tail = prev;
		return;
	}
}

static uint32_t fifo_length(const struct model *m, const struct model_fifo *q)
{
	uint32_t n = 0;

	for (uint8_t at = q->head; at != 0; at = m->req[at].next)
		n++;
	return n;
}

/* Appends all of `from` to `to` (the thread's pending FIFO). */
static void fifo_splice(struct model *m, struct model_fifo *to, struct model_fifo *from)
{
	if (fifo_empty(from))
		return;
	if (fifo_empty(to))
		*to = *from;
	else {
		m->req[to->tail].next = from->head;
		to->tail = from->tail;
	}
	from->head = from->tail = 0;
}

/* Registers: placed runs are bits of m->placed; unknown runs only counted. */

static uint64_t run_mask(uint32_t first, uint32_t count)
{
	uint64_t ones = count >= 64 ? ~0ull : (1ull << count) - 1;

	return ones << first;
}

/* C30: a run may not cross a multiple of the boundary, so stretches end there. */
static uint32_t longest_free_stretch(const struct model *m)
{
	uint32_t best = 0, length = 0;

	for (uint32_t i = 0; i < m->registers; i++) {
		if (m->boundary != 0 && i % m->boundary == 0)
			length = 0;
		length = (m->placed >> i) & 1 ? 0 : length + 1;
		if (length > best)
			best = length;
	}
	return best;
}

/*
 * Whether n contiguous registers are free (C6, C8, C13).  Unknown runs lie
 * somewhere in the placed bitmap's free space: k of them, S registers in
 * all, cut one free stretch of length L into at most k + 1 gaps of total
 * L - S at least, so a stretch with L >= n * (k + 1) + S keeps a gap of n.
 */
static enum fit registers_fit(const struct model *m, uint32_t n)
{
	uint32_t unknown = 0, unknown_registers = 0;

	if (n == 0)
		return FIT_YES;
	if (m->registers - m->held < n)
		return FIT_NO;
	uint32_t stretch = longest_free_stretch(m);
	if (stretch < n)
		return FIT_NO;
	for (uint32_t r = 1; r < MODEL_RUNS; r++) {
		if (m->run[r].used && !m->run[r].known) {
			unknown++;
			unknown_registers += m->run[r].count;
		}
	}
	if (unknown == 0 || stretch >= n * (unknown + 1) + unknown_registers)
		return FIT_YES;
	return FIT_MAYBE;
}

static bool decide_fit(const struct model *m, uint32_t n, struct model_oracle *oracle)
{
	enum fit fit = registers_fit(m, n);

	if (fit != FIT_MAYBE)
		return fit == FIT_YES;
	return (oracle->bits >> oracle->used++) & 1;
}

/* C12: while anyone waits for registers, no new request takes any. */
static bool new_request_fits(const struct model *m, uint32_t n, struct model_oracle *oracle)
{
	if (n == 0)
		return true;
	return fifo_empty(&m->register_queue) && decide_fit(m, n, oracle);
}

static uint8_t run_take(struct model *m, uint8_t adapter, uint32_t count)
{
	if (count == 0)
		return 0;
	for (uint8_t r = 1; r < MODEL_RUNS; r++) {
		if (m->run[r].used)
			continue;
		m->run[r] = (struct model_run){ .used = true, .adapter = adapter, .count = count };
		m->held += count;
		return r;
	}
	return 0;	/* unreachable: a pool of 64 holds at most 64 runs */
}

static void run_release(struct model *m, uint8_t r)
{
	if (r == 0)
		return;
	if (m->run[r].known)
		m->placed &= ~run_mask(m->run[r].first, m->run[r].count);
	m->held -= m->run[r].count;
	m->run[r] = (struct model_run){ 0 };
}

/* C19, C24: the run stays with the caller until mapreg_free_map_registers. */
static void run_keep(struct model *m, uint8_t r)
{
	if (r == 0)
		return;
	m->run[r].kept = true;
	m->adapter[m->run[r].adapter].kept_runs++;
}

/* Grants, queues, channels. */

static void grant(struct model *m, uint8_t id, struct model_fifo *granted)
{
	struct model_request *rq = &m->req[id];
	struct model_adapter *a = &m->adapter[rq->adapter];

	m->grants++;
	if (a->dispatch == MAPREG_DISPATCH_INLINE) {	/* C16 */
		rq->state = RQ_PENDING;
		fifo_push(m, granted, id);
	} else {
		rq->state = RQ_POLL;
		fifo_push(m, &a->poll_queue, id);
	}
}

/* C12, C14: head first; the first misfit stops everyone behind it. */
static void serve_register_queue(struct model *m, struct model_fifo *granted,
				 struct model_oracle *oracle)
{
	while (!fifo_empty(&m->register_queue)) {
		uint8_t head = m->register_queue.head;

		if (!decide_fit(m, m->req[head].nregs, oracle))
			return;
		fifo_pop(m, &m->register_queue);
		m->req[head].run = run_take(m, m->req[head].adapter, m->req[head].nregs);
		grant(m, head, granted);
	}
}

/* `id` now holds its adapter's channel: registers now, or wait for them. */
static void channel_taken(struct model *m, uint8_t id, struct model_fifo *granted,
			  struct model_oracle *oracle)
{
	struct model_request *rq = &m->req[id];
	struct model_adapter *a = &m->adapter[rq->adapter];

	a->channel = CH_REQUEST;
	a->holder = id;
	if (new_request_fits(m, rq->nregs, oracle)) {
		rq->run = run_take(m, rq->adapter, rq->nregs);
		grant(m, id, granted);
	} else {
		rq->state = RQ_WAIT_REGISTERS;
		fifo_push(m, &m->register_queue, id);
	}
}

/* C11, C14: the channel passes to the oldest request queued for it. */
static void channel_release(struct model *m, uint8_t adapter, struct model_fifo *granted,
			    struct model_oracle *oracle)
{
	struct model_adapter *a = &m->adapter[adapter];

	a->channel = CH_FREE;
	a->holder = 0;
	a->run = 0;
	uint8_t next = fifo_pop(m, &a->channel_queue);
	if (next != 0)
		channel_taken(m, next, granted, oracle);
}

static void release_all(struct model *m, uint8_t adapter, uint8_t run,
			struct model_fifo *granted, struct model_oracle *oracle)
{
	run_release(m, run);
	serve_register_queue(m, granted, oracle);
	channel_release(m, adapter, granted, oracle);
}

/* One step's inline grants join the thread's pending FIFO as one batch. */
static void pending_append(struct model *m, struct model_fifo *granted)
{
	if (fifo_empty(granted))
		return;
	m->batches++;
	for (uint8_t at = granted->head; at != 0; at = m->req[at].next)
		m->req[at].batch = m->batches;
	fifo_splice(m, &m->pending, granted);
}

/* Frames: the library's activations on the thread (dispatch, C16, C17). */

static struct model_frame *frame_push(struct model *m, enum model_frame_kind kind,
				      uint64_t result)
{
	struct model_frame *f = &m->frame[m->nframes++];

	*f = (struct model_frame){ .kind = kind, .phase = PH_DONE, .result = result };
	return f;
}

static void push_plain(struct model *m, uint64_t result)
{
	frame_push(m, F_PLAIN, result);
}

/* A call that ends by dispatching its grants: run now, or leave to an outer loop. */
static void push_dispatching(struct model *m, uint64_t result, struct model_fifo *granted)
{
	struct model_frame *f = frame_push(m, F_CALL, result);

	pending_append(m, granted);
	if (m->depth > 0)
		return;			/* C17: the outermost loop runs them */
	m->depth++;
	f->phase = PH_DRAIN;
}

static bool in_routine_of(const struct model *m, uint8_t adapter)
{
	for (uint32_t i = 0; i < m->nrunning; i++)
		if (m->running[i] == adapter)
			return true;
	return false;
}

/* mapreg.h: a routine cannot destroy the adapter a mapreg_poll() up the stack polls. */
static bool polling(const struct model *m, uint8_t adapter)
{
	for (uint32_t i = 0; i < m->nframes; i++)
		if (m->frame[i].kind == F_POLL && m->frame[i].adapter == adapter)
			return true;
	return false;
}

static uint64_t caller_error(struct model *m)
{
	m->caller_errors++;
	return MAPREG_INVALID_PARAMETER;
}

/* The calls. */

static void call_adapter_create(struct model *m, const struct model_call *c)
{
	struct model_adapter *a = &m->adapter[c->adapter];
	uint32_t limit = c->cfg_null ? 0 : c->limit;
	uint32_t dispatch = c->cfg_null ? MAPREG_DISPATCH_INLINE : c->dispatch;

	if (limit > m->registers || dispatch > MAPREG_DISPATCH_POLL) {	/* C2 */
		push_plain(m, caller_error(m));
		return;
	}
	*a = (struct model_adapter){
		.exists = true,
		.dispatch = (uint8_t)dispatch,
		.limit = limit != 0 ? limit : m->registers,
	};
	if (m->boundary != 0 && a->limit > m->boundary)
		a->limit = m->boundary;				/* C30 */
	m->adapters++;
	push_plain(m, MAPREG_OK);
}

static void call_adapter_destroy(struct model *m, const struct model_call *c)
{
	if (c->adapter == MODEL_NONE) {
		push_plain(m, MAPREG_INVALID_PARAMETER);
		return;
	}
	struct model_adapter *a = &m->adapter[c->adapter];
	if (a->channel != CH_FREE || !fifo_empty(&a->channel_queue) ||
	    !fifo_empty(&a->poll_queue) || a->kept_runs != 0 || polling(m, c->adapter)) {
		push_plain(m, MAPREG_BUSY);			/* C3, mapreg.h */
		return;
	}
	a->exists = false;
	m->adapters--;
	/* The checker zeroes transfers bound to it: no binding outlives it. */
	for (uint32_t x = 0; x < MODEL_XFERS; x++)
		if (m->xfer[x].state != XS_RAW && m->xfer[x].adapter == c->adapter)
			m->xfer[x] = (struct model_xfer){ 0 };
	push_plain(m, MAPREG_OK);
}

static void call_transfer_init(struct model *m, const struct model_call *c)
{
	if (c->adapter == MODEL_NONE) {
		push_plain(m, MAPREG_INVALID_PARAMETER);
		return;
	}
	if (c->xfer == MODEL_NONE || m->xfer[c->xfer].state == XS_BUSY) {	/* C9 */
		push_plain(m, caller_error(m));
		return;
	}
	/* Binds it and clears a cancel mark (C21). */
	m->xfer[c->xfer] = (struct model_xfer){ .state = XS_IDLE, .adapter = c->adapter };
	push_plain(m, MAPREG_OK);
}

static void call_transfer_scribble(struct model *m, const struct model_call *c)
{
	m->xfer[c->xfer] = (struct model_xfer){ 0 };	/* uninitialized again */
	push_plain(m, MAPREG_OK);
}

/* C5, C7, C8, C9, C21: the checks before a request exists. */
static uint64_t allocate_refusal(struct model *m, const struct model_call *c, bool ex)
{
	bool sync = c->flags & MAPREG_SYNCHRONOUS_CALLBACK;

	if (c->adapter == MODEL_NONE)
		return MAPREG_INVALID_PARAMETER;	/* no pool to count it on */
	if ((c->flags & ~MAPREG_SYNCHRONOUS_CALLBACK) != 0 || (!c->fn && !c->base_out) ||
	    (c->base_out && !sync))
		return caller_error(m);
	if (ex && (c->xfer == MODEL_NONE || m->xfer[c->xfer].state == XS_RAW ||
		   m->xfer[c->xfer].adapter != c->adapter))
		return caller_error(m);
	if (in_routine_of(m, c->adapter))
		return caller_error(m);			/* it would wait on itself */
	if (c->nregs > m->adapter[c->adapter].limit)
		return MAPREG_INSUFFICIENT_RESOURCES;	/* C5 */
	if (!ex)
		return MAPREG_OK;
	struct model_xfer *x = &m->xfer[c->xfer];
	if (x->state == XS_BUSY)
		return caller_error(m);			/* C9, C10 */
	if (x->state == XS_MARKED) {
		x->state = XS_IDLE;			/* C21: the mark is consumed */
		return MAPREG_CANCELLED;
	}
	return MAPREG_OK;
}

static void call_allocate(struct model *m, const struct model_call *c, bool ex,
			  struct model_oracle *oracle)
{
	bool sync = ex && (c->flags & MAPREG_SYNCHRONOUS_CALLBACK);
	uint64_t refusal = allocate_refusal(m, c, ex);

	if (refusal != MAPREG_OK) {
		push_plain(m, refusal);
		return;
	}
	struct model_adapter *a = &m->adapter[c->adapter];
	struct model_request *rq = &m->req[c->req];
	*rq = (struct model_request){ .adapter = c->adapter, .nregs = c->nregs, .fn = c->fn,
				      .xfer = ex ? c->xfer : MODEL_NONE };
	bool channel_free = a->channel == CH_FREE && fifo_empty(&a->channel_queue);	/* C11 */

	if (channel_free && new_request_fits(m, c->nregs, oracle)) {	/* C6, C8 */
		m->grants++;
		rq->run = run_take(m, c->adapter, c->nregs);
		a->channel = CH_REQUEST;
		a->holder = c->req;
		if (sync && !c->fn) {				/* C8: the caller holds */
			a->channel = CH_SYNC;
			a->run = rq->run;
			rq->state = RQ_DONE;
			push_plain(m, MAPREG_OK);
			return;
		}
		rq->state = RQ_GRANTED_NOW;
		if (ex)
			m->xfer[c->xfer] = (struct model_xfer){ XS_BUSY, c->adapter, c->req };
		frame_push(m, F_RUN_NOW, MAPREG_OK)->req = c->req;
		m->depth++;
		m->frame[m->nframes - 1].phase = PH_START;
		return;
	}
	if (sync) {
		m->sync_failures++;
		rq->state = RQ_UNUSED;
		push_plain(m, MAPREG_INSUFFICIENT_RESOURCES);
		return;
	}
	if (ex)
		m->xfer[c->xfer] = (struct model_xfer){ XS_BUSY, c->adapter, c->req };
	if (channel_free) {
		a->channel = CH_REQUEST;
		a->holder = c->req;
		rq->state = RQ_WAIT_REGISTERS;
		fifo_push(m, &m->register_queue, c->req);
	} else {
		rq->state = RQ_WAIT_CHANNEL;
		fifo_push(m, &a->channel_queue, c->req);
	}
	push_plain(m, MAPREG_OK);
}

/* C20, C21. */
static void call_cancel(struct model *m, const struct model_call *c, struct model_oracle *oracle)
{
	struct model_fifo granted = { 0 };

	if (c->adapter == MODEL_NONE || c->xfer == MODEL_NONE ||
	    m->xfer[c->xfer].state == XS_RAW || m->xfer[c->xfer].adapter != c->adapter) {
		push_plain(m, false);			/* changes nothing */
		return;
	}
	struct model_xfer *x = &m->xfer[c->xfer];
	if (x->state != XS_BUSY) {
		x->state = XS_MARKED;			/* C21 */
		push_plain(m, false);
		return;
	}
	uint8_t id = x->req;
	struct model_request *rq = &m->req[id];
	if (rq->state == RQ_WAIT_CHANNEL) {
		fifo_remove(m, &m->adapter[rq->adapter].channel_queue, id);
	} else if (rq->state == RQ_WAIT_REGISTERS) {
		bool was_head = m->register_queue.head == id;

		fifo_remove(m, &m->register_queue, id);
		if (was_head)				/* the next waiter may fit now */
			serve_register_queue(m, &granted, oracle);
		channel_release(m, rq->adapter, &granted, oracle);
	} else {
		push_plain(m, false);			/* granted, running or done */
		return;
	}
	rq->state = RQ_DONE;
	m->cancels++;
	*x = (struct model_xfer){ .state = XS_IDLE, .adapter = c->adapter };	/* C10 */
	push_dispatching(m, true, &granted);
}

static void call_free_channel(struct model *m, const struct model_call *c,
			      struct model_oracle *oracle)
{
	struct model_fifo granted = { 0 };

	if (c->adapter == MODEL_NONE) {
		push_plain(m, MAPREG_INVALID_PARAMETER);
		return;
	}
	struct model_adapter *a = &m->adapter[c->adapter];
	if (a->channel != CH_KEPT) {
		push_plain(m, caller_error(m));		/* C22 */
		return;
	}
	release_all(m, c->adapter, a->run, &granted, oracle);
	push_dispatching(m, MAPREG_OK, &granted);
}

static uint8_t kept_run_named(const struct model *m, uint8_t adapter, mapreg_base base)
{
	for (uint8_t r = 1; r < MODEL_RUNS; r++) {
		const struct model_run *run = &m->run[r];

		if (run->used && run->kept && run->known && run->adapter == adapter &&
		    run->first == base.first && run->count == base.count)
			return r;
	}
	return 0;
}

/* C23. */
static void call_free_map_registers(struct model *m, const struct model_call *c,
				    struct model_oracle *oracle)
{
	struct model_fifo granted = { 0 };

	if (c->adapter == MODEL_NONE) {
		push_plain(m, MAPREG_INVALID_PARAMETER);
		return;
	}
	uint8_t r = c->nregs != 0 && c->nregs == c->base.count ?
		    kept_run_named(m, c->adapter, c->base) : 0;
	if (r == 0) {
		push_plain(m, caller_error(m));
		return;
	}
	run_release(m, r);
	m->adapter[c->adapter].kept_runs--;
	serve_register_queue(m, &granted, oracle);
	push_dispatching(m, MAPREG_OK, &granted);
}

/* C24. */
static void call_free_adapter_object(struct model *m, const struct model_call *c,
				     struct model_oracle *oracle)
{
	struct model_fifo granted = { 0 };

	if (c->adapter == MODEL_NONE) {
		push_plain(m, MAPREG_INVALID_PARAMETER);
		return;
	}
	struct model_adapter *a = &m->adapter[c->adapter];
	if ((c->action != MAPREG_DEALLOCATE_OBJECT &&
	     c->action != MAPREG_DEALLOCATE_OBJECT_KEEP_REGISTERS) || a->channel != CH_SYNC) {
		push_plain(m, caller_error(m));
		return;
	}
	if (c->action == MAPREG_DEALLOCATE_OBJECT_KEEP_REGISTERS) {
		run_keep(m, a->run);
		channel_release(m, c->adapter, &granted, oracle);
	} else {
		release_all(m, c->adapter, a->run, &granted, oracle);
	}
	push_dispatching(m, MAPREG_OK, &granted);
}

/* C16: runs at most max pending routines of a poll adapter. */
static void call_poll(struct model *m, const struct model_call *c)
{
	if (c->adapter == MODEL_NONE ||
	    m->adapter[c->adapter].dispatch != MAPREG_DISPATCH_POLL ||
	    in_routine_of(m, c->adapter)) {
		push_plain(m, 0);
		return;
	}
	struct model_frame *f = frame_push(m, F_POLL, 0);
	f->adapter = c->adapter;
	f->max = c->max;
	f->phase = PH_LOOP;
	m->depth++;
}

/* C25. */
static void call_grow(struct model *m, const struct model_call *c, struct model_oracle *oracle)
{
	struct model_fifo granted = { 0 };

	if (c->registers > MAPREG_MAX_REGISTERS || c->registers < m->registers) {
		push_plain(m, caller_error(m));
		return;
	}
	if (c->registers == m->registers) {
		push_plain(m, MAPREG_OK);
		return;
	}
	m->registers = c->registers;
	serve_register_queue(m, &granted, oracle);
	push_dispatching(m, MAPREG_OK, &granted);
}

void model_init(struct model *m, uint32_t registers, uint32_t boundary)
{
	memset(m, 0, sizeof(*m));
	m->registers = registers;
	m->boundary = boundary;
}

void model_call(struct model *m, const struct model_call *c, struct model_oracle *oracle)
{
	switch (c->kind) {
	case MC_ADAPTER_CREATE:		call_adapter_create(m, c); break;
	case MC_ADAPTER_DESTROY:	call_adapter_destroy(m, c); break;
	case MC_TRANSFER_INIT:		call_transfer_init(m, c); break;
	case MC_TRANSFER_SCRIBBLE:	call_transfer_scribble(m, c); break;
	case MC_ALLOCATE:		call_allocate(m, c, false, oracle); break;
	case MC_ALLOCATE_EX:		call_allocate(m, c, true, oracle); break;
	case MC_CANCEL:			call_cancel(m, c, oracle); break;
	case MC_FREE_CHANNEL:		call_free_channel(m, c, oracle); break;
	case MC_FREE_MAP_REGISTERS:	call_free_map_registers(m, c, oracle); break;
	case MC_FREE_ADAPTER_OBJECT:	call_free_adapter_object(m, c, oracle); break;
	case MC_POLL:			call_poll(m, c); break;
	case MC_GROW:			call_grow(m, c, oracle); break;
	case MC_POOL_DESTROY:		push_plain(m, MAPREG_BUSY); break;	/* C3 */
	case MC_STATS_NULL:		push_plain(m, caller_error(m)); break;
	}
}

static struct model_event run_event(struct model *m, uint8_t id)
{
	m->req[id].state = RQ_RUNNING;
	m->running[m->nrunning++] = m->req[id].adapter;
	return (struct model_event){ .kind = MODEL_RUN, .req = id };
}

static struct model_event return_event(struct model *m, uint64_t result)
{
	m->nframes--;
	return (struct model_event){ .kind = MODEL_RETURN, .result = result };
}

/*
 * The dispatch loop's next routine, or false when the pending FIFO is
 * empty: the head, or `seen` if it was granted in the same step as the head.
 */
static bool drain_next(struct model *m, uint8_t seen, struct model_event *ev)
{
	uint8_t id = m->pending.head;

	if (id == 0)
		return false;
	if (seen != 0 && m->req[seen].state == RQ_PENDING &&
	    m->req[seen].batch == m->req[id].batch)
		id = seen;
	fifo_remove(m, &m->pending, id);
	*ev = run_event(m, id);
	return true;
}

struct model_event model_step(struct model *m, uint8_t seen)
{
	struct model_frame *f = &m->frame[m->nframes - 1];
	struct model_event ev;

	for (;;) {
		switch (f->phase) {
		case PH_DONE:
			return return_event(m, f->result);
		case PH_START:				/* F_RUN_NOW */
			f->phase = PH_AFTER;
			return run_event(m, f->req);
		case PH_AFTER:				/* a routine returned */
			if (f->kind == F_POLL)
				f->ran++;
			if (m->depth == 1)
				f->phase = PH_DRAIN;
			else if (f->kind == F_POLL)
				f->phase = PH_LOOP;
			else
				f->phase = PH_DONE, m->depth--;
			break;
		case PH_DRAIN:
			if (drain_next(m, seen, &ev))
				return ev;
			if (f->kind == F_POLL) {
				f->phase = PH_LOOP;
				break;
			}
			m->depth--;
			return return_event(m, f->result);
		case PH_LOOP: {				/* F_POLL */
			uint8_t id = f->ran < f->max ?
				     fifo_pop(m, &m->adapter[f->adapter].poll_queue) : 0;
			if (id != 0) {
				f->phase = PH_AFTER;
				return run_event(m, id);
			}
			m->depth--;
			return return_event(m, f->ran);
		}
		}
	}
}

bool model_reveal(struct model *m, uint8_t id, mapreg_base base)
{
	struct model_run *run = &m->run[m->req[id].run];

	if (m->req[id].run == 0)
		return base.count == 0;				/* C4 */
	if (run->known)
		return base.first == run->first && base.count == run->count;
	if (base.count != run->count || (uint64_t)base.first + base.count > m->registers)
		return false;
	if (m->boundary != 0 && base.first / m->boundary != (base.first + base.count - 1) / m->boundary)
		return false;				/* C30: crosses a boundary */
	uint64_t mask = run_mask(base.first, base.count);
	if (m->placed & mask)
		return false;				/* overlaps a held run */
	m->placed |= mask;
	run->known = true;
	run->first = base.first;
	return true;
}

/* C19: the answer is applied when the routine returns. */
void model_routine_returned(struct model *m, uint8_t id, uint32_t action,
			    struct model_oracle *oracle)
{
	struct model_request *rq = &m->req[id];
	struct model_adapter *a = &m->adapter[rq->adapter];
	struct model_fifo granted = { 0 };

	m->nrunning--;
	if (action != MAPREG_KEEP_OBJECT && action != MAPREG_DEALLOCATE_OBJECT &&
	    action != MAPREG_DEALLOCATE_OBJECT_KEEP_REGISTERS) {
		m->caller_errors++;
		action = MAPREG_DEALLOCATE_OBJECT;
	}
	rq->state = RQ_DONE;
	if (action == MAPREG_KEEP_OBJECT) {
		a->channel = CH_KEPT;
		a->run = rq->run;
	} else if (action == MAPREG_DEALLOCATE_OBJECT_KEEP_REGISTERS) {
		run_keep(m, rq->run);
		channel_release(m, rq->adapter, &granted, oracle);
	} else {
		release_all(m, rq->adapter, rq->run, &granted, oracle);
	}
	if (rq->xfer != MODEL_NONE)
		m->xfer[rq->xfer] = (struct model_xfer){ .state = XS_IDLE,
							 .adapter = rq->adapter };	/* C10 */
	pending_append(m, &granted);
}

void model_stats(const struct model *m, mapreg_pool_stats *out)
{
	uint64_t waiting_channel = 0;

	for (uint32_t a = 0; a < MODEL_ADAPTERS; a++)
		waiting_channel += fifo_length(m, &m->adapter[a].channel_queue);
	*out = (mapreg_pool_stats){
		.registers = m->registers,
		.free = m->registers - m->held,
		.held = m->held,
		.waiting_channel = waiting_channel,
		.waiting_registers = fifo_length(m, &m->register_queue),
		.grants = m->grants,
		.cancels = m->cancels,
		.sync_failures = m->sync_failures,
		.caller_errors = m->caller_errors,
	};
}

bool model_xfer_names_request(const struct model *m, uint8_t xfer)
{
	return m->xfer[xfer].state == XS_BUSY;
}

bool model_poll_pending(const struct model *m, uint8_t adapter)
{
	return !fifo_empty(&m->adapter[adapter].poll_queue);
}

bool model_quiescent(const struct model *m)
{
	if (m->held != 0 || !fifo_empty(&m->register_queue) || !fifo_empty(&m->pending))
		return false;
	for (uint32_t a = 0; a < MODEL_ADAPTERS; a++)
		if (m->adapter[a].exists && (m->adapter[a].channel != CH_FREE ||
					     !fifo_empty(&m->adapter[a].channel_queue)))
			return false;
	return true;
}

const char *model_call_name(enum model_call_kind kind)
{
	static const char *const names[] = {
		[MC_ADAPTER_CREATE] = "adapter_create",
		[MC_ADAPTER_DESTROY] = "adapter_destroy",
		[MC_TRANSFER_INIT] = "transfer_init",
		[MC_TRANSFER_SCRIBBLE] = "transfer_scribble",
		[MC_ALLOCATE] = "allocate_channel",
		[MC_ALLOCATE_EX] = "allocate_channel_ex",
		[MC_CANCEL] = "cancel_channel",
		[MC_FREE_CHANNEL] = "free_channel",
		[MC_FREE_MAP_REGISTERS] = "free_map_registers",
		[MC_FREE_ADAPTER_OBJECT] = "free_adapter_object",
		[MC_POLL] = "poll",
		[MC_GROW] = "pool_grow",
		[MC_POOL_DESTROY] = "pool_destroy",
		[MC_STATS_NULL] = "pool_get_stats(NULL)",
	};
	return names[kind];
}
