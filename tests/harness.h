/* SPDX-License-Identifier: MIT */
/*
 * The contract tests' shared harness: backend selection, objects checked and
 * destroyed after every test, a recording control routine, and assertions
 * over statuses and pool statistics.
 *
 * Every test program takes `--backend locked|lockfree|default` (and
 * `--filter GLOB` to run some tests only), so the same binary checks every
 * backend; tests/meson.build registers it once per name in mapreg_backends.
 *
 * Rules for tests built on this harness:
 *  - create pools and adapters with pool_new()/adapter_new() on the test's
 *    main thread; after the test, objects_teardown() checks that every pool
 *    is quiescent with nothing held (C27) and that every adapter and pool
 *    can be destroyed (C3), and destroys them;
 *  - routines never call cmocka assertions: a failed assertion would
 *    longjmp out of the library's dispatch loop.  A routine records (struct
 *    probe), and the test asserts on the record after the call returns;
 *  - threads other than the test's main thread never assert either: they
 *    record, and the main thread asserts after joining them.
 */
#ifndef MAPREG_TEST_HARNESS_H
#define MAPREG_TEST_HARNESS_H

/* cmocka needs these before it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include <mapreg.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define container_of(ptr, type, member) \
	((type *)(void *)((char *)(ptr) - offsetof(type, member)))

/* Running a test program. */

/* The backend named by --backend (MAPREG_BACKEND_DEFAULT without one). */
extern mapreg_backend test_backend;

int harness_run(const char *group, const struct CMUnitTest *tests, size_t count,
		int argc, char **argv);
/*
 * The same, for the tests `wanted` accepts once --backend is known: a test
 * of one backend's internals is not run, rather than skipped (meson's TAP
 * reader counts cmocka's "not ok # SKIP" as a failure).
 */
int harness_run_only(const char *group, const struct CMUnitTest *tests, size_t count,
		     int argc, char **argv, bool (*wanted)(const struct CMUnitTest *test));

#define HARNESS_MAIN(group, tests)                                               \
	int main(int argc, char **argv)                                          \
	{                                                                        \
		return harness_run(group, tests, ARRAY_SIZE(tests), argc, argv); \
	}

int objects_setup(void **state);
int objects_teardown(void **state);

/* A test entry with the harness's setup and after-test checks. */
#define TEST(fn) cmocka_unit_test_setup_teardown(fn, objects_setup, objects_teardown)

/* Objects (main thread only). */

/* A pool of `registers` on the selected backend; fails the test otherwise. */
mapreg_pool *pool_new(uint32_t registers);
/* The same with run boundaries (C30). */
mapreg_pool *pool_new_bounded(uint32_t registers, uint32_t boundary);
/* An adapter with a per-request limit (0: the pool's size). */
mapreg_adapter *adapter_new(mapreg_pool *pool, mapreg_dispatch dispatch, uint32_t max);
mapreg_adapter *inline_adapter(mapreg_pool *pool);
mapreg_adapter *poll_adapter(mapreg_pool *pool);
/* What a failed create must leave in *out: it is left alone. */
#define UNTOUCHED_POOL ((mapreg_pool *)(uintptr_t)0x5e5e)
#define UNTOUCHED_ADAPTER ((mapreg_adapter *)(uintptr_t)0x5e5e)
/* Destroy through the harness: an OK destroy also forgets the object. */
mapreg_status adapter_destroy(mapreg_adapter *adapter);
mapreg_status pool_destroy(mapreg_pool *pool);
/* A transfer initialized for `adapter`. */
void xfer_init_for(mapreg_adapter *adapter, mapreg_transfer *xfer);

/* Statuses. */

void check_status(mapreg_status got, mapreg_status want, const char *call,
		  const char *file, int line);
#define assert_status(call, want) check_status((call), (want), #call, __FILE__, __LINE__)
#define assert_ok(call) assert_status(call, MAPREG_OK)

/*
 * Calls made inside MARKED() are "in progress" on this thread while they
 * run: a routine records whether it ran during one (C16: a queued grant's
 * routine runs on the thread whose call made it possible, before that call
 * returns).
 */
extern __thread int marked_calls;
#define MARKED(call)                                      \
	__extension__({                                   \
		marked_calls++;                           \
		__typeof__(call) marked_result_ = (call); \
		marked_calls--;                           \
		marked_result_;                           \
	})

/* The recording control routine. */

struct probe;
typedef void probe_hook(struct probe *p);

/*
 * The context of probe_routine().  The test sets `answer` and, optionally,
 * `then`, which runs inside the routine before it answers (embed the probe
 * in a larger struct and use container_of for more data).  The routine
 * records the rest; `order` is its 1-based place in this test's routine log.
 */
struct probe {
	const char *name;
	mapreg_action answer;
	probe_hook *then;
	void *arg;			/* for `then` */
	mapreg_status status;		/* what `then` recorded */

	atomic_uint runs;
	unsigned int order;
	mapreg_base base;
	mapreg_transfer *xfer;
	void *device;
	pthread_t thread;
	bool during_call;
};

void probe_init(struct probe *p, const char *name, mapreg_action answer);
mapreg_action probe_routine(void *device, mapreg_transfer *xfer, mapreg_base base,
			    void *context);

/* The routines run in this test, in order (thread-safe). */
unsigned int routine_log_count(void);
struct probe *routine_log_at(unsigned int i);
/* Asserts that exactly `count` routines ran, in this order. */
void check_routine_log(const char *file, int line, unsigned int count, ...);
#define assert_routine_log(count, ...) \
	check_routine_log(__FILE__, __LINE__, count, __VA_ARGS__)
#define assert_no_routine_ran() check_routine_log(__FILE__, __LINE__, 0)

/* The probe ran exactly once, inside a MARKED() call on `thread` (C16). */
void check_ran_inside_call(const struct probe *p, pthread_t thread, const char *file,
			   int line);
#define assert_ran_inside_call_on(p, thread) \
	check_ran_inside_call(p, thread, __FILE__, __LINE__)
#define assert_ran_inside_call(p) assert_ran_inside_call_on(p, pthread_self())
#define assert_ran_once(p) assert_int_equal(atomic_load(&(p)->runs), 1)
#define assert_not_run(p) assert_int_equal(atomic_load(&(p)->runs), 0)

/* Requests, each asserting MAPREG_OK. */

/* mapreg_allocate_channel with probe_routine. */
void request(mapreg_adapter *adapter, uint32_t nregs, struct probe *p);
/* Asynchronous mapreg_allocate_channel_ex with probe_routine. */
void request_ex(mapreg_adapter *adapter, mapreg_transfer *xfer, uint32_t nregs,
		struct probe *p);
/* C8 without a routine: the caller holds the channel and the run. */
mapreg_base hold(mapreg_adapter *adapter, uint32_t nregs);
/* hold() then free_adapter_object(KEEP_REGISTERS): the channel is free again. */
mapreg_base keep_run(mapreg_adapter *adapter, uint32_t nregs);
/* Ends a hold(), freeing channel and run. */
void release_hold(mapreg_adapter *adapter);
/*
 * A synchronous request with probe_routine: its status.  Asserts nothing, so
 * routines and worker threads may use it.
 */
mapreg_status try_sync(mapreg_adapter *adapter, uint32_t nregs, struct probe *p);

/*
 * Thread-safe and non-asserting (for worker threads): `cycles` synchronous
 * allocate/free cycles of `nregs` registers on `adapter`, taking turns
 * between a hold ended by free_adapter_object(DEALLOCATE), a routine
 * answering DEALLOCATE, and a routine answering KEEP_REGISTERS followed by
 * free_map_registers.  Counts calls granted, refused with
 * INSUFFICIENT_RESOURCES, and anything else (wrong status, base or run count).
 */
struct cycle_counts {
	unsigned long granted, insufficient, wrong;
};

void sync_cycles(mapreg_adapter *adapter, uint32_t nregs, unsigned long cycles,
		 struct cycle_counts *counts);

/* Statistics (C27). */

mapreg_pool_stats stats_of(const mapreg_pool *pool);
/* Every field equal, free and cached compared as their sum. */
void check_stats_equal(const mapreg_pool_stats *want, const mapreg_pool_stats *got,
		       const char *file, int line);
#define assert_stats_equal(want, got) check_stats_equal(want, got, __FILE__, __LINE__)
/* free + cached == registers - held, and nothing waits. */
void check_quiescent(const mapreg_pool *pool, const char *file, int line);
#define assert_quiescent(pool) check_quiescent(pool, __FILE__, __LINE__)
void check_waiting(const mapreg_pool *pool, uint64_t channel, uint64_t registers,
		   const char *file, int line);
#define assert_waiting(pool, channel, registers) \
	check_waiting(pool, channel, registers, __FILE__, __LINE__)
#define assert_held(pool, n) assert_int_equal(stats_of(pool).held, (n))

/*
 * C9 and friends: `call` returns MAPREG_INVALID_PARAMETER and changes
 * nothing in `pool`'s statistics but caller_errors, which rises by one.
 */
#define assert_caller_error(pool, call)                                   \
	do {                                                              \
		mapreg_pool_stats before_ = stats_of(pool);               \
		assert_status(call, MAPREG_INVALID_PARAMETER);            \
		before_.caller_errors++;                                  \
		mapreg_pool_stats after_ = stats_of(pool);                \
		check_stats_equal(&before_, &after_, __FILE__, __LINE__); \
	} while (0)

/* `call` (of any type) changes nothing in `pool`'s statistics. */
#define assert_changes_nothing(pool, call)                                \
	do {                                                              \
		mapreg_pool_stats before_ = stats_of(pool);               \
		(void)(call);                                             \
		mapreg_pool_stats after_ = stats_of(pool);                \
		check_stats_equal(&before_, &after_, __FILE__, __LINE__); \
	} while (0)

/* Threads, gates and file descriptors. */

/* Starts fn(arg) on a thread with `stack_size` bytes of stack (0: default). */
pthread_t thread_start(void *(*fn)(void *), void *arg, size_t stack_size);
void thread_join(pthread_t thread);
/*
 * Runs MARKED(call(arg)) on a new thread, joins it, stores the status and
 * returns the thread's id (to compare with probes that ran there).
 */
pthread_t marked_call_on_thread(mapreg_status (*call)(void *arg), void *arg,
				mapreg_status *status);

/*
 * A counting gate between threads: gate_open() adds one, gate_wait_for(g, n)
 * waits until it was opened n times.  Waits give up after a generous bound
 * and return false: a deadlock fails the test instead of hanging it.
 */
struct gate {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	unsigned int opened;
};

void gate_init(struct gate *g);
void gate_open(struct gate *g);
bool gate_wait_for(struct gate *g, unsigned int n);
#define gate_wait(g) gate_wait_for(g, 1)
void gate_destroy(struct gate *g);

/* Whether `fd` is readable right now (poll(2) with a zero timeout). */
bool fd_readable(int fd);

#endif /* MAPREG_TEST_HARNESS_H */
