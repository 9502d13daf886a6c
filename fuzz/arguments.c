/* SPDX-License-Identifier: MIT */
/*
 * fuzz-arguments: every public function fed hostile arguments -- NULLs,
 * adapters and transfers of another pool or adapter, zeroed and garbage
 * transfers, huge counts, unknown flags, actions, dispatch and backend
 * values -- on a world put in one of a few states (idle, a kept channel, a
 * synchronous hold, a kept run, a queued request).  Each call must return
 * what mapreg.h documents and change nothing: both pools' counters stay as
 * they were, except caller_errors, which rises by exactly one on the pool
 * whose object was passed for each MAPREG_INVALID_PARAMETER (C27), and by
 * nothing when no pool is known (a NULL adapter or pool).  At the end the
 * state is undone with ordinary calls, which must all still succeed.
 */
#include <stdio.h>
#include <string.h>

#include "harness.h"

/* C26's reference arithmetic cannot overflow in 128 bits. */
__extension__ typedef unsigned __int128 wide;

enum world_state { W_IDLE, W_KEPT_CHANNEL, W_SYNC_HOLD, W_KEPT_RUN, W_QUEUED, W_STATES };

static struct world {
	struct bytes in;
	enum world_state state;
	mapreg_pool *pool, *other_pool;
	mapreg_adapter *inl, *pol, *other;	/* inline, poll; other: other_pool's */
	mapreg_transfer xfer, xfer_poll, xfer_other;
	mapreg_base held;			/* the kept run or hold's base */
	mapreg_pool_stats stats, other_stats;	/* as they must still be */
	const char *call;
} w;

/* Routines that answer what the world state needs. */

static mapreg_action answer_keep(void *device, mapreg_transfer *xfer, mapreg_base base,
				 void *context)
{
	*(mapreg_base *)context = base;
	return MAPREG_KEEP_OBJECT;
}

static mapreg_action answer_keep_registers(void *device, mapreg_transfer *xfer,
					   mapreg_base base, void *context)
{
	*(mapreg_base *)context = base;
	return MAPREG_DEALLOCATE_OBJECT_KEEP_REGISTERS;
}

static mapreg_action answer_never(void *device, mapreg_transfer *xfer, mapreg_base base,
				  void *context)
{
	fuzz_fail("%s: a routine ran that no call should have run", w.call);
}

static void must(const char *what, mapreg_status got, mapreg_status want)
{
	if (got != want)
		fuzz_fail("%s: %s returned %s, expected %s", w.call, what,
			  mapreg_status_str(got), mapreg_status_str(want));
}

static void snapshot(void)
{
	must("pool_get_stats", mapreg_pool_get_stats(w.pool, &w.stats), MAPREG_OK);
	must("pool_get_stats", mapreg_pool_get_stats(w.other_pool, &w.other_stats), MAPREG_OK);
}

/* Nothing changed but caller_errors, by `errors` here and `other_errors` there. */
static void unchanged(uint64_t errors, uint64_t other_errors)
{
	mapreg_pool_stats now, other_now;

	w.stats.caller_errors += errors;
	w.other_stats.caller_errors += other_errors;
	must("pool_get_stats", mapreg_pool_get_stats(w.pool, &now), MAPREG_OK);
	must("pool_get_stats", mapreg_pool_get_stats(w.other_pool, &other_now), MAPREG_OK);
	if (memcmp(&now, &w.stats, sizeof(now)) != 0)
		fuzz_fail("%s: the pool's counters changed (caller_errors %llu, expected %llu)",
			  w.call, (unsigned long long)now.caller_errors,
			  (unsigned long long)w.stats.caller_errors);
	if (memcmp(&other_now, &w.other_stats, sizeof(other_now)) != 0)
		fuzz_fail("%s: the other pool's counters changed (caller_errors %llu, "
			  "expected %llu)", w.call, (unsigned long long)other_now.caller_errors,
			  (unsigned long long)w.other_stats.caller_errors);
}

/* Argument pickers: a valid value of the world, or a hostile one. */

static mapreg_adapter *foreign_adapter(void)
{
	return w.other;
}

static mapreg_transfer *hostile_xfer(mapreg_transfer *scratch, uint8_t how)
{
	switch (how % 4) {
	case 0: return NULL;
	case 1: memset(scratch, 0, sizeof(*scratch)); return scratch;	/* zeroed */
	case 2: memset(scratch, how | 1, sizeof(*scratch)); return scratch;	/* garbage */
	default: return &w.xfer_other;		/* initialized for another adapter */
	}
}

static uint32_t unknown_flags(void)
{
	uint32_t flags = take_u32(&w.in) & ~MAPREG_SYNCHRONOUS_CALLBACK;

	return (flags ? flags : 0x2u) | (take_byte(&w.in) & MAPREG_SYNCHRONOUS_CALLBACK);
}

static uint32_t bad_action(void)
{
	uint32_t action = take_u32(&w.in);

	return action == MAPREG_DEALLOCATE_OBJECT ||
	       action == MAPREG_DEALLOCATE_OBJECT_KEEP_REGISTERS ? MAPREG_KEEP_OBJECT : action;
}

/* The calls, each with one defect. */

static void call_pool_create(void)
{
	mapreg_pool_config cfg = { 1 + take_byte(&w.in), 0, MAPREG_BACKEND_DEFAULT, 0 };
	mapreg_pool *pool = NULL;
	uint8_t how = take_byte(&w.in);

	w.call = "pool_create";
	switch (how % 6) {
	case 0:
		must("pool_create(NULL cfg)", mapreg_pool_create(NULL, &pool), MAPREG_INVALID_PARAMETER);
		break;
	case 1:
		must("pool_create(NULL out)", mapreg_pool_create(&cfg, NULL), MAPREG_INVALID_PARAMETER);
		break;
	case 2:
		cfg.registers = how & 0x80 ? 0 : MAPREG_MAX_REGISTERS + 1 + take_byte(&w.in);
		must("pool_create(registers)", mapreg_pool_create(&cfg, &pool),
		     MAPREG_INVALID_PARAMETER);
		break;
	case 3:
		cfg.page_size = take_u32(&w.in) | 3;	/* two bits set at least: not a power */
		must("pool_create(page_size)", mapreg_pool_create(&cfg, &pool),
		     MAPREG_INVALID_PARAMETER);
		break;
	case 4:
		cfg.backend = (mapreg_backend)(MAPREG_BACKEND_LOCKFREE + 1 + take_byte(&w.in));
		must("pool_create(backend)", mapreg_pool_create(&cfg, &pool),
		     MAPREG_INVALID_PARAMETER);
		break;
	default:	/* a valid odd one: page size 1 or 2^31, the largest count of 2^24 - 1 */
		cfg.page_size = how & 0x80 ? 1u : 1u << 31;
		must("pool_create(valid)", mapreg_pool_create(&cfg, &pool), MAPREG_OK);
		if (mapreg_pool_backend(pool) == MAPREG_BACKEND_DEFAULT)
			fuzz_fail("pool_backend: DEFAULT was not resolved");
		must("pool_destroy", mapreg_pool_destroy(pool), MAPREG_OK);
		pool = NULL;
		break;
	}
	if (pool != NULL)
		fuzz_fail("pool_create: *out written on failure");
	unchanged(0, 0);
}

static void call_pool(void)
{
	uint8_t how = take_byte(&w.in);
	uint32_t registers = (uint32_t)w.stats.registers;

	w.call = "pool_destroy/grow";
	switch (how % 5) {
	case 0:
		must("pool_destroy(NULL)", mapreg_pool_destroy(NULL), MAPREG_INVALID_PARAMETER);
		unchanged(0, 0);
		break;
	case 1:
		must("pool_destroy(with adapters)", mapreg_pool_destroy(w.pool), MAPREG_BUSY);
		unchanged(0, 0);
		break;
	case 2:
		must("pool_grow(NULL)", mapreg_pool_grow(NULL, registers + 1),
		     MAPREG_INVALID_PARAMETER);
		unchanged(0, 0);
		break;
	case 3:
		must("pool_grow(smaller)", mapreg_pool_grow(w.pool, registers - 1 - how / 8 %
							     registers), MAPREG_INVALID_PARAMETER);
		unchanged(1, 0);
		break;
	default:
		must("pool_grow(too large)",
		     mapreg_pool_grow(w.pool, MAPREG_MAX_REGISTERS + 1 + take_u32(&w.in) %
				      (UINT32_MAX - MAPREG_MAX_REGISTERS)),
		     MAPREG_INVALID_PARAMETER);
		unchanged(1, 0);
		must("pool_grow(same)", mapreg_pool_grow(w.pool, registers), MAPREG_OK);
		unchanged(0, 0);
		break;
	}
}

static void call_adapter(void)
{
	uint8_t how = take_byte(&w.in);
	mapreg_adapter_config cfg = { 0, MAPREG_DISPATCH_INLINE };
	mapreg_adapter *adapter = NULL;
	uint32_t limit = 0xdeadbeef;

	w.call = "adapter_create/destroy";
	switch (how % 6) {
	case 0:
		must("adapter_create(NULL pool)", mapreg_adapter_create(NULL, &cfg, &adapter, NULL),
		     MAPREG_INVALID_PARAMETER);
		unchanged(0, 0);
		break;
	case 1:
		must("adapter_create(NULL out)", mapreg_adapter_create(w.pool, &cfg, NULL, &limit),
		     MAPREG_INVALID_PARAMETER);
		unchanged(1, 0);
		break;
	case 2:
		cfg.max_map_registers = (uint32_t)w.stats.registers + 1 +
					take_u32(&w.in) % (UINT32_MAX - (uint32_t)w.stats.registers);
		must("adapter_create(limit above the pool)",
		     mapreg_adapter_create(w.pool, &cfg, &adapter, &limit), MAPREG_INVALID_PARAMETER);
		unchanged(1, 0);
		break;
	case 3:
		cfg.dispatch = (mapreg_dispatch)(MAPREG_DISPATCH_POLL + 1 + take_u32(&w.in) % 1000);
		must("adapter_create(dispatch)", mapreg_adapter_create(w.pool, &cfg, &adapter, &limit),
		     MAPREG_INVALID_PARAMETER);
		unchanged(1, 0);
		break;
	case 4:
		must("adapter_destroy(NULL)", mapreg_adapter_destroy(NULL), MAPREG_INVALID_PARAMETER);
		unchanged(0, 0);
		break;
	default:	/* C3: busy in every state but idle */
		must("adapter_destroy(in use)", mapreg_adapter_destroy(w.state == W_QUEUED ? w.pol : w.inl),
		     w.state == W_IDLE ? MAPREG_OK : MAPREG_BUSY);
		unchanged(0, 0);
		if (w.state == W_IDLE) {		/* put it back */
			must("adapter_create", mapreg_adapter_create(w.pool, NULL, &w.inl, NULL),
			     MAPREG_OK);
			must("transfer_init", mapreg_transfer_init(w.inl, &w.xfer), MAPREG_OK);
		}
		break;
	}
	if (adapter != NULL || limit != 0xdeadbeef)
		fuzz_fail("%s: wrote its outputs on failure", w.call);
}

static void call_transfer_init(void)
{
	uint8_t how = take_byte(&w.in);

	w.call = "transfer_init";
	switch (how % 3) {
	case 0:
		must("transfer_init(NULL adapter)", mapreg_transfer_init(NULL, &w.xfer),
		     MAPREG_INVALID_PARAMETER);
		unchanged(0, 0);
		break;
	case 1:
		must("transfer_init(NULL xfer)", mapreg_transfer_init(w.inl, NULL),
		     MAPREG_INVALID_PARAMETER);
		unchanged(1, 0);
		break;
	default:
		if (w.state != W_QUEUED)
			return;
		must("transfer_init(naming a request)", mapreg_transfer_init(w.pol, &w.xfer_poll),
		     MAPREG_INVALID_PARAMETER);		/* C9 */
		unchanged(1, 0);
		break;
	}
}

static void call_allocate(void)
{
	uint8_t how = take_byte(&w.in);
	uint32_t huge = (uint32_t)w.stats.registers + 1 + take_u32(&w.in) % 1000;
	mapreg_base base = { 0xdeadbeef, 0xdeadbeef }, untouched = base;
	mapreg_transfer scratch;

	w.call = "allocate_channel(_ex)";
	switch (how % 9) {
	case 0:
		must("allocate_channel(NULL adapter)",
		     mapreg_allocate_channel(NULL, NULL, 0, answer_never, NULL),
		     MAPREG_INVALID_PARAMETER);
		unchanged(0, 0);
		break;
	case 1:
		must("allocate_channel(NULL routine)",
		     mapreg_allocate_channel(w.inl, NULL, 0, NULL, NULL), MAPREG_INVALID_PARAMETER);
		unchanged(1, 0);
		break;
	case 2:		/* C5: at once, whatever the adapter's state */
		must("allocate_channel(above the limit)",
		     mapreg_allocate_channel(how & 0x80 ? w.pol : w.inl, NULL, huge, answer_never,
					     NULL), MAPREG_INSUFFICIENT_RESOURCES);
		unchanged(0, 0);
		break;
	case 3:
		must("allocate_channel_ex(NULL adapter)",
		     mapreg_allocate_channel_ex(NULL, NULL, &w.xfer, 0, 0, answer_never, NULL, NULL),
		     MAPREG_INVALID_PARAMETER);
		unchanged(0, 0);
		break;
	case 4:
		if (how & 0x80) {	/* a foreign adapter: counted on its own pool */
			must("allocate_channel_ex(foreign adapter)",
			     mapreg_allocate_channel_ex(foreign_adapter(), NULL, &w.xfer, 0, 0,
							answer_never, NULL, NULL),
			     MAPREG_INVALID_PARAMETER);
			unchanged(0, 1);
			break;
		}
		must("allocate_channel_ex(hostile xfer)",
		     mapreg_allocate_channel_ex(w.inl, NULL, hostile_xfer(&scratch, take_byte(&w.in)),
						0, 0, answer_never, NULL, NULL),
		     MAPREG_INVALID_PARAMETER);
		unchanged(1, 0);
		break;
	case 5:
		must("allocate_channel_ex(unknown flags)",
		     mapreg_allocate_channel_ex(w.inl, NULL, &w.xfer, 0, unknown_flags(),
						answer_never, NULL, NULL),
		     MAPREG_INVALID_PARAMETER);
		unchanged(1, 0);
		break;
	case 6:
		must("allocate_channel_ex(neither routine nor base_out)",
		     mapreg_allocate_channel_ex(w.inl, NULL, &w.xfer, 0,
						how & 0x80 ? MAPREG_SYNCHRONOUS_CALLBACK : 0,
						NULL, NULL, NULL),
		     MAPREG_INVALID_PARAMETER);
		unchanged(1, 0);
		break;
	case 7:
		must("allocate_channel_ex(base_out, asynchronous)",
		     mapreg_allocate_channel_ex(w.inl, NULL, &w.xfer, 0, 0,
						how & 0x80 ? answer_never : NULL, NULL, &base),
		     MAPREG_INVALID_PARAMETER);
		unchanged(1, 0);
		break;
	default:	/* C5 with every other argument right */
		must("allocate_channel_ex(above the limit)",
		     mapreg_allocate_channel_ex(w.inl, NULL, &w.xfer, huge,
						MAPREG_SYNCHRONOUS_CALLBACK, NULL, NULL, &base),
		     MAPREG_INSUFFICIENT_RESOURCES);
		unchanged(0, 0);
		break;
	}
	if (memcmp(&base, &untouched, sizeof(base)) != 0)
		fuzz_fail("%s: *base_out written on failure", w.call);
}

/* C21: a cancel through a foreign xfer left no mark on it. */
static void xfer_other_unmarked(void)
{
	mapreg_base base;

	must("allocate_channel_ex(after a foreign cancel)",
	     mapreg_allocate_channel_ex(w.other, NULL, &w.xfer_other, 0,
					MAPREG_SYNCHRONOUS_CALLBACK, NULL, NULL, &base), MAPREG_OK);
	must("free_adapter_object", mapreg_free_adapter_object(w.other, MAPREG_DEALLOCATE_OBJECT),
	     MAPREG_OK);
	snapshot();
}

static void call_cancel(void)
{
	uint8_t how = take_byte(&w.in);
	mapreg_transfer scratch;
	bool cancelled;

	w.call = "cancel_channel";
	if (how % 2 == 0)
		cancelled = mapreg_cancel_channel(NULL, NULL, how & 0x80 ? &w.xfer : &w.xfer_other);
	else
		cancelled = mapreg_cancel_channel(w.inl, NULL, hostile_xfer(&scratch, how >> 1));
	if (cancelled)
		fuzz_fail("C21: cancel with a NULL adapter or hostile xfer returned true");
	unchanged(0, 0);
	xfer_other_unmarked();
}

static void call_free(void)
{
	uint8_t how = take_byte(&w.in);
	uint32_t nregs = take_u32(&w.in);
	bool have_run = w.state == W_KEPT_RUN;
	mapreg_base base = have_run ? w.held : (mapreg_base){ take_u32(&w.in), nregs };

	w.call = "free_*";
	switch (how % 9) {
	case 0:
		must("free_channel(NULL)", mapreg_free_channel(NULL), MAPREG_INVALID_PARAMETER);
		unchanged(0, 0);
		break;
	case 1:		/* C22: nothing kept on the inline adapter but in W_KEPT_CHANNEL */
		if (w.state == W_KEPT_CHANNEL || w.state == W_QUEUED)
			return;
		must("free_channel(nothing kept)", mapreg_free_channel(how & 0x80 ? w.pol : w.inl),
		     MAPREG_INVALID_PARAMETER);
		unchanged(1, 0);
		break;
	case 2:
		must("free_map_registers(NULL)", mapreg_free_map_registers(NULL, base, base.count),
		     MAPREG_INVALID_PARAMETER);
		unchanged(0, 0);
		break;
	case 3:		/* C23: a count other than the run's */
		must("free_map_registers(nregs)",
		     mapreg_free_map_registers(w.inl, base, nregs == base.count ? nregs + 1 : nregs),
		     MAPREG_INVALID_PARAMETER);
		unchanged(1, 0);
		break;
	case 4:		/* C23: not the start of a run (or no run at all) */
		base.first += have_run ? 1 + how / 16 : 0;
		must("free_map_registers(base)", mapreg_free_map_registers(w.inl, base, base.count),
		     MAPREG_INVALID_PARAMETER);
		unchanged(1, 0);
		break;
	case 5:		/* C23: a run held through another adapter, of this pool or another */
		if (!have_run)
			return;
		must("free_map_registers(foreign adapter)",
		     mapreg_free_map_registers(how & 0x80 ? w.pol : foreign_adapter(), base,
					       base.count), MAPREG_INVALID_PARAMETER);
		unchanged(how & 0x80 ? 1 : 0, how & 0x80 ? 0 : 1);
		break;
	case 6:
		must("free_adapter_object(NULL)",
		     mapreg_free_adapter_object(NULL, MAPREG_DEALLOCATE_OBJECT),
		     MAPREG_INVALID_PARAMETER);
		unchanged(0, 0);
		break;
	case 7:		/* C24: KEEP_OBJECT or any other value, hold or not */
		must("free_adapter_object(action)",
		     mapreg_free_adapter_object(w.inl, (mapreg_action)bad_action()),
		     MAPREG_INVALID_PARAMETER);
		unchanged(1, 0);
		break;
	default:	/* C24: no hold open */
		if (w.state == W_SYNC_HOLD)
			return;
		must("free_adapter_object(no hold)",
		     mapreg_free_adapter_object(how & 0x80 ? w.pol : w.inl,
						MAPREG_DEALLOCATE_OBJECT + (how >> 4 & 1)),
		     MAPREG_INVALID_PARAMETER);
		unchanged(1, 0);
		break;
	}
}

static void call_poll_and_helpers(void)
{
	uint8_t how = take_byte(&w.in);
	uint32_t max = take_u32(&w.in);

	w.call = "poll/eventfd/stats/helpers";
	switch (how % 5) {
	case 0:		/* C16: nothing to run, or not a poll adapter */
		if (mapreg_poll(NULL, max) != 0 || mapreg_poll(w.inl, max) != 0 ||
		    mapreg_poll(w.pol, 0) != 0)
			fuzz_fail("poll ran routines it must not");
		break;
	case 1:		/* C29 */
		if (mapreg_adapter_eventfd(NULL) != -1 || mapreg_adapter_eventfd(w.inl) != -1 ||
		    mapreg_adapter_eventfd(w.pol) < 0)
			fuzz_fail("C29: eventfd of NULL/inline/poll adapter wrong");
		break;
	case 2:
		must("pool_get_stats(NULL pool)", mapreg_pool_get_stats(NULL, &w.stats),
		     MAPREG_INVALID_PARAMETER);
		unchanged(0, 0);
		must("pool_get_stats(NULL out)", mapreg_pool_get_stats(w.pool, NULL),
		     MAPREG_INVALID_PARAMETER);
		unchanged(1, 0);
		return;
	case 3: {
		int s = (int)take_u32(&w.in);
		const char *name = mapreg_status_str((mapreg_status)s);
		bool known = s >= MAPREG_OK && s <= MAPREG_BUSY;

		if (name == NULL || (strcmp(name, "MAPREG_<unknown>") == 0) == known)
			fuzz_fail("mapreg_status_str(%d) = %s", s, name ? name : "NULL");
		if (mapreg_pool_backend(NULL) != -1)
			fuzz_fail("mapreg_pool_backend(NULL) != -1");
		if (mapreg_deferred_cpus(NULL, (size_t)s) != MAPREG_INVALID_PARAMETER)
			fuzz_fail("mapreg_deferred_cpus(NULL, %d) accepted", s);
		break;
	}
	default: {	/* C26 against 128-bit arithmetic */
		uint64_t address = (uint64_t)take_u32(&w.in) << 32 | take_u32(&w.in);
		uint64_t length = (uint64_t)take_u32(&w.in) << (how & 0x80 ? 32 : 0) | take_u32(&w.in);
		uint32_t page = how & 0x40 ? take_u32(&w.in) : 1u << (take_byte(&w.in) % 32);
		uint64_t want = 0;

		if (length != 0 && page != 0 && (page & (page - 1)) == 0) {
			wide end = (wide)(address % page) + length;
			wide pages = (end + page - 1) / page;

			want = pages > UINT32_MAX ? UINT32_MAX : (uint64_t)pages;
		}
		uint32_t got = mapreg_transfer_registers((uintptr_t)address, (size_t)length, page);
		if (got != want)
			fuzz_fail("C26: transfer_registers(%#llx, %#llx, %u) = %u, expected %llu",
				  (unsigned long long)address, (unsigned long long)length, page,
				  got, (unsigned long long)want);
		break;
	}
	}
	unchanged(0, 0);
}

/* The world: two pools, an inline and a poll adapter, and a state. */

static void world_enter(enum world_state state)
{
	mapreg_base base;

	w.call = "setting up";
	w.state = state;
	switch (state) {
	case W_IDLE:
		break;
	case W_KEPT_CHANNEL:
		must("allocate_channel", mapreg_allocate_channel(w.inl, NULL, 2, answer_keep, &base),
		     MAPREG_OK);
		break;
	case W_SYNC_HOLD:
		must("allocate_channel_ex(hold)",
		     mapreg_allocate_channel_ex(w.inl, NULL, &w.xfer, 2, MAPREG_SYNCHRONOUS_CALLBACK,
						NULL, NULL, &w.held), MAPREG_OK);
		break;
	case W_KEPT_RUN:
		must("allocate_channel",
		     mapreg_allocate_channel(w.inl, NULL, 2, answer_keep_registers, &w.held),
		     MAPREG_OK);
		break;
	default:	/* W_QUEUED: the poll channel kept, a request queued behind it */
		must("allocate_channel", mapreg_allocate_channel(w.pol, NULL, 1, answer_keep, &base),
		     MAPREG_OK);
		must("allocate_channel_ex(queued)",
		     mapreg_allocate_channel_ex(w.pol, NULL, &w.xfer_poll, 1, 0, answer_never, NULL,
						NULL), MAPREG_OK);
		break;
	}
}

static void world_leave(void)
{
	w.call = "tearing down";
	switch (w.state) {
	case W_IDLE:
		break;
	case W_KEPT_CHANNEL:
		must("free_channel", mapreg_free_channel(w.inl), MAPREG_OK);
		break;
	case W_SYNC_HOLD:
		must("free_adapter_object",
		     mapreg_free_adapter_object(w.inl, MAPREG_DEALLOCATE_OBJECT), MAPREG_OK);
		break;
	case W_KEPT_RUN:
		must("free_map_registers", mapreg_free_map_registers(w.inl, w.held, w.held.count),
		     MAPREG_OK);
		break;
	default:
		if (!mapreg_cancel_channel(w.pol, NULL, &w.xfer_poll))
			fuzz_fail("C20: the queued request could not be cancelled");
		must("free_channel", mapreg_free_channel(w.pol), MAPREG_OK);
		break;
	}
	must("adapter_destroy", mapreg_adapter_destroy(w.inl), MAPREG_OK);
	must("adapter_destroy", mapreg_adapter_destroy(w.pol), MAPREG_OK);
	must("adapter_destroy", mapreg_adapter_destroy(w.other), MAPREG_OK);
	must("pool_destroy", mapreg_pool_destroy(w.pool), MAPREG_OK);
	must("pool_destroy", mapreg_pool_destroy(w.other_pool), MAPREG_OK);
}

static void world_create(void)
{
	mapreg_pool_config cfg = { 0 }, other_cfg = { 0 };
	mapreg_adapter_config poll_cfg = { 0, MAPREG_DISPATCH_POLL };

	w.call = "creating";
	if (!fuzz_backend(take_byte(&w.in), &cfg.backend) ||
	    !fuzz_backend(take_byte(&w.in), &other_cfg.backend))
		fuzz_fail("MAPREG_FUZZ_BACKEND names no backend");
	cfg.registers = 4 + take_byte(&w.in) % 60;
	other_cfg.registers = 4;
	must("pool_create", mapreg_pool_create(&cfg, &w.pool), MAPREG_OK);
	must("pool_create", mapreg_pool_create(&other_cfg, &w.other_pool), MAPREG_OK);
	must("adapter_create", mapreg_adapter_create(w.pool, NULL, &w.inl, NULL), MAPREG_OK);
	must("adapter_create", mapreg_adapter_create(w.pool, &poll_cfg, &w.pol, NULL), MAPREG_OK);
	must("adapter_create", mapreg_adapter_create(w.other_pool, NULL, &w.other, NULL), MAPREG_OK);
	memset(&w.xfer, 0, sizeof(w.xfer));
	must("transfer_init", mapreg_transfer_init(w.inl, &w.xfer), MAPREG_OK);
	must("transfer_init", mapreg_transfer_init(w.pol, &w.xfer_poll), MAPREG_OK);
	must("transfer_init", mapreg_transfer_init(w.other, &w.xfer_other), MAPREG_OK);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static void (*const calls[])(void) = {
		call_pool_create, call_pool, call_adapter, call_transfer_init, call_allocate,
		call_cancel, call_free, call_poll_and_helpers,
	};

	w.in = (struct bytes){ data, size };
	world_create();
	world_enter((enum world_state)(take_byte(&w.in) % W_STATES));
	snapshot();
	for (int i = 0; i < 64 && bytes_left(&w.in); i++)
		calls[take_byte(&w.in) % (sizeof(calls) / sizeof(calls[0]))]();
	world_leave();
	return 0;
}
