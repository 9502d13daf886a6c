/* SPDX-License-Identifier: MIT */
/*
 * The seam between the API layer (core/api/) and a backend (core/locked/,
 * core/lockfree/).
 *
 * The API layer validates every argument, drives the transfer state machine
 * (base/transfer.h: begin, finish, cancel's mark), runs routines and decides
 * what a routine's answer or a free means (api/answer.c).  A backend owns
 * registers, channels and queues and offers mechanisms: submit (granting at
 * once or queueing, and committing the transfer at the moment the request
 * becomes visible to cancel, its linearization point), cancel, retire a
 * request, keep the channel, end a hold (registers returned or kept as a
 * run, then the channel passed on), free a kept run, poll.  It hands
 * granted requests back on a grant_list for the API layer to run.
 *
 * Ownership of a request (struct request):
 *  - the API layer fills one in the transfer (_ex) or on its own stack
 *    (mapreg_allocate_channel) and passes it to ops->submit;
 *  - granted at submission, it runs from there;
 *  - to queue it, a backend may use the transfer's request in place only
 *    while it is sure to be done with it before the transfer is reused
 *    (C10); a stack request must be copied (`owned`, `queued`);
 *  - a granted request belongs to whoever runs its routine: the thread
 *    that submitted it, a thread's trampoline (inline dispatch) or the
 *    adapter's poll queue (poll dispatch, until ops->poll_pop hands it out);
 *  - after the routine, the API layer reads what it needs of the request,
 *    retires it (ops->retire: a backend's copy is freed), finishes the
 *    transfer (C10), and only then ends the hold (ops->keep_channel or
 *    ops->end_hold): another thread that sees the channel or registers come
 *    free may reuse the transfer at once, or free its memory.
 */
#ifndef MAPREG_BACKEND_H
#define MAPREG_BACKEND_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <urcu/list.h>

#include <mapreg.h>

struct backend_ops;

/* What every backend's pool starts with. */
struct mapreg_pool {
	const struct backend_ops *ops;
	mapreg_backend backend;			/* resolved: never DEFAULT */
	uint32_t page_size;
	uint32_t boundary;			/* C30: runs cross no multiple; 0: none */
	bool first_fit;				/* test-only placement (hooks/fault.h) */
	bool unbiased;				/* test-only: no biased channels (hooks/fault.h) */
	/*
	 * Counted by the API layer for every MAPREG_INVALID_PARAMETER it
	 * returns and every bad answer (C19, C27).  Relaxed: a statistic that
	 * orders nothing.
	 */
	atomic_uint_fast64_t caller_errors;
	/*
	 * Live adapters (C3), kept by the API layer: raised relaxed once an
	 * adapter is made (nothing to publish), lowered with release once its
	 * destroy succeeded, read with acquire by pool destroy, which then
	 * frees what those adapters used.
	 */
	atomic_uint adapters;
	atomic_uint next_adapter_id;		/* relaxed: only uniqueness matters */
};

/* What every backend's adapter starts with; fixed after creation. */
struct mapreg_adapter {
	struct mapreg_pool *pool;
	uint32_t id;				/* unique in its pool, never reused */
	uint32_t max_map_registers;		/* resolved: never 0 */
	mapreg_dispatch dispatch;
	int eventfd;				/* poll adapters only, else -1 */
};

/* One request for a channel and nregs registers. */
struct request {
	struct cds_list_head link;		/* the backend's queues */
	struct request *next;			/* grant lists */
	struct mapreg_adapter *adapter;
	void *device;
	mapreg_control_fn fn;
	void *context;
	mapreg_transfer *xfer;			/* NULL for mapreg_allocate_channel */
	mapreg_base base;			/* written when granted */
	uint32_t nregs;
	/*
	 * Backend-owned.  Atomic: the lock-free backend moves it by CAS
	 * (lockfree.h: node_move); the locked one reads and writes it relaxed
	 * under its mutex.
	 */
	_Atomic uint32_t state;
	/*
	 * While a request waits, a backend may keep it in memory of its own
	 * (a copy): `queued` then points to that copy, for cancel to find.
	 */
	_Atomic(struct request *) queued;
	bool owned;				/* a backend's copy: it frees it */
	/*
	 * The transfer's submission count (transfer.h).  Atomic, relaxed: a
	 * stale cancel may read it while the owner refills the request for a
	 * newer submission; it only compares it with the generation it read
	 * with BUSY, and reads nothing else of the request on a mismatch.
	 */
	_Atomic uint32_t generation;
};

/* Granted requests whose routines the API layer runs (inline dispatch). */
struct grant_list {
	struct request *head;
	struct request *last;
};

#define GRANT_LIST_INIT { NULL, NULL }

static inline void grant_list_append(struct grant_list *list, struct request *req)
{
	req->next = NULL;
	if (list->head == NULL)
		list->head = req;
	else
		list->last->next = req;
	list->last = req;
}

/* Moves all of `from` to the end of `to`. */
static inline void grant_list_splice(struct grant_list *to, struct grant_list *from)
{
	if (from->head == NULL)
		return;
	if (to->head == NULL)
		to->head = from->head;
	else
		to->last->next = from->head;
	to->last = from->last;
	from->head = from->last = NULL;
}

static inline struct request *grant_list_pop(struct grant_list *list)
{
	struct request *req = list->head;

	if (req != NULL)
		list->head = req->next;
	return req;
}

/* Who holds an adapter's channel, for ops->end_hold. */
enum holder {
	HOLDER_REQUEST,		/* a request whose routine returned */
	/*
	 * The same, for a request granted at submission: its routine ran
	 * inside its submitter's call on this adapter (C6, C8), which keeps
	 * the adapter alive to its end (C28).
	 */
	HOLDER_SUBMITTER,
	HOLDER_SYNC,		/* a C8 caller: mapreg_free_adapter_object */
	HOLDER_KEPT,		/* a KEEP_OBJECT answer: mapreg_free_channel */
};

/* Whether `holder` is a routine's request (its registers are the request's base). */
static inline bool holder_is_request(enum holder holder)
{
	return holder == HOLDER_REQUEST || holder == HOLDER_SUBMITTER;
}

struct backend_ops {
	mapreg_status (*pool_create)(const mapreg_pool_config *cfg, struct mapreg_pool **out);
	/* Frees the pool; called once it has no adapter left (C3). */
	void (*pool_destroy)(struct mapreg_pool *pool);
	/* Called with registers > the current size; grants go to `granted`. */
	mapreg_status (*pool_grow)(struct mapreg_pool *pool, uint32_t registers,
				   struct grant_list *granted);
	uint32_t (*pool_registers)(const struct mapreg_pool *pool);
	void (*pool_stats)(const struct mapreg_pool *pool, mapreg_pool_stats *out);

	/*
	 * The backend's adapter: `adapter_size` bytes, starting with its
	 * struct mapreg_adapter.  The API layer allocates it cache-line
	 * aligned and zeroed (adapters of different threads share no line),
	 * fills the head, and then calls adapter_init.
	 */
	size_t adapter_size;
	mapreg_status (*adapter_init)(struct mapreg_pool *pool, struct mapreg_adapter *adapter);
	/*
	 * MAPREG_OK once no thread of the library can use the adapter any more
	 * (the backend has freed what adapter_init allocated; the API layer
	 * then closes its eventfd and frees it), or MAPREG_BUSY;
	 * a busy destroy may have passed the channel on (grants to `granted`).
	 */
	mapreg_status (*adapter_destroy)(struct mapreg_adapter *adapter,
					 struct grant_list *granted);

	/*
	 * Submits a checked request.  `sync`: grant now or fail with
	 * MAPREG_INSUFFICIENT_RESOURCES.  Otherwise grant now or queue.  A
	 * request with an xfer (asynchronous: a synchronous one is BUSY already)
	 * that must wait commits its transfer (xfer_commit_submit) at the
	 * moment it becomes visible, returning MAPREG_CANCELLED if a cancel
	 * marked it first; one granted now does not commit (transfer.h).  A synchronous request commits before the
	 * backend decides, so that MAPREG_INSUFFICIENT_RESOURCES leaves the
	 * transfer BUSY for the API layer to finish.  *granted tells whether req->base is valid
	 * and the caller now runs the routine (or, sync without a routine,
	 * holds the channel: the backend records the hold).  Other requests
	 * a submission happens to grant (a channel it took and gave back)
	 * go to `others`.
	 */
	mapreg_status (*submit)(struct mapreg_adapter *adapter, struct request *req,
				bool sync, bool *granted, struct grant_list *others);
	/*
	 * A C8 hold (synchronous, no routine): the channel and `nregs`
	 * registers now, recorded as the hold that mapreg_free_adapter_object
	 * ends, with the run in *base; or MAPREG_INSUFFICIENT_RESOURCES,
	 * holding nothing.  No request: nothing outside the call names it.
	 */
	mapreg_status (*hold)(struct mapreg_adapter *adapter, uint32_t nregs, mapreg_base *base,
			      struct grant_list *others);
	/*
	 * True if the request of `generation` named by the transfer whose
	 * request is `req` was waiting and is now removed, holding nothing.
	 */
	bool (*cancel)(struct mapreg_adapter *adapter, struct request *req, uint32_t generation,
		       struct grant_list *granted);
	/*
	 * The request's routine has returned: a cancel must no longer find it,
	 * and the backend's copy, if any, is freed (after whatever grace period
	 * a stale cancel needs).  The caller does not touch `req` afterwards.
	 */
	void (*retire)(struct request *req);
	/*
	 * KEEP_OBJECT: the routine's request keeps the channel and `base`
	 * until mapreg_free_channel (C22).
	 */
	void (*keep_channel)(struct mapreg_adapter *adapter, mapreg_base base);
	/*
	 * Ends a hold of the adapter's channel: the registers go back to the
	 * pool, or with `keep_run` stay with the caller as a run for
	 * mapreg_free_map_registers (C23); then the channel passes on (C11,
	 * C12: registers first, so that register waiters are served before
	 * the channel's next request asks).  `holder` names the hold: a
	 * routine's request (its registers are `base`), or a C8 or KEEP_OBJECT
	 * hold, whose registers the backend recorded; MAPREG_INVALID_PARAMETER,
	 * changing nothing, if the channel is not held that way (C22, C24).
	 */
	mapreg_status (*end_hold)(struct mapreg_adapter *adapter, enum holder holder,
				  mapreg_base base, bool keep_run, struct grant_list *granted);
	/* Frees a kept run (C23); MAPREG_INVALID_PARAMETER unless it is one. */
	mapreg_status (*free_map_registers)(struct mapreg_adapter *adapter, mapreg_base base,
					    struct grant_list *granted);

	/* Takes the oldest pending poll-mode grant of `adapter`, or NULL. */
	struct request *(*poll_pop)(struct mapreg_adapter *adapter);
};

/*
 * A backend `name` implements every op as name_<op>: BACKEND_DECLARE(name)
 * declares them in its header, BACKEND_OPS(name, adapter type) is its
 * table.  One list for every backend, so that none can miss an op.
 */
#define BACKEND_DECLARE(name)								\
	mapreg_status name##_pool_create(const mapreg_pool_config *cfg,			\
					 struct mapreg_pool **out);			\
	void name##_pool_destroy(struct mapreg_pool *pool);				\
	mapreg_status name##_pool_grow(struct mapreg_pool *pool, uint32_t registers,	\
				       struct grant_list *granted);			\
	uint32_t name##_pool_registers(const struct mapreg_pool *pool);			\
	void name##_pool_stats(const struct mapreg_pool *pool, mapreg_pool_stats *out);	\
	mapreg_status name##_adapter_init(struct mapreg_pool *pool,			\
					  struct mapreg_adapter *adapter);		\
	mapreg_status name##_adapter_destroy(struct mapreg_adapter *adapter,		\
					     struct grant_list *granted);		\
	mapreg_status name##_submit(struct mapreg_adapter *adapter, struct request *req,	\
				    bool sync, bool *granted, struct grant_list *others); \
	mapreg_status name##_hold(struct mapreg_adapter *adapter, uint32_t nregs,	\
				  mapreg_base *base, struct grant_list *others);	\
	bool name##_cancel(struct mapreg_adapter *adapter, struct request *req,		\
			   uint32_t generation, struct grant_list *granted);		\
	void name##_retire(struct request *req);					\
	void name##_keep_channel(struct mapreg_adapter *adapter, mapreg_base base);	\
	mapreg_status name##_end_hold(struct mapreg_adapter *adapter, enum holder holder, \
				      mapreg_base base, bool keep_run,			\
				      struct grant_list *granted);			\
	mapreg_status name##_free_map_registers(struct mapreg_adapter *adapter,		\
						mapreg_base base,			\
						struct grant_list *granted);		\
	struct request *name##_poll_pop(struct mapreg_adapter *adapter)

#define BACKEND_OPS(name, adapter_type) {						\
	.pool_create = name##_pool_create,						\
	.pool_destroy = name##_pool_destroy,						\
	.pool_grow = name##_pool_grow,							\
	.pool_registers = name##_pool_registers,					\
	.pool_stats = name##_pool_stats,						\
	.adapter_size = sizeof(adapter_type),						\
	.adapter_init = name##_adapter_init,						\
	.adapter_destroy = name##_adapter_destroy,					\
	.submit = name##_submit,							\
	.hold = name##_hold,								\
	.cancel = name##_cancel,							\
	.retire = name##_retire,							\
	.keep_channel = name##_keep_channel,						\
	.end_hold = name##_end_hold,							\
	.free_map_registers = name##_free_map_registers,				\
	.poll_pop = name##_poll_pop,							\
}


/* Poll adapters' eventfd (C29), shared by the backends (eventfd.c). */
void adapter_eventfd_signal(const struct mapreg_adapter *adapter);
void adapter_eventfd_drain(const struct mapreg_adapter *adapter);

#endif /* MAPREG_BACKEND_H */
