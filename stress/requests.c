/* SPDX-License-Identifier: MIT */
/*
 * Requests, their routine and their holds: the calls every actor makes, each
 * followed by the checks that the contract allows on its result.
 *
 * What is checked here, at every step:
 *  - exactly one outcome per request (C6, C15, C20): the slot's state moves
 *    from PENDING exactly once, by compare-and-swap, to RAN (its routine),
 *    to CANCELLED (a cancel returned true) or back to IDLE (the submission
 *    was refused); a second move is reported, whoever attempts it;
 *  - the shadow map (shadow.c): a register or channel granted twice, or let
 *    go by a token that does not hold it;
 *  - C11 channel order: per adapter, the requests one actor makes are
 *    granted in the order it made them, cancelled and refused ones aside.
 *    Only one actor's own order is observable (two actors' submissions are
 *    not ordered by anything we can see), and routines of one adapter never
 *    overlap (the channel is exclusive), so the check is exact;
 *  - C12 pool order, where the prober makes it observable (actors.c): the
 *    routine of a request that started waiting later cancels the earlier
 *    one, which must fail because the earlier one was granted first;
 *  - the results of every call: C5, C8, C9, C10, C19, C21, C22, C23, C24.
 */
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>

#include "stress.h"

_Thread_local struct actor *self;

/* Tallies have one writer, the thread owning the actor; others read. */
void count(_Atomic uint64_t *counter)
{
	atomic_store_explicit(counter, atomic_load_explicit(counter, memory_order_relaxed) + 1,
			      memory_order_relaxed);
}

uint64_t tally_get(_Atomic uint64_t *counter)
{
	return atomic_load_explicit(counter, memory_order_relaxed);
}

void live_add(struct world *w, int64_t n)
{
	atomic_fetch_add(&w->live, n);
}

static const char *phase_story(enum phase p)
{
	switch (p) {
	case PHASE_IDLE:	return "was refused";
	case PHASE_PENDING:	return "is still pending";
	case PHASE_RAN:		return "had its routine run";
	case PHASE_CANCELLED:	return "was cancelled (cancel returned true)";
	}
	return "?";
}

/* The one move out of PENDING, for the request `state` (as read) names. */
static void outcome(struct world *w, struct slot *s, uint64_t state, enum phase to,
		    const char *what)
{
	uint64_t seen = state;

	atomic_store_explicit(&s->settled, now_ns(), memory_order_relaxed);
	if (STATE_PHASE(state) != PHASE_PENDING ||
	    !atomic_compare_exchange_strong(&s->state, &seen, STATE(STATE_GEN(state), to)))
		fail("outcome", "request %llu of actor %u on adapter %u %s, but it already %s%s",
		     (unsigned long long)STATE_GEN(state), s->owner->index,
		     atomic_load(&s->adapter), what, phase_story(STATE_PHASE(seen)),
		     STATE_GEN(seen) != STATE_GEN(state) ? " (and its slot moved on)" : "");
	live_add(w, -1);
}

bool slot_pending(struct slot *s)
{
	return STATE_PHASE(atomic_load(&s->state)) == PHASE_PENDING;
}

/*
 * The free slot whose request ended first.  Reuse right after an outcome
 * is legal (C10), and still happens when the other slots are busy; taking
 * the longest-settled slot first just gives a faulty library's stale run
 * time to show up as what it is.  With a fault planted, a transfer whose
 * cancel returned true is not reused in the epoch at all: if the cancel
 * lied (FAULT_CANCEL_GRANTED) the library still runs the request from the
 * transfer's memory, and refilling it would corrupt the library's queues,
 * which could then fail some other check (or crash) before the outcome
 * check names the fault.
 */
struct slot *slot_free(struct actor *a)
{
	struct slot *best = NULL;
	uint64_t best_settled = UINT64_MAX;

	for (uint32_t i = 0; i < a->nslots; i++) {
		struct slot *s = &a->slots[i];
		uint64_t settled = atomic_load_explicit(&s->settled, memory_order_relaxed);
		enum phase phase = STATE_PHASE(atomic_load(&s->state));

		if (phase == PHASE_PENDING || s->reserved)
			continue;
		if (phase == PHASE_CANCELLED && a->w->opt->retire_cancelled)
			continue;
		if (settled < best_settled) {
			best = s;
			best_settled = settled;
		}
	}
	return best;
}

uint32_t random_nregs(struct rng *r, uint32_t max)
{
	if (rng_percent(r, 8))
		return 0;				/* C4: the channel only */
	if (rng_percent(r, 60))
		return 1 + rng_below(r, max / 4 + 1 < max ? max / 4 + 1 : max);
	return 1 + rng_below(r, max);
}

enum plan random_plan(struct actor *a)
{
	unsigned roll = rng_below(&a->rng, 100);

	if (a->w->opt->keep_registers_mix)
		return roll < 85 ? PLAN_KEEP_REGISTERS : roll < 95 ? PLAN_DEALLOCATE
								   : PLAN_KEEP_OBJECT;
	return roll < 45 ? PLAN_DEALLOCATE : roll < 65 ? PLAN_KEEP_OBJECT
			   : roll < 97 ? PLAN_KEEP_REGISTERS : PLAN_BAD;
}

/* Holds. */

void hold_list_init(struct hold_list *list)
{
	pthread_mutex_init(&list->lock, NULL);
	list->head = NULL;
}

/* Appends: the oldest hold is freed first, so none lingers. */
void hold_push(struct hold_list *list, struct hold *h)
{
	h->next = NULL;
	pthread_mutex_lock(&list->lock);
	struct hold **tail = &list->head;
	while (*tail != NULL)
		tail = &(*tail)->next;
	*tail = h;
	pthread_mutex_unlock(&list->lock);
}

struct hold *hold_pop(struct hold_list *list)
{
	pthread_mutex_lock(&list->lock);
	struct hold *h = list->head;
	if (h != NULL)
		list->head = h->next;
	pthread_mutex_unlock(&list->lock);
	return h;
}

bool hold_list_empty(struct hold_list *list)
{
	pthread_mutex_lock(&list->lock);
	bool empty = list->head == NULL;
	pthread_mutex_unlock(&list->lock);
	return empty;
}

/*
 * A new hold counts as live before the request that made it stops being.
 * A routine's answer is applied only after it returns, and freeing the hold
 * before then is refused (C22, C23): so most holds wait on this actor until
 * its library call has returned (publish_holds); one in ten goes out at
 * once, to keep those early, refused frees in the mix.
 */
static void keep(struct actor *a, struct hold_list *list, bool channel, uint32_t adapter,
		 mapreg_base base, uint64_t token)
{
	struct hold *h = malloc(sizeof(*h));

	if (h == NULL)
		fail("harness", "out of memory");
	*h = (struct hold){ .channel = channel, .adapter = adapter, .base = base,
			    .token = token, .home = list };
	live_add(a->w, 1);
	if (rng_percent(&a->rng, 10)) {
		hold_push(list, h);
		return;
	}
	h->next = a->unapplied;
	a->unapplied = h;
}

void publish_holds(struct actor *a)
{
	struct hold *h;

	while ((h = a->unapplied) != NULL) {
		a->unapplied = h->next;
		hold_push(h->home, h);
	}
}

static void expect_invalid(struct actor *a, mapreg_status st, const char *check, const char *what)
{
	count(&a->tally.ops);
	if (st != MAPREG_INVALID_PARAMETER)
		fail(check, "%s returned %s, not MAPREG_INVALID_PARAMETER", what,
		     mapreg_status_str(st));
	count(&a->tally.caller_errors);
}

/*
 * C23: a kept run can be freed only through the adapter it was allocated
 * through, and only whole.  The run is ours, so no other run can start
 * inside it or be named by it: both frees must fail.
 */
static void probe_bad_frees(struct actor *a, struct hold *h)
{
	struct world *w = a->w;
	uint32_t other = rng_below(&a->rng, w->nshared);

	/*
	 * Should a bad free be accepted, its inline grants run before it
	 * returns: naming this hold's token here lets the claim that then
	 * collides report the free, not a double grant (shadow.c).
	 */
	atomic_store(&a->probing, h->token);
	if (other != h->adapter)
		expect_invalid(a, mapreg_free_map_registers(w->adapters[other].ad, h->base,
							    h->base.count),
			       "free", "freeing a run through an adapter that did not allocate it");
	if (h->base.count >= 2) {
		mapreg_base part = { h->base.first, h->base.count - 1 };

		expect_invalid(a, mapreg_free_map_registers(w->adapters[h->adapter].ad, part,
							    part.count),
			       "free", "freeing part of a kept run");
	}
	atomic_store(&a->probing, 0);
}

/*
 * Frees a hold.  The shadow lets go first: once the library has the
 * registers back it may grant them at once.  MAPREG_INVALID_PARAMETER is
 * the right answer while the routine that kept it has not returned (its
 * answer is not applied yet, C22, C23): then the hold is still ours and
 * the shadow takes it back.
 */
static bool hold_free(struct actor *a, struct hold *h)
{
	struct world *w = a->w;
	mapreg_adapter *ad = w->adapters[h->adapter].ad;
	mapreg_status st;

	shadow_begin(&w->shadow);
	shadow_release(w, h->adapter, h->base, h->token, h->channel);
	if (h->channel)
		st = mapreg_free_channel(ad);
	else
		st = mapreg_free_map_registers(ad, h->base, h->base.count);
	count(&a->tally.ops);
	if (st == MAPREG_INVALID_PARAMETER) {
		shadow_claim(w, h->adapter, h->base, h->token, h->channel);
		count(&a->tally.caller_errors);
	} else if (st != MAPREG_OK) {
		fail("api", "freeing a kept %s of adapter %u returned %s",
		     h->channel ? "channel" : "run", h->adapter, mapreg_status_str(st));
	}
	shadow_end(&w->shadow);
	return st == MAPREG_OK;
}

/* False if there was nothing to free, or it was not ready (caller yields). */
bool free_one_hold(struct actor *a, struct hold_list *list)
{
	struct hold *h = hold_pop(list);

	if (h == NULL)
		return false;
	doing(a, "freeing a hold");
	if (!h->channel && !h->probed && rng_percent(&a->rng, 5))
		probe_bad_frees(a, h);
	h->probed = true;
	if (!hold_free(a, h)) {
		hold_push(list, h);
		return false;
	}
	free(h);
	live_add(a->w, -1);
	return true;
}

/* Cancels. */

static struct marks marks_now(struct slot *s)
{
	uint64_t ended = atomic_load(&s->cancels_ended);
	uint64_t begun = atomic_load(&s->cancels_begun);

	return (struct marks){ begun, begun == ended };
}

/* Whether a cancel may have marked the xfer since `since` was taken. */
static bool marked_since(struct slot *s, struct marks since)
{
	return !since.clean || atomic_load(&s->cancels_begun) != since.begun;
}

static bool cancel_call(struct actor *a, struct slot *s, uint32_t adapter)
{
	struct sadapter *ad = &a->w->adapters[adapter];

	doing(a, "cancelling");
	atomic_fetch_add(&s->cancels_begun, 1);
	bool cancelled = mapreg_cancel_channel(ad->ad, ad, &s->xfer);
	atomic_fetch_add(&s->cancels_ended, 1);
	count(&a->tally.ops);
	return cancelled;
}

/* C20: true means the request was waiting, holds nothing, never runs. */
static bool cancel_request(struct actor *a, struct slot *s, uint32_t adapter)
{
	if (!cancel_call(a, s, adapter))
		return false;
	count(&a->tally.cancels);
	/*
	 * A cancelled request stays the slot's current one until its canceller
	 * settles it, so it must be on the adapter the cancel named (C21; the
	 * rebound-transfer race made a cancel naming A cancel a request on B).
	 */
	if (atomic_load(&s->adapter) != adapter)
		fail("api", "C21: a cancel naming adapter %u returned true for the transfer's "
		     "request on adapter %u", adapter, atomic_load(&s->adapter));
	outcome(a->w, s, atomic_load(&s->state), PHASE_CANCELLED, "was cancelled (cancel returned true)");
	return true;
}

bool cancel_own(struct actor *a, struct slot *s)
{
	uint64_t state = atomic_load(&s->state);

	if (STATE_PHASE(state) != PHASE_PENDING || !s->ex)
		return false;
	return cancel_request(a, s, atomic_load(&s->adapter));
}

bool cancel(struct actor *a, struct slot *s)
{
	uint64_t state = atomic_load(&s->state);

	if (STATE_PHASE(state) != PHASE_PENDING || !atomic_load(&s->cancellable))
		return false;
	uint32_t adapter = atomic_load(&s->adapter);
	if (adapter >= a->w->nshared)		/* others' adapters may be gone */
		return false;
	return cancel_request(a, s, adapter);
}

/* The routine. */

static void routine_enter(struct actor *a, uint32_t adapter)
{
	if (a->depth == sizeof(a->running) / sizeof(a->running[0]))
		fail("harness", "routines nested more than %u deep", a->depth);
	a->running[a->depth++] = adapter;
}

static bool routine_running(struct actor *a, uint32_t adapter)
{
	for (uint32_t i = 0; i < a->depth; i++)
		if (a->running[i] == adapter)
			return true;
	return false;
}

/*
 * Half the time the adapter of the last pick: drivers issue bursts on one
 * adapter, and C11's overtakes need a thread's consecutive requests there
 * (a request queued, then the same thread's next one taking the channel).
 */
int pick_shared_adapter(struct actor *a)
{
	if (a->last_adapter >= 0 && rng_below(&a->rng, 2) == 0 &&
	    !routine_running(a, (uint32_t)a->last_adapter))
		return a->last_adapter;
	for (int tries = 0; tries < 8; tries++) {
		uint32_t i = rng_below(&a->rng, a->w->nshared);

		if (!routine_running(a, i))
			return a->last_adapter = (int)i;
	}
	return -1;
}

/*
 * C11, per (owner, adapter): grants follow the owner's submission order.
 * Like C12 below, a violation is reported at the next quiescence: a
 * faulty library's stale run of a reused slot (FAULT_CANCEL_GRANTED) wears
 * the identity of a younger request and can look like an overtake; its
 * second run is then reported by the outcome check first.
 */
static void check_channel_order(struct world *w, struct actor *owner, uint32_t adapter,
				uint32_t seq)
{
	_Atomic uint32_t *cell = &w->last_granted[owner->index * w->nadapters + adapter];
	uint32_t last = atomic_load(cell);

	do {
		if (seq <= last) {
			defer_failure(w, "order-channel", "C11: actor %u's request #%u on adapter "
				      "%u was granted after its later request #%u", owner->index,
				      seq, adapter, last);
			return;
		}
	} while (!atomic_compare_exchange_weak(cell, &last, seq));
}

/*
 * C12: `earlier` started waiting for registers before this request did,
 * so it was granted first and can no longer be cancelled.  A true return
 * is reported at the next quiescence: a cancel that lies about a granted
 * request (C20) would look the same here, and then the earlier request's
 * routine still runs and the outcome check names the real culprit first.
 */
static void check_pool_order(struct actor *a, struct slot *earlier)
{
	uint32_t adapter = atomic_load(&earlier->adapter);

	if (cancel_request(a, earlier, adapter))
		defer_failure(a->w, "order-pool", "C12: a request that started waiting for "
			      "registers later was granted while adapter %u's request for %u "
			      "registers still waited", adapter, atomic_load(&earlier->nregs));
}

static mapreg_action never_routine(void *device, mapreg_transfer *xfer, mapreg_base base,
				   void *context)
{
	fail("api", "a routine ran for a request the library had to refuse (C5, C9, C21)");
}

/* C9: from inside a routine, a call that would wait on its own adapter. */
static void probe_own_adapter(struct actor *a, uint32_t adapter)
{
	struct sadapter *ad = &a->w->adapters[adapter];

	expect_invalid(a, mapreg_allocate_channel(ad->ad, ad, 0, never_routine, NULL), "api",
		       "C9: allocating on the adapter whose routine is running");
	if (ad->dispatch == MAPREG_DISPATCH_POLL && mapreg_poll(ad->ad, 8) != 0)
		fail("api", "mapreg_poll ran routines of adapter %u from inside its routine",
		     adapter);
}

void poll_elsewhere(struct actor *a)
{
	int i = pick_shared_adapter(a);

	if (i >= 0 && a->w->adapters[i].dispatch == MAPREG_DISPATCH_POLL) {
		doing(a, "polling a shared adapter");
		mapreg_poll(a->w->adapters[i].ad, 1 + rng_below(&a->rng, 4));
		count(&a->tally.ops);
	}
}

void cancel_random(struct actor *a)
{
	struct world *w = a->w;
	struct actor *victim = w->actors[rng_below(&a->rng, w->nactors)];

	if (victim->nslots > 0)
		cancel(a, &victim->slots[rng_below(&a->rng, victim->nslots)]);
}

/* C18: a request on another adapter, made from inside a routine. */
static void allocate_elsewhere(struct actor *a)
{
	struct world *w = a->w;
	int i = pick_shared_adapter(a);
	struct slot *s = slot_free(a);

	if (i < 0 || s == NULL || atomic_load(&w->stopping) || a->depth > 4)
		return;
	struct submit req = {
		.kind = (enum kind)rng_below(&a->rng, 4),
		.adapter = (uint32_t)i,
		.nregs = random_nregs(&a->rng, w->adapters[i].max),
		.plan = random_plan(a),
		.holds = &w->shared_holds,
	};
	submit(a, s, &req);
}

/* C18: what a routine may do besides its own work. */
static void routine_extras(struct actor *a, uint32_t adapter)
{
	unsigned roll = rng_below(&a->rng, 100);

	if (roll < 10)
		allocate_elsewhere(a);
	else if (roll < 14)
		cancel_random(a);
	else if (roll < 18)
		free_one_hold(a, &a->w->shared_holds);
	else if (roll < 20)
		poll_elsewhere(a);
	else if (roll < 21)
		probe_own_adapter(a, adapter);
}

/*
 * The routine's arguments name its request (C4, C6, C7).  A mismatch means
 * it runs for some other request than the one pending on its slot: a
 * stale or second run, e.g. of a request whose cancel returned true and
 * whose transfer was reused (C10, C20), so it counts as an outcome failure.
 */
static void check_routine_args(struct world *w, struct slot *s, uint32_t adapter, void *device,
			       mapreg_transfer *xfer, mapreg_base base)
{
	if (device != &w->adapters[adapter])
		fail("outcome", "C6: adapter %u's routine got another request's device pointer",
		     adapter);
	if (xfer != (s->ex ? &s->xfer : NULL))
		fail("outcome", "C7: adapter %u's routine got another request's transfer", adapter);
	if (base.count != atomic_load(&s->nregs))
		fail("outcome", "C4: adapter %u's routine got %u registers, its request asked for "
		     "%u", adapter, base.count, atomic_load(&s->nregs));
}

/* Applies the plan: what the shadow lets go of now, what is kept. */
static mapreg_action settle(struct actor *a, struct slot *s, uint32_t adapter, mapreg_base base,
			    uint64_t token)
{
	struct world *w = a->w;
	mapreg_base none = { 0, 0 };

	switch (s->plan) {
	case PLAN_KEEP_OBJECT:
		keep(a, s->holds, true, adapter, base, token);
		return MAPREG_KEEP_OBJECT;
	case PLAN_KEEP_REGISTERS:
		shadow_begin(&w->shadow);
		shadow_release(w, adapter, none, token, true);
		shadow_end(&w->shadow);
		if (base.count > 0)
			keep(a, s->holds, false, adapter, base, token);
		return MAPREG_DEALLOCATE_OBJECT_KEEP_REGISTERS;
	case PLAN_BAD:
	case PLAN_DEALLOCATE:
		break;
	}
	shadow_begin(&w->shadow);
	shadow_release(w, adapter, base, token, true);
	shadow_end(&w->shadow);
	if (s->plan == PLAN_DEALLOCATE)
		return MAPREG_DEALLOCATE_OBJECT;
	count(&a->tally.caller_errors);		/* C19: a bad answer is a caller error */
	return (mapreg_action)0x5eed;
}

static mapreg_action routine(void *device, mapreg_transfer *xfer, mapreg_base base, void *context)
{
	struct slot *s = context;
	struct actor *a = self;
	struct world *w = a->w;
	uint64_t state = atomic_load(&s->state);
	uint32_t adapter = atomic_load(&s->adapter);

	atomic_store(&s->ran_on, a);		/* first: a stall report names it */
	doing(a, "in a routine");

	if (STATE_PHASE(state) != PHASE_PENDING)
		fail("outcome", "a routine of adapter %u ran for request %llu of actor %u, which "
		     "already %s", adapter, (unsigned long long)STATE_GEN(state),
		     s->owner->index, phase_story(STATE_PHASE(state)));
	check_routine_args(w, s, adapter, device, xfer, base);
	uint64_t token = token_new(&w->shadow, adapter);
	shadow_begin(&w->shadow);
	shadow_claim(w, adapter, base, token, true);
	shadow_end(&w->shadow);
	check_channel_order(w, s->owner, adapter, s->seq);
	if (s->granted_after != NULL)
		check_pool_order(a, s->granted_after);
	s->granted_base = base;

	routine_enter(a, adapter);
	routine_extras(a, adapter);
	a->depth--;

	mapreg_action action = settle(a, s, adapter, base, token);
	count(&a->tally.routines);
	outcome(w, s, state, PHASE_RAN, "had its routine run");	/* last touch of s */
	doing(a, "returning from a routine");
	return action;
}

/* Submitting. */

/*
 * Binds the slot's xfer to `adapter` (C9: an xfer names one adapter).  The
 * binding is to the adapter object: an ephemeral entry's next adapter is
 * another one (unless malloc hands back the same address, when the library
 * cannot tell either).
 */
static bool bind(struct actor *a, struct slot *s, uint32_t adapter, bool force)
{
	mapreg_adapter *ad = a->w->adapters[adapter].ad;

	if (s->bound == ad && !force)
		return true;
	struct marks before = marks_now(s);
	mapreg_status st = mapreg_transfer_init(ad, &s->xfer);

	count(&a->tally.ops);
	if (st == MAPREG_OK) {
		s->bound = ad;
		s->unmarked = before;		/* init clears marks (C21) */
		s->may_lag = false;		/* it named no request */
		return true;
	}
	if (st == MAPREG_INVALID_PARAMETER && s->may_lag) {
		count(&a->tally.caller_errors);	/* C10: still finishing */
		return false;
	}
	fail("api", "C10: mapreg_transfer_init on a transfer whose last request is over "
	     "returned %s", mapreg_status_str(st));
}

static uint64_t arm(struct actor *a, struct slot *s, const struct submit *req)
{
	struct world *w = a->w;
	uint64_t old = atomic_load(&s->state);

	s->seq = ++a->seq[req->adapter];
	s->plan = req->plan;
	s->holds = req->holds;
	s->granted_after = req->granted_after;
	s->ex = req->kind != KIND_ASYNC_PLAIN;
	atomic_store(&s->ran_on, NULL);
	atomic_store(&s->adapter, req->adapter);
	atomic_store(&s->nregs, req->nregs);
	atomic_store(&s->cancellable, s->ex && w->adapters[req->adapter].role == ROLE_SHARED);
	live_add(w, 1);
	uint64_t state = STATE(STATE_GEN(old) + 1, PHASE_PENDING);
	atomic_store(&s->state, state);
	return state;
}

static mapreg_status call(struct actor *a, struct slot *s, const struct submit *req,
			  mapreg_base *base)
{
	struct sadapter *ad = &a->w->adapters[req->adapter];

	switch (req->kind) {
	case KIND_ASYNC_EX:
		return mapreg_allocate_channel_ex(ad->ad, ad, &s->xfer, req->nregs, 0, routine, s,
						  NULL);
	case KIND_ASYNC_PLAIN:
		return mapreg_allocate_channel(ad->ad, ad, req->nregs, routine, s);
	case KIND_SYNC_ROUTINE:
		return mapreg_allocate_channel_ex(ad->ad, ad, &s->xfer, req->nregs,
						  MAPREG_SYNCHRONOUS_CALLBACK, routine, s,
						  rng_percent(&a->rng, 50) ? base : NULL);
	case KIND_SYNC_HOLD:
		return mapreg_allocate_channel_ex(ad->ad, ad, &s->xfer, req->nregs,
						  MAPREG_SYNCHRONOUS_CALLBACK, NULL, NULL, base);
	}
	return MAPREG_INVALID_PARAMETER;
}

/* C8 with a routine: it ran here, before the call returned. */
static void check_sync_routine(struct actor *a, struct slot *s, uint64_t state, mapreg_base base)
{
	uint64_t now = atomic_load(&s->state);

	if (now != STATE(STATE_GEN(state), PHASE_RAN) || atomic_load(&s->ran_on) != a)
		fail("api", "C8: a synchronous call on adapter %u returned MAPREG_OK but its "
		     "routine did not run on the calling thread before it returned",
		     atomic_load(&s->adapter));
	if (base.count != UINT32_MAX &&
	    (base.first != s->granted_base.first || base.count != s->granted_base.count))
		fail("api", "C8 policy: *base_out [%u+%u] differs from the routine's base [%u+%u]",
		     base.first, base.count, s->granted_base.first, s->granted_base.count);
}

/* C8 without a routine: the caller holds channel and registers; end it (C24). */
static void sync_hold(struct actor *a, struct slot *s, const struct submit *req, uint64_t state,
		      mapreg_base base)
{
	struct world *w = a->w;
	mapreg_adapter *ad = w->adapters[req->adapter].ad;
	bool keep_run = req->plan == PLAN_KEEP_REGISTERS && base.count > 0;
	mapreg_base none = { 0, 0 };

	if (base.count != req->nregs)
		fail("api", "C8: *base_out has %u registers, %u were asked for", base.count,
		     req->nregs);
	uint64_t token = token_new(&w->shadow, req->adapter);
	shadow_begin(&w->shadow);
	shadow_claim(w, req->adapter, base, token, true);
	shadow_end(&w->shadow);
	check_channel_order(w, a, req->adapter, s->seq);
	if (req->granted_after != NULL)
		check_pool_order(a, req->granted_after);
	count(&a->tally.sync_holds);
	if (rng_percent(&a->rng, 10))
		expect_invalid(a, mapreg_free_adapter_object(ad, MAPREG_KEEP_OBJECT), "api",
			       "C24: ending a synchronous hold with MAPREG_KEEP_OBJECT");

	shadow_begin(&w->shadow);
	shadow_release(w, req->adapter, keep_run ? none : base, token, true);
	mapreg_status st = mapreg_free_adapter_object(ad, keep_run ?
			MAPREG_DEALLOCATE_OBJECT_KEEP_REGISTERS : MAPREG_DEALLOCATE_OBJECT);
	count(&a->tally.ops);
	if (st != MAPREG_OK)
		fail("api", "C24: ending an open synchronous hold returned %s",
		     mapreg_status_str(st));
	shadow_end(&w->shadow);
	if (keep_run)
		keep(a, req->holds, false, req->adapter, base, token);
	outcome(w, s, state, PHASE_RAN, "was granted as a synchronous hold");
}

static void refused(struct actor *a, struct slot *s, uint64_t state, mapreg_status st)
{
	char what[64];

	snprintf(what, sizeof(what), "was refused with %s", mapreg_status_str(st));
	outcome(a->w, s, state, PHASE_IDLE, what);
}

/* Checks a submission's result against C5..C10, C21; settles refusals. */
static void after_call(struct actor *a, struct slot *s, const struct submit *req, uint64_t state,
		       mapreg_status st, mapreg_base base, struct marks before)
{
	bool sync = req->kind == KIND_SYNC_ROUTINE || req->kind == KIND_SYNC_HOLD;
	bool lagging = s->may_lag;

	s->may_lag = false;
	if (s->ex) {
		if (st == MAPREG_CANCELLED && !marked_since(s, s->unmarked))
			fail("api", "C21: MAPREG_CANCELLED though no cancel touched the transfer");
		s->unmarked = before;
	}
	switch (st) {
	case MAPREG_OK:
		if (req->kind == KIND_SYNC_ROUTINE)
			check_sync_routine(a, s, state, base);
		else if (req->kind == KIND_SYNC_HOLD)
			sync_hold(a, s, req, state, base);
		else
			s->may_lag = true;
		return;
	case MAPREG_INSUFFICIENT_RESOURCES:
		if (!sync)
			fail("api", "C5, C6: an asynchronous request for %u registers (limit %u) "
			     "was refused", req->nregs, a->w->adapters[req->adapter].max);
		count(&a->tally.sync_failures);
		break;
	case MAPREG_INVALID_PARAMETER:
		if (!lagging || !s->ex)
			fail("api", "C10: a request (kind %d, adapter %u, actor %u, depth %u) on a "
			     "transfer whose last request is over was refused as "
			     "MAPREG_INVALID_PARAMETER", req->kind, req->adapter, a->index, a->depth);
		s->may_lag = true;
		count(&a->tally.caller_errors);
		break;
	case MAPREG_CANCELLED:
		if (!s->ex)
			fail("api", "mapreg_allocate_channel returned MAPREG_CANCELLED");
		break;
	default:
		fail("api", "a request returned %s", mapreg_status_str(st));
	}
	refused(a, s, state, st);
}

mapreg_status submit(struct actor *a, struct slot *s, const struct submit *req)
{
	bool ex = req->kind != KIND_ASYNC_PLAIN;

	if (ex && !bind(a, s, req->adapter, false))
		return MAPREG_INVALID_PARAMETER;
	struct marks before = marks_now(s);
	uint64_t state = arm(a, s, req);
	mapreg_base base = { UINT32_MAX, UINT32_MAX };

	s->reserved = true;		/* routines run here must not reuse it */
	doing(a, "in a request call");
	mapreg_status st = call(a, s, req, &base);
	doing(a, "back from a request call");
	count(&a->tally.ops);
	after_call(a, s, req, state, st, base, before);
	s->reserved = false;
	return st;
}

/*
 * C21: a cancel on an idle transfer marks it; the next _ex returns
 * MAPREG_CANCELLED and runs nothing.  Half the time a second init clears
 * the mark first, and the request must then go through (unless another
 * actor's cancel raced in: after_call knows).
 */
void mark_probe(struct actor *a, struct slot *s, uint32_t adapter)
{
	bool clear = rng_percent(&a->rng, 50);

	if (!bind(a, s, adapter, true))
		return;
	if (cancel_call(a, s, adapter))
		fail("api", "C21: a cancel on a transfer naming no request returned true");
	if (clear)
		bind(a, s, adapter, true);	/* may_lag is false: refusal fails */
	struct submit req = {
		.kind = KIND_ASYNC_EX, .adapter = adapter, .nregs = 0,
		.plan = PLAN_DEALLOCATE, .holds = &a->w->shared_holds,
	};
	mapreg_status st = submit(a, s, &req);
	if (!clear && st != MAPREG_CANCELLED)
		fail("api", "C21: a marked transfer's request returned %s, not MAPREG_CANCELLED",
		     mapreg_status_str(st));
}

/* C5: above the adapter's limit, refused at once, nothing queued. */
void too_big_probe(struct actor *a, uint32_t adapter)
{
	struct sadapter *ad = &a->w->adapters[adapter];
	mapreg_status st = mapreg_allocate_channel(ad->ad, ad, ad->max + 1, never_routine, NULL);

	count(&a->tally.ops);
	if (st != MAPREG_INSUFFICIENT_RESOURCES)
		fail("api", "C5: a request above adapter %u's limit of %u returned %s", adapter,
		     ad->max, mapreg_status_str(st));
}
