/* SPDX-License-Identifier: MIT */
/*
 * The shadow ownership map: one atomic per register and per channel naming
 * the token of its holder (0: free).  A token is minted for each grant.
 *
 * Claims happen after the library granted (in the routine, or after a C8
 * call returned) and releases happen before the library is asked to free,
 * so in a correct library the shadow's holdings are always a subset of the
 * library's.  Hence:
 *  - a claim that finds a register or channel taken means the library
 *    granted it twice (FAULT_DOUBLE_GRANT);
 *  - a release by a token that does not own it is a harness bug or a
 *    grant the harness did not see (also reported: it must never happen).
 * `busy` and `version` let the watchdog take consistent snapshots: a
 * snapshot is good if busy was 0 before and after and version did not move.
 * A library free is bracketed too (shadow_begin .. shadow_end around the
 * release and the call), so that the watchdog never counts as free what the
 * library has not yet been given back.
 */
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>

#include "stress.h"

void shadow_init(struct shadow *sh, uint32_t registers, uint32_t capacity)
{
	sh->capacity = capacity;
	atomic_init(&sh->registers, registers);
	sh->owner = calloc(capacity, sizeof(*sh->owner));
	if (sh->owner == NULL)
		fail("harness", "out of memory");
	for (uint32_t i = 0; i < capacity; i++)
		atomic_init(&sh->owner[i], 0);
	atomic_init(&sh->version, 0);
	atomic_init(&sh->busy, 0);
	atomic_init(&sh->serial, 0);
}

void shadow_fini(struct shadow *sh)
{
	free(sh->owner);
}

/* Low 16 bits: adapter + 1, for reports; the rest: a serial number. */
uint64_t token_new(struct shadow *sh, uint32_t adapter)
{
	uint64_t serial = atomic_fetch_add_explicit(&sh->serial, 1, memory_order_relaxed) + 1;

	return serial << 16 | (adapter + 1);
}

static uint32_t token_adapter(uint64_t token)
{
	return (uint32_t)(token & 0xffff) - 1;
}

void shadow_begin(struct shadow *sh)
{
	atomic_fetch_add(&sh->busy, 1);
}

void shadow_end(struct shadow *sh)
{
	atomic_fetch_add(&sh->version, 1);
	atomic_fetch_sub(&sh->busy, 1);
}

/* Whether some actor is probing bad frees of the hold that `token` names. */
static bool under_probe(struct world *w, uint64_t token)
{
	for (uint32_t i = 0; i < w->nactors; i++)
		if (atomic_load(&w->actors[i]->probing) == token)
			return true;
	return false;
}

static void claim_one(struct world *w, _Atomic uint64_t *cell, uint64_t token,
		      const char *what, uint32_t index)
{
	uint64_t expected = 0;

	if (atomic_compare_exchange_strong(cell, &expected, token))
		return;
	if (under_probe(w, expected))
		fail("free", "C23: a bad free of adapter %u's kept run was accepted: %s %u was "
		     "granted again to adapter %u", token_adapter(expected), what, index,
		     token_adapter(token));
	fail("shadow", "%s %u granted to adapter %u (token %llx) while adapter %u "
		     "(token %llx) still holds it", what, index, token_adapter(token),
		     (unsigned long long)token, token_adapter(expected),
		     (unsigned long long)expected);
}

static void release_one(_Atomic uint64_t *cell, uint64_t token, const char *what, uint32_t index)
{
	uint64_t expected = token;

	if (!atomic_compare_exchange_strong(cell, &expected, 0))
		fail("shadow", "%s %u freed by adapter %u (token %llx) but held by %s %u "
		     "(token %llx)", what, index, token_adapter(token),
		     (unsigned long long)token, expected ? "adapter" : "nobody",
		     expected ? token_adapter(expected) : 0, (unsigned long long)expected);
}

void shadow_claim(struct world *w, uint32_t adapter, mapreg_base base, uint64_t token,
		  bool channel)
{
	struct shadow *sh = &w->shadow;

	if (base.count > sh->capacity || base.first > sh->capacity - base.count)
		fail("api", "adapter %u was granted registers [%u+%u] outside the pool of at most "
		     "%u", adapter, base.first, base.count, sh->capacity);
	if (sh->boundary != 0 && base.count != 0 &&
	    base.first / sh->boundary != (base.first + base.count - 1) / sh->boundary)
		fail("shadow", "C30: adapter %u was granted registers [%u+%u], across a multiple "
		     "of the boundary %u", adapter, base.first, base.count, sh->boundary);
	if (channel)
		claim_one(w, &w->adapters[adapter].channel_owner, token, "channel", adapter);
	for (uint32_t i = 0; i < base.count; i++)
		claim_one(w, &sh->owner[base.first + i], token, "register", base.first + i);
}

void shadow_release(struct world *w, uint32_t adapter, mapreg_base base, uint64_t token,
		    bool channel)
{
	struct shadow *sh = &w->shadow;

	for (uint32_t i = 0; i < base.count; i++)
		release_one(&sh->owner[base.first + i], token, "register", base.first + i);
	if (channel)
		release_one(&w->adapters[adapter].channel_owner, token, "channel", adapter);
}

uint32_t shadow_held(struct shadow *sh)
{
	uint32_t registers = atomic_load(&sh->registers), held = 0;

	for (uint32_t i = 0; i < registers; i++)
		held += atomic_load_explicit(&sh->owner[i], memory_order_relaxed) != 0;
	return held;
}

uint32_t shadow_largest_free_run(struct shadow *sh)
{
	uint32_t registers = atomic_load(&sh->registers);
	uint32_t best = 0, run = 0;

	for (uint32_t i = 0; i < registers; i++) {
		if (sh->boundary != 0 && i % sh->boundary == 0)
			run = 0;			/* C30: runs do not cross */
		run = atomic_load_explicit(&sh->owner[i], memory_order_relaxed) ? 0 : run + 1;
		if (run > best)
			best = run;
	}
	return best;
}

/* One character per register: '.' free, else the holder's adapter. */
static char holder_char(uint64_t token)
{
	static const char names[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";

	return token == 0 ? '.' : names[token_adapter(token) % (sizeof(names) - 1)];
}

void shadow_print(struct world *w)
{
	struct shadow *sh = &w->shadow;
	uint32_t registers = atomic_load(&sh->registers);

	printf("shadow (%u registers, busy %u, largest free run %u):\n  ", registers,
	       atomic_load(&sh->busy), shadow_largest_free_run(sh));
	for (uint32_t i = 0; i < registers; i++)
		putchar(holder_char(atomic_load(&sh->owner[i])));
	printf("\nchannels:");
	for (uint32_t i = 0; i < w->nadapters; i++) {
		struct sadapter *ad = &w->adapters[i];

		/*
		 * `ad` is the churner's: a destroy holds `destroying` until it
		 * has cleared `alive`, so under it a live adapter stays live.
		 */
		if (pthread_mutex_trylock(&ad->destroying) != 0) {
			printf(" %c:(being destroyed)", holder_char(i + 1));
			continue;
		}
		if (!atomic_load(&ad->alive)) {
			pthread_mutex_unlock(&ad->destroying);
			continue;
		}
		printf(" %c:%s%s", holder_char(i + 1),
		       atomic_load(&ad->channel_owner) ? "held" : "free",
		       ad->dispatch == MAPREG_DISPATCH_POLL ? "/poll" : "");
		/*
		 * A grant waiting for mapreg_poll holds its channel in the
		 * library while the shadow (routines started) calls it free:
		 * say whether the eventfd calls the poller (C29), and how many
		 * calls the poller has made, to tell a lost wake-up from a
		 * poller that did not run.
		 */
		if (ad->dispatch == MAPREG_DISPATCH_POLL) {
			struct pollfd fd = { mapreg_adapter_eventfd(ad->ad), POLLIN, 0 };
			int ready = poll(&fd, 1, 0);

			printf("(eventfd %s", ready > 0 ? "readable" : ready == 0 ? "unreadable" : "?");
			if (ad->poller != NULL)
				printf(", poller calls %llu",
				       (unsigned long long)atomic_load(&ad->poller->tally.ops));
			printf(")");
		}
		pthread_mutex_unlock(&ad->destroying);
	}
	printf("\n");
}
