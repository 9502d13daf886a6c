/* SPDX-License-Identifier: MIT */
/*
 * mapreg - the Windows DMA adapter-channel / map-register model for multi-core
 * user-space programs.
 *
 * A pool owns `registers` map registers, numbered 0..registers-1.  Any number
 * of adapters share a pool.  An adapter is one DMA channel: at most one
 * request holds it at a time, and it keeps its own FIFO queue of requests
 * waiting for it.  A request asks for the channel and `nregs` contiguous
 * registers; once it has both, its control routine runs and its answer
 * (a mapreg_action) says what the library frees.
 *
 * Rule numbers (C1..C29) refer to the behavioural contract,
 * docs/CONTRACT.md, which also lists the choices made where it is silent.
 *
 * Threads (C28): any thread may call any function; no registration is
 * needed.  Every function is safe to call concurrently with every other on
 * the same objects, except *_destroy on an object other threads still use.
 * No function is async-signal-safe: do not call the library from a signal
 * handler that may interrupt a call of the same thread.
 *
 * Memory ordering, with "happens before" as in C11 (a write that happens
 * before a read is visible to it, unless overwritten since).  Both backends
 * give what follows, and nothing more is promised.
 *  - Submission to routine: what the submitting thread wrote before calling
 *    mapreg_allocate_channel or _ex happens before the request's routine,
 *    wherever it runs (inline or poll, C16).  Writes made after the call
 *    began are not ordered before it: a queued request may be granted, and
 *    its routine run on another thread, before its submission returns.
 *  - Free to next grant: what a thread wrote before giving back a channel
 *    or registers happens before the routine of the next request granted
 *    them (or the return of the C8 hold that takes them).  Giving back is a
 *    routine returning with an answer that frees (its writes included),
 *    mapreg_free_channel, mapreg_free_map_registers,
 *    mapreg_free_adapter_object, and a cancel returning true for a request
 *    that held its channel while waiting for registers.  So the successive
 *    users of a register never overlap, and the routines of one adapter run
 *    one after another.
 *  - mapreg_poll runs routines on the calling thread: when it returns, the
 *    caller sees what they wrote and what happened before them (above).  A
 *    poll that returns 0 orders nothing, nor does reading the eventfd: it
 *    says when to poll, and the poll orders.
 *  - Cancel returning true: the routine never runs, so there is nothing of
 *    it to order; the transfer may be used again at once (C10).  Returning
 *    false orders nothing: the routine may not have started yet, or may be
 *    running on another thread.  To see what it wrote, synchronize with the
 *    routine itself.
 *  - mapreg_pool_get_stats orders nothing (C27): each figure may be of a
 *    different moment.  After a quiescence the caller established itself
 *    (for example by joining the threads that made calls) they are exact.
 *  - Nothing else: a call's return publishes nothing to other threads, and
 *    routines of different adapters are ordered only by the first two
 *    points (one submitted the other's request, or gave back registers the
 *    other was granted).
 *
 * How the backends give it.  Locked: one mutex per pool; a request is
 * queued, resources are given back and grants are made inside its critical
 * sections, and a routine runs after the section that granted it (inline)
 * or that took it off the poll queue (poll).  Lock-free: the channel word
 * (release store when given back, acquiring compare-and-swap by the next
 * taker); the register bitmap's words and the per-CPU magazines' guards
 * (release when registers are returned, acquire when claimed); for queued
 * requests, the node state's acq_rel compare-and-swap and liburcu's
 * cds_wfcq hand-off (a full barrier before each enqueue; the dequeuer
 * reaches the node through the link it loaded); poll_pending's acq_rel
 * count from granter to poller.
 *
 * Misuse that C cannot detect, and that the library therefore does not
 * promise to catch:
 *  - using a pool, adapter or transfer after it was destroyed, or a
 *    transfer's memory after it was freed while a request still names it;
 *  - a transfer whose bytes were copied from another transfer;
 *  - a routine that never returns.
 * Everything else a caller can pass is checked: bad arguments return
 * MAPREG_INVALID_PARAMETER, change nothing, and are counted in the pool's
 * caller_errors (C27).
 */
#ifndef MAPREG_H
#define MAPREG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The library is built with hidden visibility: what this header declares is all it exports. */
#if defined(__GNUC__)
#pragma GCC visibility push(default)
#endif

typedef enum mapreg_status {
	MAPREG_OK,			/* done */
	MAPREG_INSUFFICIENT_RESOURCES,	/* cannot be had now, or ever (C5, C8) */
	MAPREG_INVALID_PARAMETER,	/* caller error; nothing changed (C9) */
	MAPREG_CANCELLED,		/* the transfer was marked by a cancel (C21) */
	MAPREG_NO_MEMORY,		/* out of memory; nothing changed */
	MAPREG_BUSY,			/* object still in use; nothing changed (C3) */
} mapreg_status;

/* A static string naming `s` ("MAPREG_OK", ...); "MAPREG_<unknown>" otherwise. */
const char *mapreg_status_str(mapreg_status s);

/* IO_ALLOCATION_ACTION: what a control routine answers (C19). */
typedef enum mapreg_action {
	MAPREG_KEEP_OBJECT = 1,
	MAPREG_DEALLOCATE_OBJECT,
	MAPREG_DEALLOCATE_OBJECT_KEEP_REGISTERS,
} mapreg_action;

/* Where grants that were queued run their routines (C16). */
typedef enum mapreg_dispatch {
	MAPREG_DISPATCH_INLINE,		/* on the thread whose call made the grant */
	MAPREG_DISPATCH_POLL,		/* on the thread calling mapreg_poll() */
} mapreg_dispatch;

/* Which implementation serves a pool. */
typedef enum mapreg_backend {
	MAPREG_BACKEND_DEFAULT,		/* LOCKFREE; MAPREG_BACKEND=locked overrides */
	MAPREG_BACKEND_LOCKED,		/* one mutex, bitmap and FIFO lists */
	MAPREG_BACKEND_LOCKFREE,	/* per-CPU caches, atomics, RCU */
} mapreg_backend;

/* MapRegisterBase: one contiguous run of registers. */
typedef struct mapreg_base {
	uint32_t first;
	uint32_t count;
} mapreg_base;

/*
 * The DMA transfer context: caller-owned memory naming one request at a
 * time, needed for mapreg_allocate_channel_ex() and mapreg_cancel_channel().
 * Initialize it with mapreg_transfer_init() before first use; it remembers
 * the adapter it was initialized for and must not be moved or copied while
 * it names a request.  A zeroed transfer counts as uninitialized.
 */
typedef struct mapreg_transfer {
	uint64_t opaque[16];
} mapreg_transfer;

typedef struct mapreg_pool mapreg_pool;
typedef struct mapreg_adapter mapreg_adapter;

/*
 * AdapterControl: runs once the request holds the adapter's channel and its
 * `base.count` registers.  `device` and `context` are the caller's values,
 * `xfer` the transfer of an _ex request (NULL for mapreg_allocate_channel).
 * It runs on the thread described in C16, never under a library lock, and
 * may free, cancel, allocate on other adapters and poll other adapters
 * (C18); a call that would wait on the routine's own adapter returns
 * MAPREG_INVALID_PARAMETER (C9).  Its answer is applied when it returns.
 */
typedef mapreg_action (*mapreg_control_fn)(void *device, mapreg_transfer *xfer,
					   mapreg_base base, void *context);

typedef struct mapreg_pool_config {	/* zeroed fields take defaults */
	uint32_t registers;		/* 1 .. 2^24, required */
	uint32_t page_size;		/* power of two; default 4096 */
	mapreg_backend backend;		/* which implementation serves this pool */
	uint32_t boundary;		/* C30: no run crosses a multiple; 0: none */
} mapreg_pool_config;

#define MAPREG_MAX_REGISTERS (1u << 24)
#define MAPREG_DEFAULT_PAGE_SIZE 4096u

typedef struct mapreg_pool_stats {	/* C27 */
	uint64_t registers;		/* registers in the pool */
	uint64_t free;			/* free in the shared pool */
	uint64_t cached;		/* sitting in per-CPU caches (0: locked) */
	uint64_t held;			/* held by requests and callers */
	uint64_t waiting_channel;	/* queued for an adapter's channel */
	uint64_t waiting_registers;	/* holding a channel, queued for registers */
	uint64_t grants;		/* requests granted (channel + registers) */
	uint64_t cancels;		/* mapreg_cancel_channel() true returns */
	uint64_t sync_failures;		/* MAPREG_INSUFFICIENT_RESOURCES from C8/C11/C12 */
	uint64_t caller_errors;		/* MAPREG_INVALID_PARAMETER + bad answers */
} mapreg_pool_stats;

typedef struct mapreg_adapter_config {	/* zeroed fields take defaults */
	uint32_t max_map_registers;	/* per-request limit; 0 means the pool's size */
	mapreg_dispatch dispatch;	/* where queued grants run; default INLINE */
} mapreg_adapter_config;

/*
 * Pools (C1, C3, C25).
 *
 * mapreg_pool_create: MAPREG_OK and *out set; MAPREG_INVALID_PARAMETER for a
 * NULL cfg or out, registers 0 or above 2^24, a page_size that is not a
 * power of two, a boundary that is neither 0 nor a power of two up to 2^24,
 * or an unknown backend; MAPREG_NO_MEMORY.  Nothing leaks on failure and
 * *out is left alone.
 *
 * Run boundaries (C30): with `boundary` B (in registers), no run of
 * registers the pool grants crosses a multiple of B, the way a DMA tag's
 * boundary constrains segments (one registered I/O buffer, one IOMMU
 * page table).  Every adapter's limit is then at most B (C2, C5): a request
 * for more fails at once with MAPREG_INSUFFICIENT_RESOURCES.
 *
 * mapreg_pool_destroy: MAPREG_BUSY while any adapter of the pool exists,
 * MAPREG_INVALID_PARAMETER for NULL.
 *
 * mapreg_pool_grow: raises the pool to `registers` (at most 2^24) while it is
 * in use; waiters that now fit are granted and their routines dispatched as
 * C16 says, inline ones on this thread before the call returns.  Growing to
 * the current size is a no-op returning MAPREG_OK; a smaller or too large
 * number is MAPREG_INVALID_PARAMETER.  MAPREG_NO_MEMORY leaves the pool as
 * it was.
 */
mapreg_status mapreg_pool_create(const mapreg_pool_config *cfg, mapreg_pool **out);
mapreg_status mapreg_pool_destroy(mapreg_pool *pool);
mapreg_status mapreg_pool_grow(mapreg_pool *pool, uint32_t registers);

/*
 * Adapters (C2, C3, C29).
 *
 * mapreg_adapter_create: MAPREG_INVALID_PARAMETER for a NULL pool or out,
 * max_map_registers above the pool's size at the time of the call, or an
 * unknown dispatch; MAPREG_NO_MEMORY (also when a poll adapter's eventfd
 * cannot be had).  `cfg` may be NULL for all defaults.  The effective
 * per-request limit is written to *max_map_registers when that pointer is
 * not NULL.  A limit of 0 ("the pool's size") is fixed at creation: a later
 * mapreg_pool_grow() does not raise it.
 *
 * mapreg_adapter_destroy: MAPREG_BUSY, changing nothing, while the channel
 * is held, a request of the adapter is queued or granted but not yet run,
 * registers allocated through it are not freed, or (from a routine) this
 * thread is inside mapreg_poll() on it.  Closes the eventfd (the lock-free
 * backend first waits for an RCU grace period, so that no thread of the
 * library can still write it).  A routine may
 * destroy an adapter whose own free call is running it further up the
 * stack: that call no longer touches the adapter.
 */
mapreg_status mapreg_adapter_create(mapreg_pool *pool, const mapreg_adapter_config *cfg,
				    mapreg_adapter **out, uint32_t *max_map_registers);
mapreg_status mapreg_adapter_destroy(mapreg_adapter *adapter);

/*
 * mapreg_transfer_init (InitializeDmaTransferContext): binds `xfer` to
 * `adapter` and clears a cancel mark (C21).  MAPREG_INVALID_PARAMETER for a
 * NULL argument or for a transfer that still names a request (C9).
 */
mapreg_status mapreg_transfer_init(mapreg_adapter *adapter, mapreg_transfer *xfer);

#define MAPREG_SYNCHRONOUS_CALLBACK 0x1u

/*
 * mapreg_allocate_channel (AllocateAdapterChannel): asks for the channel
 * and `nregs` contiguous registers (0 means the channel only, C4).  If both
 * can be had now, `fn` runs on this thread before the call returns;
 * otherwise the request is queued and `fn` runs later as C16 says.  Either
 * way MAPREG_OK, and `fn` runs exactly once (C6).  The request has no
 * transfer and cannot be cancelled.
 *
 * Returns MAPREG_INSUFFICIENT_RESOURCES at once if `nregs` exceeds the
 * adapter's limit (C5); MAPREG_INVALID_PARAMETER for a NULL adapter or fn,
 * or a call from inside a routine of the same adapter (C9);
 * MAPREG_NO_MEMORY if the request cannot be queued.
 */
mapreg_status mapreg_allocate_channel(mapreg_adapter *adapter, void *device, uint32_t nregs,
				      mapreg_control_fn fn, void *context);

/*
 * mapreg_allocate_channel_ex (AllocateAdapterChannelEx).
 *
 * flags == 0, asynchronous (C7): as mapreg_allocate_channel(); `fn` is
 * required and `base_out` must be NULL; the request can be cancelled through
 * `xfer` until it is granted.
 *
 * flags == MAPREG_SYNCHRONOUS_CALLBACK (C8): if the channel and registers
 * cannot be had now (including when requests are queued ahead, C11, C12),
 * returns MAPREG_INSUFFICIENT_RESOURCES and holds nothing.  Otherwise, with
 * `fn`, `fn` runs on this thread before the call returns and `*base_out` is
 * written when `base_out` is not NULL; without `fn`, `*base_out` is written
 * and the caller holds the channel and the registers until
 * mapreg_free_adapter_object().
 *
 * Returns MAPREG_CANCELLED, running nothing, if `xfer` carries a cancel mark
 * (C21; the mark is cleared).  MAPREG_INVALID_PARAMETER, changing nothing,
 * for: NULL adapter; fn and base_out both NULL; base_out without the
 * synchronous flag; unknown flag bits; a NULL, uninitialized or foreign
 * xfer; an xfer that still names a request (C9, C10); a call from inside a
 * routine of the same adapter.
 */
mapreg_status mapreg_allocate_channel_ex(mapreg_adapter *adapter, void *device,
					 mapreg_transfer *xfer, uint32_t nregs, uint32_t flags,
					 mapreg_control_fn fn, void *context,
					 mapreg_base *base_out);

/*
 * mapreg_cancel_channel (CancelAdapterChannel, C20, C21): true if the
 * request named by `xfer` was still waiting, for the channel or for
 * registers: it is removed, holds nothing (a channel it held passes on, and
 * waiters this unblocks are granted and dispatched as C16 says), and its
 * routine never runs; `xfer` may be used again.  False if the routine has
 * run, is running, or is granted and about to run.  On an initialized
 * transfer that names no request (never used, or its request is over:
 * routine returned, synchronous call returned), marks it (C21) and returns
 * false, so the next _ex call with it returns MAPREG_CANCELLED.  A NULL,
 * uninitialized or foreign xfer returns false and changes nothing.
 * `device` is not checked (Windows passes the DEVICE_OBJECT for symmetry).
 */
bool mapreg_cancel_channel(mapreg_adapter *adapter, void *device, mapreg_transfer *xfer);

/*
 * Freeing (C22, C23, C24).  Each may grant waiters; their inline routines
 * run on this thread before the call returns (C16).
 *
 * mapreg_free_channel (FreeAdapterChannel): frees the channel and the
 * registers of the request that answered MAPREG_KEEP_OBJECT; otherwise
 * MAPREG_INVALID_PARAMETER.
 *
 * mapreg_free_map_registers (FreeMapRegisters): frees a run kept by
 * MAPREG_DEALLOCATE_OBJECT_KEEP_REGISTERS.  MAPREG_INVALID_PARAMETER unless
 * `base.first` starts such a run held through this adapter and both
 * `base.count` and `nregs` equal its length.
 *
 * mapreg_free_adapter_object (FreeAdapterObject): ends a synchronous hold
 * (C8 without a routine).  MAPREG_DEALLOCATE_OBJECT frees channel and
 * registers; MAPREG_DEALLOCATE_OBJECT_KEEP_REGISTERS frees the channel and
 * leaves the run to mapreg_free_map_registers().  Any other action, or no
 * open hold, is MAPREG_INVALID_PARAMETER.
 */
mapreg_status mapreg_free_channel(mapreg_adapter *adapter);
mapreg_status mapreg_free_map_registers(mapreg_adapter *adapter, mapreg_base base,
					uint32_t nregs);
mapreg_status mapreg_free_adapter_object(mapreg_adapter *adapter, mapreg_action action);

/*
 * mapreg_poll (C16): runs at most `max` pending routines of a
 * MAPREG_DISPATCH_POLL adapter on this thread and returns how many it ran.
 * Returns 0, changing nothing, for NULL, an inline adapter, or a call from
 * inside a routine of the same adapter (it would run routines of the
 * adapter whose routine is running).
 *
 * mapreg_adapter_eventfd (C29): a non-blocking eventfd, owned by the adapter,
 * that is readable while poll-mode routines are pending; mapreg_poll()
 * drains it when it empties the queue.  -1 for NULL or an inline adapter.
 */
size_t mapreg_poll(mapreg_adapter *adapter, size_t max);
int mapreg_adapter_eventfd(mapreg_adapter *adapter);

/*
 * mapreg_pool_get_stats (C27): a snapshot, taken without stopping
 * allocations.  MAPREG_INVALID_PARAMETER for NULL arguments.
 */
mapreg_status mapreg_pool_get_stats(const mapreg_pool *pool, mapreg_pool_stats *out);

/*
 * mapreg_transfer_registers (GetDmaTransferInfo, C26): how many `page_size`
 * pages the bytes [address, address + length) touch; 0 when length is 0 or
 * page_size is not a power of two.  A count that does not fit in 32 bits
 * saturates to UINT32_MAX (which no adapter accepts, C5).  A range that
 * wraps past the end of the address space is counted as if the addresses
 * continued.
 */
uint32_t mapreg_transfer_registers(uintptr_t address, size_t length, uint32_t page_size);

/* Additions beyond the contract's API (docs/CONTRACT.md). */

/* "default", "locked" or "lockfree"; NULL for a value that names no backend. */
const char *mapreg_backend_name(mapreg_backend backend);
/*
 * The backend a name above stands for (what MAPREG_BACKEND and the test,
 * stress, fuzz and bench programs' --backend accept): MAPREG_OK and *out set,
 * or MAPREG_INVALID_PARAMETER for NULL arguments or an unknown name.
 */
mapreg_status mapreg_backend_by_name(const char *name, mapreg_backend *out);

/* The backend actually serving `pool` (DEFAULT resolved); -1 for NULL. */
int mapreg_pool_backend(const mapreg_pool *pool);

/*
 * The lock-free backend frees request memory and replaced register maps
 * only after an RCU grace period, on liburcu's call_rcu thread.  This waits
 * until everything deferred so far has been freed: for leak checkers and
 * tests that count memory.  Must not be called from a control routine.
 */
void mapreg_barrier(void);

/*
 * Where those deferred frees run: the CPUs `cpus[0..count)` from now on
 * (and from the thread's start, if it has not started).  By default it may
 * run on every CPU the process had when the library was loaded.  Its grace
 * periods preempt whatever runs on its CPU for tens of microseconds about
 * every 10 ms while requests keep waiting: a program whose completions
 * (the frees that grant waiters) run on known CPUs can keep it off them
 * (BENCHMARKS.md, "Where the call_rcu thread runs").  The thread is
 * liburcu's default call_rcu thread, shared with the program's own use of
 * liburcu (memb flavour).  MAPREG_OK, or MAPREG_INVALID_PARAMETER, with
 * nothing changed, for NULL, a count of 0, or a CPU the process could not
 * use when the library was loaded.
 */
mapreg_status mapreg_deferred_cpus(const unsigned int *cpus, size_t count);

#if defined(__GNUC__)
#pragma GCC visibility pop
#endif

#ifdef __cplusplus
}
#endif

#endif /* MAPREG_H */
