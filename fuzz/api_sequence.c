/* SPDX-License-Identifier: MIT */
/*
 * fuzz-api-sequence: decodes the input into a sequence of API calls on a
 * small pool with a few inline and poll adapters, runs it on the library and
 * on the model (model.h) side by side, and aborts on the first difference:
 * a status or result, a routine run (which request, in what order, with
 * what base), the counters of mapreg_pool_get_stats (C27) or an adapter's
 * eventfd (C29).
 *
 * Routines are the checker's: what they do inside (free, cancel, allocate,
 * poll, any call at all, C18) and what they answer, valid or not (C19),
 * comes from the input too.  When the input ends, the checker frees
 * everything it holds, polls and cancels until the pool is quiescent (C14:
 * nothing may stay queued), then destroys adapters and pool (C3).
 *
 * The model may hold several candidate states at once, one per answer to
 * the fits it cannot decide (model.h): each observation keeps the
 * candidates that predicted it, and a difference is an observation no
 * candidate predicted.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>

#include "harness.h"
#include "model.h"

#define MAX_CANDIDATES 32
#define MAX_ORACLE_BITS 10
#define MAX_NESTING 3		/* routines calling routines calling routines */
#define MAX_OPS 128
#define MAX_KEPT 64
#define TEARDOWN_ROUNDS 64


/* What the checker knows of a request, reached through the routine's context. */
struct request_tag {
	uint8_t id;
	uint8_t adapter;
	mapreg_transfer *xfer;
};

struct kept_run {
	mapreg_base base;
	uint8_t adapter;
};

static struct checker {
	struct bytes in;
	mapreg_pool *pool;
	mapreg_adapter *adapter[MODEL_ADAPTERS];
	mapreg_dispatch dispatch[MODEL_ADAPTERS];
	mapreg_transfer xfer[MODEL_XFERS];
	uint8_t xfer_bound[MODEL_XFERS];	/* adapter slot, or MODEL_NONE */
	struct request_tag tag[MODEL_REQUESTS];
	char device[MODEL_REQUESTS];		/* &device[id]: request id's device */
	mapreg_base routine_base[MODEL_REQUESTS];
	uint8_t next_req;
	uint32_t nesting;
	/* Held through the library, as seen: what teardown must give back. */
	bool kept_channel[MODEL_ADAPTERS];
	bool sync_hold[MODEL_ADAPTERS];
	mapreg_base hold_base[MODEL_ADAPTERS];
	struct kept_run kept[MAX_KEPT];
	uint32_t nkept;
	mapreg_base last_freed;
	/* The model's candidate states (double-buffered) and the call being checked. */
	struct model buffer[2][MAX_CANDIDATES];
	struct model *cand, *spare;
	size_t ncand;
	struct model before;
	const struct model_call *current;
} ck;

/* Running every candidate through a step that may branch on MAYBE fits. */

typedef void (*model_step_fn)(struct model *m, const void *arg, struct model_oracle *oracle);

static void step_call(struct model *m, const void *arg, struct model_oracle *oracle)
{
	model_call(m, arg, oracle);
}

struct answer {
	uint8_t req;
	uint32_t action;
};

static void step_answer(struct model *m, const void *arg, struct model_oracle *oracle)
{
	const struct answer *a = arg;

	model_routine_returned(m, a->req, a->action, oracle);
}

static void swap_candidates(size_t n)
{
	struct model *t = ck.cand;

	ck.cand = ck.spare;
	ck.spare = t;
	ck.ncand = n;
}

static void branch_all(model_step_fn step, const void *arg)
{
	size_t n = 0;

	for (size_t i = 0; i < ck.ncand; i++) {
		for (uint32_t bits = 0, limit = 1; bits < limit; bits++) {
			struct model_oracle oracle = { bits, 0 };

			if (n == MAX_CANDIDATES)
				fuzz_fail("checker limit: more than %d candidate states",
					  MAX_CANDIDATES);
			memcpy(&ck.spare[n], &ck.cand[i], sizeof(struct model));
			step(&ck.spare[n], arg, &oracle);
			if (oracle.used > MAX_ORACLE_BITS)
				fuzz_fail("checker limit: %u undecided fits in one step", oracle.used);
			if (bits >> oracle.used)
				continue;	/* same answers as bits & (2^used - 1) */
			if ((1u << oracle.used) > limit)
				limit = 1u << oracle.used;
			n++;
		}
	}
	swap_candidates(n);
}

/* Observations. */

struct seen {
	enum model_event_kind kind;
	uint8_t req;
	uint64_t result;
	bool reveal;			/* base shows where req's run lies */
	mapreg_base base;
};

static void library_stats(mapreg_pool_stats *out)
{
	if (mapreg_pool_get_stats(ck.pool, out) != MAPREG_OK)
		fuzz_fail("mapreg_pool_get_stats refused a live pool");
}

/* C27: every counter, and free + cached == registers - held. */
static bool stats_agree(const mapreg_pool_stats *lib, const mapreg_pool_stats *mod)
{
	return lib->registers == mod->registers && lib->held == mod->held &&
	       lib->free + lib->cached == mod->free &&
	       lib->waiting_channel == mod->waiting_channel &&
	       lib->waiting_registers == mod->waiting_registers &&
	       lib->grants == mod->grants && lib->cancels == mod->cancels &&
	       lib->sync_failures == mod->sync_failures &&
	       lib->caller_errors == mod->caller_errors;
}

static void print_stats(const char *who, const mapreg_pool_stats *s)
{
	fprintf(stderr,
		"  %s: registers %llu free %llu cached %llu held %llu waiting_channel %llu "
		"waiting_registers %llu grants %llu cancels %llu sync_failures %llu "
		"caller_errors %llu\n", who,
		(unsigned long long)s->registers, (unsigned long long)s->free,
		(unsigned long long)s->cached, (unsigned long long)s->held,
		(unsigned long long)s->waiting_channel, (unsigned long long)s->waiting_registers,
		(unsigned long long)s->grants, (unsigned long long)s->cancels,
		(unsigned long long)s->sync_failures, (unsigned long long)s->caller_errors);
}

static void describe_event(const char *who, const struct model_event *ev)
{
	if (ev->kind == MODEL_RUN)
		fprintf(stderr, "  %s: routine of request %u runs\n", who, ev->req);
	else
		fprintf(stderr, "  %s: the call returns %llu\n", who,
			(unsigned long long)ev->result);
}

__attribute__((noreturn))
static void explain_difference(const struct seen *seen, const mapreg_pool_stats *lib)
{
	struct model_event expected = model_step(&ck.before, seen->kind == MODEL_RUN ? seen->req : 0);
	struct model_event observed = { seen->kind, seen->req, seen->result };
	mapreg_pool_stats mod;

	fprintf(stderr, "fuzz: library and model differ in %s (nesting %u, %zu candidates)\n",
		ck.current ? model_call_name(ck.current->kind) : "a routine's answer",
		ck.nesting, ck.ncand);
	describe_event("model expects", &expected);
	describe_event("library did", &observed);
	if (seen->reveal)
		fprintf(stderr, "  base {%u, %u}\n", seen->base.first, seen->base.count);
	model_stats(&ck.before, &mod);
	print_stats("model  ", &mod);
	print_stats("library", lib);
	fuzz_fail("difference (docs/CONTRACT.md rules: see the call above)");
}

/* Keeps the candidates that predicted `seen` and the library's counters. */
static void observe(const struct seen *seen)
{
	mapreg_pool_stats lib, mod;
	size_t keep = 0;

	library_stats(&lib);
	memcpy(&ck.before, &ck.cand[0], sizeof(struct model));
	for (size_t i = 0; i < ck.ncand; i++) {
		struct model *m = &ck.cand[i];
		struct model_event ev = model_step(m, seen->kind == MODEL_RUN ? seen->req : 0);

		if (ev.kind != seen->kind || (ev.kind == MODEL_RUN && ev.req != seen->req) ||
		    (ev.kind == MODEL_RETURN && ev.result != seen->result))
			continue;
		if (seen->reveal && !model_reveal(m, seen->req, seen->base))
			continue;
		model_stats(m, &mod);
		if (!stats_agree(&lib, &mod))
			continue;
		if (keep != i)
			memcpy(&ck.cand[keep], m, sizeof(struct model));
		keep++;
	}
	if (keep == 0)
		explain_difference(seen, &lib);
	/* Candidates that agree on everything are one. */
	size_t unique = 0;
	for (size_t i = 0; i < keep; i++) {
		bool dup = false;

		for (size_t j = 0; j < unique && !dup; j++)
			dup = memcmp(&ck.cand[i], &ck.cand[j], sizeof(struct model)) == 0;
		if (!dup && unique++ != i)
			memcpy(&ck.cand[unique - 1], &ck.cand[i], sizeof(struct model));
	}
	ck.ncand = unique;
}

/* C29: a poll adapter's eventfd is readable exactly while routines are pending. */
static void check_eventfds(void)
{
	for (uint8_t a = 0; a < MODEL_ADAPTERS; a++) {
		if (ck.adapter[a] == NULL)
			continue;
		int fd = mapreg_adapter_eventfd(ck.adapter[a]);
		if (ck.dispatch[a] == MAPREG_DISPATCH_INLINE) {
			if (fd != -1)
				fuzz_fail("C29: inline adapter %u has eventfd %d", a, fd);
			continue;
		}
		struct pollfd p = { .fd = fd, .events = POLLIN };
		int ready;
		do	/* libFuzzer's timeout alarm interrupts system calls */
			ready = fd < 0 ? -1 : poll(&p, 1, 0);
		while (ready < 0 && errno == EINTR);
		if (ready < 0)
			fuzz_fail("C29: poll adapter %u has no usable eventfd (%d)", a, fd);
		bool readable = p.revents & POLLIN;
		if (ck.ncand == 1 && readable != model_poll_pending(&ck.cand[0], a))
			fuzz_fail("C29: adapter %u eventfd %s while the model has %s pending",
				  a, readable ? "readable" : "not readable",
				  readable ? "nothing" : "routines");
	}
}

/* Bookkeeping of what the checker holds through the library. */

static void kept_add(uint8_t adapter, mapreg_base base)
{
	if (base.count != 0 && ck.nkept < MAX_KEPT)
		ck.kept[ck.nkept++] = (struct kept_run){ base, adapter };
}

static bool kept_remove(uint8_t adapter, mapreg_base base)
{
	for (uint32_t i = 0; i < ck.nkept; i++) {
		if (ck.kept[i].adapter == adapter && ck.kept[i].base.first == base.first &&
		    ck.kept[i].base.count == base.count) {
			ck.kept[i] = ck.kept[--ck.nkept];
			ck.last_freed = base;
			return true;
		}
	}
	return false;
}

/* The routine every request runs. */

static void perform(const struct model_call *c);
static void do_op(void);

static mapreg_action routine_answer(uint8_t choice)
{
	static const uint32_t answers[8] = {
		MAPREG_DEALLOCATE_OBJECT, MAPREG_KEEP_OBJECT,
		MAPREG_DEALLOCATE_OBJECT_KEEP_REGISTERS, MAPREG_DEALLOCATE_OBJECT,
		MAPREG_KEEP_OBJECT, MAPREG_DEALLOCATE_OBJECT_KEEP_REGISTERS,
		0, 99,					/* C19: bad answers */
	};
	return (mapreg_action)answers[choice % 8];
}

static mapreg_action routine(void *device, mapreg_transfer *xfer, mapreg_base base,
			     void *context)
{
	const struct request_tag *tag = context;
	const struct model_call *outer = ck.current;
	uint8_t id = tag->id;

	if (device != &ck.device[id] || xfer != tag->xfer)
		fuzz_fail("C6: request %u's routine got device %p xfer %p, not %p %p", id,
			  device, (void *)xfer, (void *)&ck.device[id], (void *)tag->xfer);
	if (fuzz_tracing())
		fprintf(stderr, "%*srun %u base {%u, %u}\n", (int)ck.nesting * 2, "", id,
			base.first, base.count);
	observe(&(struct seen){ MODEL_RUN, id, 0, true, base });
	ck.routine_base[id] = base;

	ck.nesting++;
	uint32_t actions = ck.nesting <= MAX_NESTING ? take_byte(&ck.in) % 4 : 0;
	while (actions-- > 0)
		do_op();				/* C18 */
	ck.nesting--;

	mapreg_action action = routine_answer(take_byte(&ck.in));
	if (action == MAPREG_KEEP_OBJECT)
		ck.kept_channel[tag->adapter] = true;
	else if (action == MAPREG_DEALLOCATE_OBJECT_KEEP_REGISTERS)
		kept_add(tag->adapter, base);
	if (fuzz_tracing())
		fprintf(stderr, "%*sanswer %u: %u\n", (int)ck.nesting * 2, "", id, action);
	branch_all(step_answer, &(struct answer){ id, action });
	ck.current = outer;
	return action;
}

/* Calls: the library's side. */

static mapreg_adapter *adapter_of(uint8_t slot)
{
	return slot == MODEL_NONE ? NULL : ck.adapter[slot];
}

static mapreg_transfer *xfer_of(uint8_t slot)
{
	return slot == MODEL_NONE ? NULL : &ck.xfer[slot];
}

static struct request_tag *tag_request(const struct model_call *c, bool ex)
{
	struct request_tag *tag = &ck.tag[c->req];

	*tag = (struct request_tag){ c->req, c->adapter, ex ? xfer_of(c->xfer) : NULL };
	return tag;
}

static uint64_t call_adapter_create(const struct model_call *c)
{
	mapreg_adapter_config cfg = { c->limit, (mapreg_dispatch)c->dispatch };
	uint32_t limit = 0xdeadbeef;
	mapreg_status s = mapreg_adapter_create(ck.pool, c->cfg_null ? NULL : &cfg,
						&ck.adapter[c->adapter], &limit);
	if (s != MAPREG_OK)
		return s;
	ck.dispatch[c->adapter] = c->cfg_null ? MAPREG_DISPATCH_INLINE : cfg.dispatch;
	uint32_t expected = c->cfg_null || c->limit == 0 ? ck.cand[0].registers : c->limit;
	if (ck.cand[0].boundary != 0 && expected > ck.cand[0].boundary)
		expected = ck.cand[0].boundary;			/* C30 */
	if (limit != expected)					/* C2 */
		fuzz_fail("C2: adapter limit %u written, expected %u", limit, expected);
	return s;
}

static uint64_t call_adapter_destroy(const struct model_call *c)
{
	mapreg_status s = mapreg_adapter_destroy(adapter_of(c->adapter));

	if (s != MAPREG_OK || c->adapter == MODEL_NONE)
		return s;
	ck.adapter[c->adapter] = NULL;
	for (uint8_t x = 0; x < MODEL_XFERS; x++) {
		if (ck.xfer_bound[x] == c->adapter) {	/* no binding outlives it */
			memset(&ck.xfer[x], 0, sizeof(ck.xfer[x]));
			ck.xfer_bound[x] = MODEL_NONE;
		}
	}
	return s;
}

static uint64_t call_allocate_ex(const struct model_call *c)
{
	mapreg_base base = { 0xdeadbeef, 0xdeadbeef };
	mapreg_status s = mapreg_allocate_channel_ex(adapter_of(c->adapter), &ck.device[c->req],
						     xfer_of(c->xfer), c->nregs, c->flags,
						     c->fn ? routine : NULL,
						     tag_request(c, true),
						     c->base_out ? &base : NULL);
	if (s != MAPREG_OK || !c->base_out)
		return s;
	if (c->fn) {					/* C8 policy: written too */
		mapreg_base seen = ck.routine_base[c->req];
		if (base.first != seen.first || base.count != seen.count)
			fuzz_fail("C8: *base_out {%u, %u} but the routine got {%u, %u}",
				  base.first, base.count, seen.first, seen.count);
	} else {
		ck.sync_hold[c->adapter] = true;
		ck.hold_base[c->adapter] = base;
	}
	return s;
}

/*
 * The frees below may run routines that take the same adapter's channel
 * again (C16, C18): the bookkeeping changes before the call, and is put
 * back if the call refused.
 */
static uint64_t call_free_channel(const struct model_call *c)
{
	if (c->adapter == MODEL_NONE)
		return mapreg_free_channel(NULL);
	bool kept = ck.kept_channel[c->adapter];
	ck.kept_channel[c->adapter] = false;
	mapreg_status s = mapreg_free_channel(ck.adapter[c->adapter]);
	if (s != MAPREG_OK)
		ck.kept_channel[c->adapter] = kept;
	return s;
}

static uint64_t call_free_adapter_object(const struct model_call *c)
{
	if (c->adapter == MODEL_NONE)
		return mapreg_free_adapter_object(NULL, (mapreg_action)c->action);
	bool hold = ck.sync_hold[c->adapter];
	mapreg_base base = ck.hold_base[c->adapter];
	ck.sync_hold[c->adapter] = false;
	if (hold && c->action == MAPREG_DEALLOCATE_OBJECT_KEEP_REGISTERS)
		kept_add(c->adapter, base);
	mapreg_status s = mapreg_free_adapter_object(ck.adapter[c->adapter],
						     (mapreg_action)c->action);
	if (s != MAPREG_OK) {
		ck.sync_hold[c->adapter] = hold;
		if (hold && c->action == MAPREG_DEALLOCATE_OBJECT_KEEP_REGISTERS)
			kept_remove(c->adapter, base);
	}
	return s;
}

static uint64_t call_free_map_registers(const struct model_call *c)
{
	bool listed = c->adapter != MODEL_NONE && kept_remove(c->adapter, c->base);
	mapreg_status s = mapreg_free_map_registers(adapter_of(c->adapter), c->base, c->nregs);

	if (s != MAPREG_OK && listed)
		kept_add(c->adapter, c->base);
	return s;
}

static uint64_t call_library(const struct model_call *c)
{
	mapreg_adapter *a = adapter_of(c->adapter);
	mapreg_status s;

	switch (c->kind) {
	case MC_ADAPTER_CREATE:
		return call_adapter_create(c);
	case MC_ADAPTER_DESTROY:
		return call_adapter_destroy(c);
	case MC_TRANSFER_INIT:
		s = mapreg_transfer_init(a, xfer_of(c->xfer));
		if (s == MAPREG_OK)
			ck.xfer_bound[c->xfer] = c->adapter;
		return s;
	case MC_TRANSFER_SCRIBBLE:
		memset(&ck.xfer[c->xfer], (int)c->action, sizeof(ck.xfer[c->xfer]));
		ck.xfer_bound[c->xfer] = MODEL_NONE;
		return MAPREG_OK;
	case MC_ALLOCATE:
		return mapreg_allocate_channel(a, &ck.device[c->req], c->nregs,
					       c->fn ? routine : NULL, tag_request(c, false));
	case MC_ALLOCATE_EX:
		return call_allocate_ex(c);
	case MC_CANCEL:
		return mapreg_cancel_channel(a, NULL, xfer_of(c->xfer));
	case MC_FREE_CHANNEL:
		return call_free_channel(c);
	case MC_FREE_MAP_REGISTERS:
		return call_free_map_registers(c);
	case MC_FREE_ADAPTER_OBJECT:
		return call_free_adapter_object(c);
	case MC_POLL:
		return mapreg_poll(a, (size_t)c->max);
	case MC_GROW:
		return mapreg_pool_grow(ck.pool, c->registers);
	case MC_POOL_DESTROY:
		return mapreg_pool_destroy(ck.pool);
	case MC_STATS_NULL:
		return mapreg_pool_get_stats(ck.pool, NULL);
	}
	return ~0ull;
}

static void trace_call(const struct model_call *c)
{
	fprintf(stderr, "%*s%s a%d x%d req %u nregs %u flags %#x fn %d base_out %d "
		"action %u base {%u, %u} max %llu registers %u limit %u dispatch %u%s\n",
		(int)ck.nesting * 2, "", model_call_name(c->kind),
		c->adapter == MODEL_NONE ? -1 : c->adapter, c->xfer == MODEL_NONE ? -1 : c->xfer,
		c->req, c->nregs, c->flags, c->fn, c->base_out, c->action, c->base.first,
		c->base.count, (unsigned long long)c->max, c->registers, c->limit, c->dispatch,
		c->cfg_null ? " cfg NULL" : "");
}

/* One call on both sides, checked. */
static void perform(const struct model_call *c)
{
	const struct model_call *outer = ck.current;

	if (fuzz_tracing())
		trace_call(c);
	ck.current = c;
	branch_all(step_call, c);
	uint64_t result = call_library(c);
	ck.current = c;
	bool hold = c->kind == MC_ALLOCATE_EX && result == MAPREG_OK && c->base_out && !c->fn;
	observe(&(struct seen){ MODEL_RETURN, c->req, result, hold,
				hold ? ck.hold_base[c->adapter] : (mapreg_base){ 0, 0 } });
	if (fuzz_tracing())
		fprintf(stderr, "%*s-> %llu\n", (int)ck.nesting * 2, "",
			(unsigned long long)result);
	ck.current = outer;
}

/* Decoding the input into calls. */

static uint8_t pick_adapter(void)
{
	uint8_t b = take_byte(&ck.in);
	uint8_t slot = b % MODEL_ADAPTERS;

	return b >= 0xf0 || ck.adapter[slot] == NULL ? MODEL_NONE : slot;
}

static uint8_t pick_xfer(void)
{
	uint8_t b = take_byte(&ck.in);

	return b >= 0xf0 ? MODEL_NONE : b % MODEL_XFERS;
}

static uint32_t pick_nregs(uint8_t adapter)
{
	uint32_t registers = ck.cand[0].registers;
	uint32_t limit = adapter == MODEL_NONE ? registers : ck.cand[0].adapter[adapter].limit;
	uint8_t b = take_byte(&ck.in);
	const uint32_t odd[] = { 0, limit, limit + 1, UINT32_MAX, MAPREG_MAX_REGISTERS,
				 0x80000000u, registers, 1 };

	if (b < 0xe0)
		return b % (limit < 8 ? limit + 1 : 8 + limit / 4);	/* mostly small */
	return odd[b % 8];
}

static bool new_request(struct model_call *c)
{
	if (ck.next_req + 1 >= MODEL_REQUESTS)
		return false;			/* out of ids: this input is long enough */
	c->req = ++ck.next_req;
	return true;
}

/* mapreg_allocate_channel_ex: the shape of the call, valid or not (C7, C8, C9). */
static void shape_allocate_ex(struct model_call *c, uint8_t shape)
{
	switch (shape % 16) {
	case 0: case 1: case 2: case 3: case 4:		/* asynchronous */
		c->fn = true;
		break;
	case 5: case 6: case 7:				/* synchronous, routine */
		c->flags = MAPREG_SYNCHRONOUS_CALLBACK;
		c->fn = true;
		break;
	case 8: case 9:					/* synchronous, routine, base_out */
		c->flags = MAPREG_SYNCHRONOUS_CALLBACK;
		c->fn = c->base_out = true;
		break;
	case 10: case 11: case 12:			/* synchronous hold */
		c->flags = MAPREG_SYNCHRONOUS_CALLBACK;
		c->base_out = true;
		break;
	case 13:					/* neither routine nor base_out */
		c->flags = shape & 0x10 ? MAPREG_SYNCHRONOUS_CALLBACK : 0;
		break;
	case 14:					/* base_out without the flag */
		c->fn = shape & 0x10;
		c->base_out = true;
		break;
	case 15:					/* unknown flag bits */
		c->flags = (shape & 0x10 ? MAPREG_SYNCHRONOUS_CALLBACK : 0) |
			   (shape & 0x20 ? 0x80000000u : 0x2u);
		c->fn = true;
		break;
	}
}

/* mapreg_free_map_registers: a kept run, right or wrong in one way (C23). */
static void shape_free_map_registers(struct model_call *c)
{
	uint8_t how = take_byte(&ck.in), which = take_byte(&ck.in);
	struct kept_run run = { ck.last_freed, c->adapter };

	if (ck.nkept != 0)
		run = ck.kept[which % ck.nkept];
	c->base = run.base;
	c->nregs = run.base.count;
	if (how < 0x80) {
		c->adapter = run.adapter;		/* the right call */
		return;
	}
	switch (how % 6) {
	case 0: c->adapter = run.adapter; c->nregs += 1; break;
	case 1: c->adapter = run.adapter; c->base.count -= 1; c->nregs -= 1; break;
	case 2: c->adapter = run.adapter; c->base.first += 1; break;
	case 3: c->adapter = run.adapter; c->base = ck.last_freed;
		c->nregs = c->base.count; break;	/* a second free */
	case 4: break;					/* through another adapter */
	case 5: c->base = (mapreg_base){ which, how & 7 }; c->nregs = how & 3; break;
	}
}

static uint32_t pick_grow(void)
{
	uint32_t registers = ck.cand[0].registers;
	uint8_t b = take_byte(&ck.in);

	switch (b % 4) {
	case 0: return registers - 1;			/* shrinking: C25 */
	case 1: return registers;
	case 2: return b & 0x80 ? MAPREG_MAX_REGISTERS + 1 : UINT32_MAX;
	}
	uint32_t grown = registers + 1 + b / 32;
	return grown > MODEL_MAX_REGISTERS ? MODEL_MAX_REGISTERS : grown;
}

static uint8_t free_adapter_slot(void)
{
	for (uint8_t a = 0; a < MODEL_ADAPTERS; a++)
		if (ck.adapter[a] == NULL)
			return a;
	return MODEL_NONE;
}

static bool shape_adapter_create(struct model_call *c)
{
	uint8_t limit = take_byte(&ck.in), dispatch = take_byte(&ck.in);

	c->adapter = free_adapter_slot();
	if (c->adapter == MODEL_NONE)
		return false;
	c->cfg_null = dispatch >= 0xf8;
	c->limit = limit % (ck.cand[0].registers + 2);	/* 0: default; registers + 1: C2 */
	c->dispatch = dispatch % 8 < 4 ? MAPREG_DISPATCH_INLINE :
		      dispatch % 8 < 7 ? MAPREG_DISPATCH_POLL : 2u + dispatch;
	return true;
}

/* Decodes one call from the input; false if it is not one the checker makes. */
static bool decode_call(struct model_call *c)
{
	uint8_t op = take_byte(&ck.in);

	*c = (struct model_call){ .adapter = MODEL_NONE, .xfer = MODEL_NONE };
	switch (op % 16) {
	case 0:
		c->kind = MC_ADAPTER_CREATE;
		return shape_adapter_create(c);
	case 1:
		c->kind = MC_ADAPTER_DESTROY;
		c->adapter = pick_adapter();
		return true;
	case 2:
		c->kind = MC_TRANSFER_INIT;
		c->adapter = pick_adapter();
		c->xfer = pick_xfer();
		return true;
	case 3:
		c->kind = MC_TRANSFER_SCRIBBLE;
		c->xfer = take_byte(&ck.in) % MODEL_XFERS;
		c->action = op & 0x80 ? 0 : 0xa5;	/* zeroed or garbage */
		/* A transfer that names a request must not be touched (mapreg.h). */
		return !model_xfer_names_request(&ck.cand[0], c->xfer);
	case 4: case 5:
		c->kind = MC_ALLOCATE;
		c->adapter = pick_adapter();
		c->nregs = pick_nregs(c->adapter);
		c->fn = op % 64 != 4;			/* sometimes no routine: C9 */
		return new_request(c);
	case 6: case 7: case 8:
		c->kind = MC_ALLOCATE_EX;
		c->adapter = pick_adapter();
		c->xfer = pick_xfer();
		c->nregs = pick_nregs(c->adapter);
		shape_allocate_ex(c, take_byte(&ck.in));
		return new_request(c);
	case 9:
		c->kind = MC_CANCEL;
		c->adapter = pick_adapter();
		c->xfer = pick_xfer();
		return true;
	case 10:
		c->kind = MC_FREE_CHANNEL;
		c->adapter = pick_adapter();
		return true;
	case 11:
		c->kind = MC_FREE_MAP_REGISTERS;
		c->adapter = pick_adapter();
		shape_free_map_registers(c);
		return true;
	case 12:
		c->kind = MC_FREE_ADAPTER_OBJECT;
		c->adapter = pick_adapter();
		c->action = op & 0x80 ? (uint32_t)routine_answer(take_byte(&ck.in)) :
			    (uint32_t)MAPREG_DEALLOCATE_OBJECT + (op >> 4 & 1u);
		return true;
	case 13:
		c->kind = MC_POLL;
		c->adapter = pick_adapter();
		c->max = op >= 0xf0 ? SIZE_MAX : op >> 4 & 3;
		return true;
	case 14:
		c->kind = MC_GROW;
		c->registers = pick_grow();
		return true;
	default:
		c->kind = op & 0x80 ? MC_STATS_NULL : MC_POOL_DESTROY;
		return c->kind == MC_STATS_NULL || ck.cand[0].adapters != 0;
	}
}

static void do_op(void)
{
	struct model_call c;

	if (decode_call(&c))
		perform(&c);
}

/* Teardown: give everything back; the pool must come to rest (C14, C27, C3). */

static bool library_quiescent(void)
{
	mapreg_pool_stats s;

	library_stats(&s);
	return s.held == 0 && s.waiting_channel == 0 && s.waiting_registers == 0 &&
	       s.free + s.cached == s.registers;
}

static void give_back_round(void)
{
	for (uint8_t a = 0; a < MODEL_ADAPTERS; a++) {
		if (ck.adapter[a] == NULL)
			continue;
		if (ck.dispatch[a] == MAPREG_DISPATCH_POLL)
			perform(&(struct model_call){ .kind = MC_POLL, .adapter = a,
						      .xfer = MODEL_NONE, .max = SIZE_MAX });
		if (ck.kept_channel[a])
			perform(&(struct model_call){ .kind = MC_FREE_CHANNEL, .adapter = a,
						      .xfer = MODEL_NONE });
		if (ck.sync_hold[a])
			perform(&(struct model_call){ .kind = MC_FREE_ADAPTER_OBJECT,
						      .adapter = a, .xfer = MODEL_NONE,
						      .action = MAPREG_DEALLOCATE_OBJECT });
	}
	while (ck.nkept != 0) {
		struct kept_run run = ck.kept[0];

		perform(&(struct model_call){ .kind = MC_FREE_MAP_REGISTERS,
					      .adapter = run.adapter, .xfer = MODEL_NONE,
					      .base = run.base, .nregs = run.base.count });
	}
	for (uint8_t x = 0; x < MODEL_XFERS; x++)
		if (ck.xfer_bound[x] != MODEL_NONE && model_xfer_names_request(&ck.cand[0], x))
			perform(&(struct model_call){ .kind = MC_CANCEL,
						      .adapter = ck.xfer_bound[x], .xfer = x });
}

static void teardown(void)
{
	ck.in.size = 0;			/* routines now answer DEALLOCATE, do nothing */
	for (int round = 0; !library_quiescent() || !model_quiescent(&ck.cand[0]); round++) {
		if (round == TEARDOWN_ROUNDS)
			fuzz_fail("C14: the pool does not come to rest once everything is freed");
		give_back_round();
	}
	for (uint8_t a = 0; a < MODEL_ADAPTERS; a++)
		if (ck.adapter[a] != NULL)
			perform(&(struct model_call){ .kind = MC_ADAPTER_DESTROY, .adapter = a,
						      .xfer = MODEL_NONE });
	mapreg_status s = mapreg_pool_destroy(ck.pool);
	if (s != MAPREG_OK)
		fuzz_fail("C3: pool_destroy with no adapters returned %s", mapreg_status_str(s));
}

static void checker_reset(const uint8_t *data, size_t size)
{
	ck.in = (struct bytes){ data, size };
	ck.pool = NULL;
	memset(ck.adapter, 0, sizeof(ck.adapter));
	memset(ck.xfer, 0, sizeof(ck.xfer));
	memset(ck.xfer_bound, MODEL_NONE, sizeof(ck.xfer_bound));
	memset(ck.kept_channel, 0, sizeof(ck.kept_channel));
	memset(ck.sync_hold, 0, sizeof(ck.sync_hold));
	ck.nkept = 0;
	ck.last_freed = (mapreg_base){ 0, 1 };
	ck.next_req = 0;
	ck.nesting = 0;
	ck.cand = ck.buffer[0];
	ck.spare = ck.buffer[1];
	ck.ncand = 1;
	ck.current = NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool planted;
	mapreg_backend backend;

	if (!planted) {
		fuzz_plant_fault();
		planted = true;
	}
	checker_reset(data, size);
	if (!fuzz_backend(take_byte(&ck.in), &backend))
		fuzz_fail("MAPREG_FUZZ_BACKEND names no backend");
	uint8_t sizing = take_byte(&ck.in);
	/* C30: a quarter of the runs have a boundary of 2, 4, 8 or 16. */
	mapreg_pool_config cfg = { 1 + take_byte(&ck.in) % 48, 0, backend,
				   sizing % 8 < 2 ? 2u << (sizing / 8 % 4) : 0 };
	mapreg_status s = mapreg_pool_create(&cfg, &ck.pool);
	if (s != MAPREG_OK)
		fuzz_fail("pool_create(%u registers, %s) returned %s", cfg.registers,
			  fuzz_backend_name(backend), mapreg_status_str(s));
	if (fuzz_tracing())
		fprintf(stderr, "pool %u registers, backend %s\n", cfg.registers,
			fuzz_backend_name(backend));
	model_init(&ck.cand[0], cfg.registers, cfg.boundary);
	for (int ops = 0; ops < MAX_OPS && bytes_left(&ck.in); ops++) {
		do_op();
		check_eventfds();
	}
	teardown();
	return 0;
}
