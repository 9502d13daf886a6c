/* SPDX-License-Identifier: MIT */
/* The contract tests' shared harness: see harness.h. */
#include "harness.h"

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

mapreg_backend test_backend = MAPREG_BACKEND_DEFAULT;
__thread int marked_calls;

/* Command line. */

static bool parse_backend(const char *name)
{
	return mapreg_backend_by_name(name, &test_backend) == MAPREG_OK;
}

static const char *backend_name(mapreg_backend backend)
{
	const char *name = mapreg_backend_name(backend);

	return name != NULL ? name : "?";
}

static int usage(const char *argv0)
{
	fprintf(stderr, "usage: %s [--backend locked|lockfree|default] [--filter GLOB]\n",
		argv0);
	return 2;
}

int harness_run(const char *group, const struct CMUnitTest *tests, size_t count,
		int argc, char **argv)
{
	return harness_run_only(group, tests, count, argc, argv, NULL);
}

int harness_run_only(const char *group, const struct CMUnitTest *tests, size_t count,
		     int argc, char **argv, bool (*wanted)(const struct CMUnitTest *test))
{
	char name[128];
	struct CMUnitTest *chosen = malloc(count * sizeof(*chosen));
	size_t n = 0;

	if (chosen == NULL)
		return 1;
	for (int i = 1; i < argc; i++) {
		const char *arg = argv[i];
		const char *value = i + 1 < argc ? argv[i + 1] : NULL;

		if (strcmp(arg, "--backend") == 0 && value != NULL && parse_backend(value))
			i++;
		else if (strncmp(arg, "--backend=", 10) == 0 && parse_backend(arg + 10))
			continue;
		else if (strcmp(arg, "--filter") == 0 && value != NULL)
			cmocka_set_test_filter(argv[++i]);
		else
			return usage(argv[0]);
	}
	for (size_t i = 0; i < count; i++) {
		if (wanted == NULL || wanted(&tests[i]))
			chosen[n++] = tests[i];
	}
	snprintf(name, sizeof(name), "%s[%s]", group, backend_name(test_backend));
	int failed = _cmocka_run_group_tests(name, chosen, n, NULL, NULL);
	free(chosen);
	return failed;
}

/* Objects made by the current test, checked and destroyed after it. */

struct registry {
	void **items;
	size_t count, capacity;
};

static struct registry pools, adapters;

static void registry_add(struct registry *r, void *item)
{
	if (r->count == r->capacity) {
		r->capacity = r->capacity ? 2 * r->capacity : 16;
		r->items = realloc(r->items, r->capacity * sizeof(*r->items));
		assert_non_null(r->items);
	}
	r->items[r->count++] = item;
}

static void registry_forget(struct registry *r, void *item)
{
	for (size_t i = 0; i < r->count; i++) {
		if (r->items[i] == item) {
			r->items[i] = r->items[--r->count];
			return;
		}
	}
}

static void registry_clear(struct registry *r)
{
	free(r->items);
	*r = (struct registry){ 0 };
}

static void routine_log_reset(void);

int objects_setup(void **state)
{
	/* A failed test may leave objects behind: they are leaked, not reused. */
	registry_clear(&pools);
	registry_clear(&adapters);
	routine_log_reset();
	return 0;
}

/* Reports, without asserting, why `pool` is not left clean. */
static bool pool_left_clean(const mapreg_pool *pool)
{
	mapreg_pool_stats s;

	if (mapreg_pool_get_stats(pool, &s) != MAPREG_OK) {
		print_error("after the test: get_stats failed\n");
		return false;
	}
	if (s.free + s.cached != s.registers - s.held || s.held != 0 ||
	    s.waiting_channel != 0 || s.waiting_registers != 0) {
		print_error("after the test: registers %" PRIu64 " free %" PRIu64
			    " cached %" PRIu64 " held %" PRIu64 " waiting %" PRIu64
			    "+%" PRIu64 " (want all free, nothing waiting)\n",
			    s.registers, s.free, s.cached, s.held, s.waiting_channel,
			    s.waiting_registers);
		return false;
	}
	return true;
}

/*
 * After every test (also a failed one, so it must not assert): each pool
 * quiescent with nothing held, each adapter and pool destroyable (C3, C27).
 * Objects that cannot be destroyed are leaked.
 */
int objects_teardown(void **state)
{
	int rc = 0;

	for (size_t i = 0; i < pools.count; i++)
		if (!pool_left_clean(pools.items[i]))
			rc = -1;
	for (size_t i = 0; i < adapters.count; i++) {
		mapreg_status s = mapreg_adapter_destroy(adapters.items[i]);
		if (s != MAPREG_OK) {
			print_error("after the test: adapter_destroy: %s\n",
				    mapreg_status_str(s));
			rc = -1;
		}
	}
	for (size_t i = 0; i < pools.count; i++) {
		mapreg_status s = mapreg_pool_destroy(pools.items[i]);
		if (s != MAPREG_OK) {
			print_error("after the test: pool_destroy: %s\n", mapreg_status_str(s));
			rc = -1;
		}
	}
	registry_clear(&pools);
	registry_clear(&adapters);
	routine_log_reset();
	return rc;
}

mapreg_pool *pool_new(uint32_t registers)
{
	return pool_new_bounded(registers, 0);
}

mapreg_pool *pool_new_bounded(uint32_t registers, uint32_t boundary)
{
	mapreg_pool_config cfg = { .registers = registers, .backend = test_backend,
				   .boundary = boundary };
	mapreg_pool *pool = NULL;

	assert_ok(mapreg_pool_create(&cfg, &pool));
	assert_non_null(pool);
	if (test_backend != MAPREG_BACKEND_DEFAULT)
		assert_int_equal(mapreg_pool_backend(pool), test_backend);
	registry_add(&pools, pool);
	return pool;
}

mapreg_adapter *adapter_new(mapreg_pool *pool, mapreg_dispatch dispatch, uint32_t max)
{
	mapreg_adapter_config cfg = { .max_map_registers = max, .dispatch = dispatch };
	mapreg_adapter *adapter = NULL;

	assert_ok(mapreg_adapter_create(pool, &cfg, &adapter, NULL));
	assert_non_null(adapter);
	registry_add(&adapters, adapter);
	return adapter;
}

mapreg_adapter *inline_adapter(mapreg_pool *pool)
{
	return adapter_new(pool, MAPREG_DISPATCH_INLINE, 0);
}

mapreg_adapter *poll_adapter(mapreg_pool *pool)
{
	return adapter_new(pool, MAPREG_DISPATCH_POLL, 0);
}

mapreg_status adapter_destroy(mapreg_adapter *adapter)
{
	mapreg_status s = mapreg_adapter_destroy(adapter);

	if (s == MAPREG_OK)
		registry_forget(&adapters, adapter);
	return s;
}

mapreg_status pool_destroy(mapreg_pool *pool)
{
	mapreg_status s = mapreg_pool_destroy(pool);

	if (s == MAPREG_OK)
		registry_forget(&pools, pool);
	return s;
}

void xfer_init_for(mapreg_adapter *adapter, mapreg_transfer *xfer)
{
	memset(xfer, 0, sizeof(*xfer));
	assert_ok(mapreg_transfer_init(adapter, xfer));
}

/* Statuses. */

void check_status(mapreg_status got, mapreg_status want, const char *call,
		  const char *file, int line)
{
	if (got == want)
		return;
	print_error("%s\n  returned %s, expected %s\n", call, mapreg_status_str(got),
		    mapreg_status_str(want));
	_fail(file, line);
}

/* The routine log. */

static struct {
	pthread_mutex_t lock;
	struct probe **entries;
	unsigned int count, capacity;
} routine_log = { .lock = PTHREAD_MUTEX_INITIALIZER };

static void routine_log_reset(void)
{
	pthread_mutex_lock(&routine_log.lock);
	free(routine_log.entries);
	routine_log.entries = NULL;
	routine_log.count = routine_log.capacity = 0;
	pthread_mutex_unlock(&routine_log.lock);
}

/* Returns the 1-based place of `p`, or 0 if the log could not grow. */
static unsigned int routine_log_append(struct probe *p)
{
	unsigned int order = 0;

	pthread_mutex_lock(&routine_log.lock);
	if (routine_log.count == routine_log.capacity) {
		unsigned int capacity = routine_log.capacity ? 2 * routine_log.capacity : 64;
		struct probe **entries = realloc(routine_log.entries,
						 capacity * sizeof(*entries));
		if (entries != NULL) {
			routine_log.entries = entries;
			routine_log.capacity = capacity;
		}
	}
	if (routine_log.count < routine_log.capacity) {
		routine_log.entries[routine_log.count++] = p;
		order = routine_log.count;
	}
	pthread_mutex_unlock(&routine_log.lock);
	return order;
}

unsigned int routine_log_count(void)
{
	pthread_mutex_lock(&routine_log.lock);
	unsigned int count = routine_log.count;
	pthread_mutex_unlock(&routine_log.lock);
	return count;
}

struct probe *routine_log_at(unsigned int i)
{
	pthread_mutex_lock(&routine_log.lock);
	struct probe *p = i < routine_log.count ? routine_log.entries[i] : NULL;
	pthread_mutex_unlock(&routine_log.lock);
	return p;
}

static const char *probe_name(const struct probe *p)
{
	return p == NULL ? "(none)" : p->name ? p->name : "(unnamed)";
}

void check_routine_log(const char *file, int line, unsigned int count, ...)
{
	unsigned int ran = routine_log_count();
	bool same = ran == count;
	va_list ap;

	va_start(ap, count);
	for (unsigned int i = 0; i < count; i++) {
		struct probe *want = va_arg(ap, struct probe *);
		if (routine_log_at(i) != want)
			same = false;
	}
	va_end(ap);
	if (same)
		return;
	print_error("routine log: %u ran:", ran);
	for (unsigned int i = 0; i < ran && i < 16; i++)
		print_error(" %s", probe_name(routine_log_at(i)));
	print_error("\n  expected %u:", count);
	va_start(ap, count);
	for (unsigned int i = 0; i < count; i++)
		print_error(" %s", probe_name(va_arg(ap, struct probe *)));
	va_end(ap);
	print_error("\n");
	_fail(file, line);
}

/* The recording routine. */

void probe_init(struct probe *p, const char *name, mapreg_action answer)
{
	memset(p, 0, sizeof(*p));
	p->name = name;
	p->answer = answer;
	atomic_init(&p->runs, 0);
}

mapreg_action probe_routine(void *device, mapreg_transfer *xfer, mapreg_base base,
			    void *context)
{
	struct probe *p = context;

	p->base = base;
	p->xfer = xfer;
	p->device = device;
	p->thread = pthread_self();
	p->during_call = marked_calls > 0;
	p->order = routine_log_append(p);
	atomic_fetch_add(&p->runs, 1);
	if (p->then != NULL)
		p->then(p);
	return p->answer;
}

void check_ran_inside_call(const struct probe *p, pthread_t thread, const char *file,
			   int line)
{
	unsigned int runs = atomic_load(&p->runs);
	bool there = runs > 0 && pthread_equal(p->thread, thread);

	if (runs == 1 && there && p->during_call)
		return;
	print_error("routine %s: ran %u times, %s, %s a marked call\n", probe_name(p), runs,
		    there ? "on the expected thread" : "not on the expected thread",
		    p->during_call ? "inside" : "outside");
	_fail(file, line);
}

/* Requests. */

void request(mapreg_adapter *adapter, uint32_t nregs, struct probe *p)
{
	assert_ok(mapreg_allocate_channel(adapter, p, nregs, probe_routine, p));
}

void request_ex(mapreg_adapter *adapter, mapreg_transfer *xfer, uint32_t nregs,
		struct probe *p)
{
	assert_ok(mapreg_allocate_channel_ex(adapter, p, xfer, nregs, 0, probe_routine, p,
					     NULL));
}

mapreg_base hold(mapreg_adapter *adapter, uint32_t nregs)
{
	mapreg_transfer xfer;
	mapreg_base base = { UINT32_MAX, UINT32_MAX };

	/* The transfer may go once the synchronous call has returned (C10). */
	xfer_init_for(adapter, &xfer);
	assert_ok(mapreg_allocate_channel_ex(adapter, NULL, &xfer, nregs,
					     MAPREG_SYNCHRONOUS_CALLBACK, NULL, NULL, &base));
	assert_int_equal(base.count, nregs);
	return base;
}

mapreg_base keep_run(mapreg_adapter *adapter, uint32_t nregs)
{
	mapreg_base base = hold(adapter, nregs);

	assert_ok(mapreg_free_adapter_object(adapter, MAPREG_DEALLOCATE_OBJECT_KEEP_REGISTERS));
	return base;
}

void release_hold(mapreg_adapter *adapter)
{
	assert_ok(mapreg_free_adapter_object(adapter, MAPREG_DEALLOCATE_OBJECT));
}

mapreg_status try_sync(mapreg_adapter *adapter, uint32_t nregs, struct probe *p)
{
	mapreg_transfer xfer;

	memset(&xfer, 0, sizeof(xfer));
	mapreg_status status = mapreg_transfer_init(adapter, &xfer);
	if (status != MAPREG_OK)
		return status;
	return mapreg_allocate_channel_ex(adapter, p, &xfer, nregs,
					  MAPREG_SYNCHRONOUS_CALLBACK, probe_routine, p, NULL);
}

/* Sync cycles. */

struct cycle_routine {
	mapreg_action answer;
	unsigned int runs;
	mapreg_base base;
};

static mapreg_action cycle_routine(void *device, mapreg_transfer *xfer, mapreg_base base,
				   void *context)
{
	struct cycle_routine *r = context;

	r->runs++;
	r->base = base;
	return r->answer;
}

/* One cycle; false if anything went wrong. */
static bool sync_cycle(mapreg_adapter *adapter, mapreg_transfer *xfer, uint32_t nregs,
		       unsigned long turn, mapreg_status *status)
{
	struct cycle_routine r = { MAPREG_DEALLOCATE_OBJECT, 0, { 0, 0 } };
	mapreg_base base = { UINT32_MAX, UINT32_MAX };

	switch (turn % 3) {
	case 0:
		*status = mapreg_allocate_channel_ex(adapter, NULL, xfer, nregs,
						     MAPREG_SYNCHRONOUS_CALLBACK, NULL, NULL,
						     &base);
		if (*status != MAPREG_OK)
			return *status == MAPREG_INSUFFICIENT_RESOURCES;
		return base.count == nregs &&
		       mapreg_free_adapter_object(adapter, MAPREG_DEALLOCATE_OBJECT) == MAPREG_OK;
	case 1:
		*status = mapreg_allocate_channel_ex(adapter, NULL, xfer, nregs,
						     MAPREG_SYNCHRONOUS_CALLBACK, cycle_routine,
						     &r, NULL);
		if (*status != MAPREG_OK)
			return *status == MAPREG_INSUFFICIENT_RESOURCES && r.runs == 0;
		return r.runs == 1 && r.base.count == nregs;
	default:
		r.answer = MAPREG_DEALLOCATE_OBJECT_KEEP_REGISTERS;
		*status = mapreg_allocate_channel_ex(adapter, NULL, xfer, nregs,
						     MAPREG_SYNCHRONOUS_CALLBACK, cycle_routine,
						     &r, NULL);
		if (*status != MAPREG_OK)
			return *status == MAPREG_INSUFFICIENT_RESOURCES && r.runs == 0;
		if (r.runs != 1 || r.base.count != nregs)
			return false;
		return nregs == 0 ||
		       mapreg_free_map_registers(adapter, r.base, nregs) == MAPREG_OK;
	}
}

void sync_cycles(mapreg_adapter *adapter, uint32_t nregs, unsigned long cycles,
		 struct cycle_counts *counts)
{
	mapreg_transfer xfer;

	memset(&xfer, 0, sizeof(xfer));
	if (mapreg_transfer_init(adapter, &xfer) != MAPREG_OK) {
		counts->wrong++;
		return;
	}
	for (unsigned long turn = 0; turn < cycles; turn++) {
		mapreg_status status;

		if (!sync_cycle(adapter, &xfer, nregs, turn, &status))
			counts->wrong++;
		else if (status == MAPREG_OK)
			counts->granted++;
		else
			counts->insufficient++;
	}
}

/* Statistics. */

mapreg_pool_stats stats_of(const mapreg_pool *pool)
{
	mapreg_pool_stats s;

	memset(&s, 0xa5, sizeof(s));
	assert_ok(mapreg_pool_get_stats(pool, &s));
	return s;
}

#define STATS_FIELDS(X)                                              \
	X(registers) X(held) X(waiting_channel) X(waiting_registers) \
	X(grants) X(cancels) X(sync_failures) X(caller_errors)

/*
 * Registers may move between the shared pool and per-CPU caches on any call
 * (a lock-free backend may drain caches to try a request it then refuses):
 * where they are is not the contract, how many are not held is (C27).  So
 * free and cached are compared as their sum.
 */
void check_stats_equal(const mapreg_pool_stats *want, const mapreg_pool_stats *got,
		       const char *file, int line)
{
	bool same = true;

	if (want->free + want->cached != got->free + got->cached) {
		print_error("stats.free + cached: %" PRIu64 " + %" PRIu64 ", expected %" PRIu64
			    " + %" PRIu64 "\n", got->free, got->cached, want->free, want->cached);
		same = false;
	}

#define COMPARE(field)                                                               \
	if (want->field != got->field) {                                             \
		print_error("stats." #field ": %" PRIu64 ", expected %" PRIu64 "\n", \
			    got->field, want->field);                                \
		same = false;                                                        \
	}
	STATS_FIELDS(COMPARE)
#undef COMPARE
	if (!same)
		_fail(file, line);
}

void check_quiescent(const mapreg_pool *pool, const char *file, int line)
{
	mapreg_pool_stats s = stats_of(pool);

	if (s.free + s.cached == s.registers - s.held && s.waiting_channel == 0 &&
	    s.waiting_registers == 0)
		return;
	print_error("not quiescent: registers %" PRIu64 " free %" PRIu64 " cached %" PRIu64
		    " held %" PRIu64 " waiting %" PRIu64 "+%" PRIu64 "\n",
		    s.registers, s.free, s.cached, s.held, s.waiting_channel,
		    s.waiting_registers);
	_fail(file, line);
}

void check_waiting(const mapreg_pool *pool, uint64_t channel, uint64_t registers,
		   const char *file, int line)
{
	mapreg_pool_stats s = stats_of(pool);

	if (s.waiting_channel == channel && s.waiting_registers == registers)
		return;
	print_error("waiting: %" PRIu64 " for a channel, %" PRIu64 " for registers;"
		    " expected %" PRIu64 ", %" PRIu64 "\n",
		    s.waiting_channel, s.waiting_registers, channel, registers);
	_fail(file, line);
}

/* Threads, gates and file descriptors. */

pthread_t thread_start(void *(*fn)(void *), void *arg, size_t stack_size)
{
	pthread_attr_t attr;
	pthread_t thread;

	assert_int_equal(pthread_attr_init(&attr), 0);
	if (stack_size != 0)
		assert_int_equal(pthread_attr_setstacksize(&attr, stack_size), 0);
	assert_int_equal(pthread_create(&thread, &attr, fn, arg), 0);
	pthread_attr_destroy(&attr);
	return thread;
}

void thread_join(pthread_t thread)
{
	assert_int_equal(pthread_join(thread, NULL), 0);
}

struct marked_call {
	mapreg_status (*call)(void *arg);
	void *arg;
	mapreg_status status;
};

static void *run_marked_call(void *arg)
{
	struct marked_call *c = arg;

	c->status = MARKED(c->call(c->arg));
	return NULL;
}

pthread_t marked_call_on_thread(mapreg_status (*call)(void *arg), void *arg,
				mapreg_status *status)
{
	struct marked_call c = { call, arg, MAPREG_OK };

	pthread_t thread = thread_start(run_marked_call, &c, 0);
	thread_join(thread);
	*status = c.status;
	return thread;
}

/* Long enough for any slow sanitizer run; only a deadlock reaches it. */
#define GATE_TIMEOUT_SECONDS 20

void gate_init(struct gate *g)
{
	pthread_mutex_init(&g->lock, NULL);
	pthread_cond_init(&g->cond, NULL);
	g->opened = 0;
}

void gate_open(struct gate *g)
{
	pthread_mutex_lock(&g->lock);
	g->opened++;
	pthread_cond_broadcast(&g->cond);
	pthread_mutex_unlock(&g->lock);
}

bool gate_wait_for(struct gate *g, unsigned int n)
{
	struct timespec deadline;
	int rc = 0;

	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += GATE_TIMEOUT_SECONDS;
	pthread_mutex_lock(&g->lock);
	while (g->opened < n && rc != ETIMEDOUT)
		rc = pthread_cond_timedwait(&g->cond, &g->lock, &deadline);
	bool open = g->opened >= n;
	pthread_mutex_unlock(&g->lock);
	return open;
}

void gate_destroy(struct gate *g)
{
	pthread_cond_destroy(&g->cond);
	pthread_mutex_destroy(&g->lock);
}

bool fd_readable(int fd)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };

	return poll(&pfd, 1, 0) == 1 && (pfd.revents & POLLIN);
}
