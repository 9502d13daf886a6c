/* SPDX-License-Identifier: MIT */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

struct bench_options bench_options = { .smoke = false, .seed = 20240601 };

/*
 * Every concrete backend the library names (mapreg_backend_name: LOCKED on,
 * until a value names none).  Which of them the library serves is asked of
 * the library itself (bench_backends_probe), so a new backend shows up in
 * every scenario the day mapreg_pool_create accepts it.
 */
#define MAX_BACKENDS 8

static bool backend_known(mapreg_backend id, struct bench_backend *out)
{
	const char *name = id == MAPREG_BACKEND_DEFAULT ? NULL : mapreg_backend_name(id);

	if (name == NULL)
		return false;
	*out = (struct bench_backend){ id, name };
	return true;
}

static bool backend_available(mapreg_backend id)
{
	mapreg_pool_config cfg = { .registers = 1, .backend = id };
	mapreg_pool *pool;

	if (mapreg_pool_create(&cfg, &pool) != MAPREG_OK)
		return false;			/* MAPREG_INVALID_PARAMETER: not built */
	mapreg_pool_destroy(pool);
	return true;
}

/* A name of `len` bytes (from a comma-separated list). */
static bool backend_named(const char *name, size_t len, struct bench_backend *out)
{
	char copy[16];
	mapreg_backend id;

	if (len >= sizeof(copy))
		return false;
	memcpy(copy, name, len);
	copy[len] = '\0';
	return mapreg_backend_by_name(copy, &id) == MAPREG_OK && backend_known(id, out);
}

size_t bench_backends_probe(const char *only, const struct bench_backend **out, char *err,
			    size_t errlen)
{
	static struct bench_backend chosen[MAX_BACKENDS];
	struct bench_backend b;
	size_t n = 0;

	*out = chosen;
	err[0] = '\0';
	if (only == NULL) {
		for (int id = MAPREG_BACKEND_LOCKED; n < MAX_BACKENDS &&
		     backend_known((mapreg_backend)id, &b); id++)
			if (backend_available(b.id))
				chosen[n++] = b;
		return n;
	}
	for (const char *p = only; *p != '\0';) {
		const char *comma = strchr(p, ',');
		size_t len = comma != NULL ? (size_t)(comma - p) : strlen(p);

		if (!backend_named(p, len, &b)) {
			snprintf(err, errlen, "unknown backend '%.*s' (known: locked, lockfree)",
				 (int)len, p);
			return 0;
		}
		if (!backend_available(b.id)) {
			snprintf(err, errlen, "backend '%s' is not built into this mapreg", b.name);
			return 0;
		}
		bool seen = false;
		for (size_t i = 0; i < n; i++)
			seen |= chosen[i].id == b.id;
		if (!seen && n < MAX_BACKENDS)
			chosen[n++] = b;
		p += len + (comma != NULL);
	}
	return n;
}

cbench *scenario_register(const struct scenario *sc, const struct bench_backend *backend,
			  cbench_body_fn body)
{
	char name[128];

	snprintf(name, sizeof(name), "%s/%s", sc->name, backend->name);
	return cbench_register(name, body, backend);
}

mapreg_pool *bench_pool(cbench_state *s, uint32_t registers)
{
	mapreg_pool_config cfg = { .registers = registers, .backend = bench_backend_of(s) };
	mapreg_pool *pool = NULL;
	mapreg_status st = mapreg_pool_create(&cfg, &pool);

	if (st != MAPREG_OK) {
		cbench_fail(s, "mapreg_pool_create(%u): %s", registers, mapreg_status_str(st));
		return NULL;
	}
	return pool;
}

mapreg_adapter *bench_adapter(cbench_state *s, mapreg_pool *pool, mapreg_dispatch dispatch)
{
	mapreg_adapter_config cfg = { .dispatch = dispatch };
	mapreg_adapter *adapter = NULL;
	mapreg_status st = mapreg_adapter_create(pool, &cfg, &adapter, NULL);

	if (st != MAPREG_OK) {
		cbench_fail(s, "mapreg_adapter_create: %s", mapreg_status_str(st));
		return NULL;
	}
	return adapter;
}

void bench_destroy(cbench_state *s, mapreg_pool *pool, mapreg_adapter **adapters, size_t count)
{
	mapreg_pool_stats stats;

	if (pool == NULL)
		return;
	if (mapreg_pool_get_stats(pool, &stats) == MAPREG_OK) {
		uint64_t unaccounted = stats.registers - stats.free - stats.cached;

		expect_zero(s, "leaked_registers", stats.held + unaccounted);
		expect_zero(s, "left_waiting", stats.waiting_channel + stats.waiting_registers);
	}
	for (size_t i = 0; i < count; i++) {
		if (adapters[i] == NULL)
			continue;
		mapreg_status st = mapreg_adapter_destroy(adapters[i]);
		if (st != MAPREG_OK)
			cbench_fail(s, "mapreg_adapter_destroy: %s", mapreg_status_str(st));
	}
	mapreg_status st = mapreg_pool_destroy(pool);
	if (st != MAPREG_OK)
		cbench_fail(s, "mapreg_pool_destroy: %s", mapreg_status_str(st));
}

double rng_pareto(struct rng *r, double alpha, double xmin)
{
	return xmin * pow(rng_unit(r), -1.0 / alpha);
}

struct rng rng_for(uint64_t stream)
{
	struct rng r = { bench_options.seed ^ (stream * 0xd1342543de82ef95u) };

	rng_next(&r);
	return r;
}

bool helper_start(pthread_t *t, void *(*fn)(void *), void *arg)
{
	return pthread_create(t, NULL, fn, arg) == 0;
}

void *bench_zalloc_lines(size_t size)
{
	size_t lines = (size + 63) / 64 * 64;
	void *p = aligned_alloc(64, lines);

	if (p != NULL)
		memset(p, 0, lines);
	return p;
}

void helper_join(pthread_t t)
{
	pthread_join(t, NULL);
}

static cpu_set_t allowed_at_start;
static pthread_once_t allowed_once = PTHREAD_ONCE_INIT;

/* The CPUs the process may use, read before anything pins a thread. */
static void read_allowed(void)
{
	if (sched_getaffinity(0, sizeof(allowed_at_start), &allowed_at_start) != 0) {
		CPU_ZERO(&allowed_at_start);
		CPU_SET(0, &allowed_at_start);
	}
}

unsigned int allowed_cpu_count(void)
{
	pthread_once(&allowed_once, read_allowed);
	return (unsigned int)CPU_COUNT(&allowed_at_start);
}

void unpin_self(void)
{
	pthread_once(&allowed_once, read_allowed);
	pthread_setaffinity_np(pthread_self(), sizeof(allowed_at_start), &allowed_at_start);
}

void pin_self(unsigned int index)
{
	pthread_once(&allowed_once, read_allowed);
	unsigned int want = index % (unsigned int)CPU_COUNT(&allowed_at_start);
	for (int cpu = 0; cpu < CPU_SETSIZE; cpu++) {
		if (!CPU_ISSET(cpu, &allowed_at_start) || want-- != 0)
			continue;
		cpu_set_t one;
		CPU_ZERO(&one);
		CPU_SET(cpu, &one);
		pthread_setaffinity_np(pthread_self(), sizeof(one), &one);
		return;
	}
}

void mpsc_init(struct mpsc *q)
{
	atomic_init(&q->stub.next, NULL);
	atomic_init(&q->head, &q->stub);
	q->tail = &q->stub;
}

void mpsc_push(struct mpsc *q, struct mpsc_node *n)
{
	atomic_store_explicit(&n->next, NULL, memory_order_relaxed);
	struct mpsc_node *prev = atomic_exchange_explicit(&q->head, n, memory_order_acq_rel);
	atomic_store_explicit(&prev->next, n, memory_order_release);
}

struct mpsc_node *mpsc_pop(struct mpsc *q)
{
	struct mpsc_node *tail = q->tail;
	struct mpsc_node *next = atomic_load_explicit(&tail->next, memory_order_acquire);

	if (tail == &q->stub) {
		if (next == NULL)
			return NULL;
		q->tail = next;
		tail = next;
		next = atomic_load_explicit(&next->next, memory_order_acquire);
	}
	if (next != NULL) {
		q->tail = next;
		return tail;
	}
	if (tail != atomic_load_explicit(&q->head, memory_order_acquire))
		return NULL;			/* a push is between its two steps */
	mpsc_push(q, &q->stub);
	next = atomic_load_explicit(&tail->next, memory_order_acquire);
	if (next != NULL) {
		q->tail = next;
		return tail;
	}
	return NULL;
}

bool spsc_init(struct spsc *q, uint32_t capacity_pow2)
{
	atomic_init(&q->head, 0);
	atomic_init(&q->tail, 0);
	q->mask = capacity_pow2 - 1;
	q->items = calloc(capacity_pow2, sizeof(*q->items));
	return q->items != NULL;
}

void spsc_fini(struct spsc *q)
{
	free(q->items);
}

bool spsc_push(struct spsc *q, mapreg_base item)
{
	uint64_t tail = atomic_load_explicit(&q->tail, memory_order_relaxed);

	if (tail - atomic_load_explicit(&q->head, memory_order_acquire) > q->mask)
		return false;
	q->items[tail & q->mask] = item;
	atomic_store_explicit(&q->tail, tail + 1, memory_order_release);
	return true;
}

bool spsc_pop(struct spsc *q, mapreg_base *item)
{
	uint64_t head = atomic_load_explicit(&q->head, memory_order_relaxed);

	if (head == atomic_load_explicit(&q->tail, memory_order_acquire))
		return false;
	*item = q->items[head & q->mask];
	atomic_store_explicit(&q->head, head + 1, memory_order_release);
	return true;
}

bool grant_check_init(struct grant_check *gc, uint32_t registers)
{
	gc->registers = registers;
	gc->owner = calloc(registers, sizeof(*gc->owner));
	atomic_init(&gc->double_grants, 0);
	atomic_init(&gc->wrong_sizes, 0);
	atomic_init(&gc->fifo_inversions, 0);
	return gc->owner != NULL;
}

void grant_check_fini(struct grant_check *gc)
{
	free(gc->owner);
	gc->owner = NULL;
}

static void count(_Atomic uint64_t *counter)
{
	atomic_fetch_add_explicit(counter, 1, memory_order_relaxed);
}

void grant_check_take(struct grant_check *gc, mapreg_base base, uint32_t nregs)
{
	if (base.count != nregs || base.first + (uint64_t)base.count > gc->registers) {
		count(&gc->wrong_sizes);
		return;
	}
	for (uint32_t r = base.first; r < base.first + base.count; r++)
		if (atomic_exchange_explicit(&gc->owner[r], 1, memory_order_acq_rel) != 0)
			count(&gc->double_grants);
}

void grant_check_give(struct grant_check *gc, mapreg_base base)
{
	if (base.first + (uint64_t)base.count > gc->registers)
		return;				/* counted as a wrong size already */
	for (uint32_t r = base.first; r < base.first + base.count; r++)
		atomic_store_explicit(&gc->owner[r], 0, memory_order_release);
}

void fifo_check(struct grant_check *gc, _Atomic uint64_t *last_seq, uint64_t seq)
{
	/* An adapter's routines never overlap (one channel): a plain max is enough. */
	if (seq <= atomic_load_explicit(last_seq, memory_order_relaxed))
		count(&gc->fifo_inversions);
	atomic_store_explicit(last_seq, seq, memory_order_relaxed);
}

void expect_zero(cbench_state *s, const char *counter, uint64_t value)
{
	cbench_counter(s, counter, (double)value, CBENCH_VALUE);
	if (value != 0)
		cbench_fail(s, "%s = %llu, must be 0", counter, (unsigned long long)value);
}

void grant_check_report(cbench_state *s, struct grant_check *gc)
{
	expect_zero(s, "double_grants", atomic_load(&gc->double_grants));
	expect_zero(s, "wrong_size_grants", atomic_load(&gc->wrong_sizes));
	expect_zero(s, "fifo_inversions", atomic_load(&gc->fifo_inversions));
}

static __thread struct deferred *deferred_head, *deferred_last;

void defer_until_return(struct deferred *d)
{
	d->next = NULL;
	if (deferred_head == NULL)
		deferred_head = d;
	else
		deferred_last->next = d;
	deferred_last = d;
}

void run_deferred(void)
{
	struct deferred *d = deferred_head;

	deferred_head = deferred_last = NULL;
	while (d != NULL) {
		struct deferred *next = d->next;	/* run() may reuse d */

		d->run(d);
		d = next;
	}
}

bool progress_stalled(struct progress_watch *w, uint64_t progress)
{
	if (w->since_ns == 0 || progress != w->last) {
		w->last = progress;
		w->since_ns = clock_monotonic_ns();
		w->polls = 0;
		return false;
	}
	if (++w->polls % 4096 != 0)		/* read the clock now and then */
		return false;
	return clock_monotonic_ns() - w->since_ns > 20000000000u;
}
