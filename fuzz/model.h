/* SPDX-License-Identifier: MIT */
/*
 * An executable model of docs/CONTRACT.md: rules C1..C29 and the choices it
 * lists, for one thread, small pools and a handful of adapters and
 * transfers.  It is independent of the library: it uses only the public
 * types of mapreg.h.
 *
 * What the model does not decide.  The contract leaves open which registers
 * a request gets.  The model learns a run's position when the library shows
 * it (the base passed to the routine, or *base_out of a synchronous hold) and
 * checks only what the contract promises: the count requested, inside the
 * pool, overlapping no other held run.  Until then the run is "unknown":
 * held, counted, but not placed.  Whether a run of n registers fits is then
 * three-valued: NO when no free stretch of the placed registers is long
 * enough (unknown runs only take more), YES when a free stretch is long
 * enough whatever the unknown runs do, and MAYBE otherwise.  A MAYBE is
 * answered by a model_oracle; the checker (api_sequence.c) runs each answer
 * as a separate candidate state and keeps the candidates that agree with
 * what the library is seen to do next.
 *
 * How it is driven.  Every API call is model_call(), which makes the call's
 * decisions and pushes a frame standing for the library's activation on the
 * thread.  model_step() then says what the library must do next in that
 * activation: run a request's routine (MODEL_RUN) or return (MODEL_RETURN,
 * with the expected result).  Routines run as dispatch is specified (C16,
 * C17): a grant possible at submission runs at once; grants made by frees,
 * cancels, growth and routine answers queue on the thread's pending FIFO (or
 * an adapter's poll queue) and run in the outermost dispatch loop on the
 * thread, step after step (one step's grants in any order among themselves,
 * see model.c).  model_routine_returned() applies a routine's answer (C19).
 */
#ifndef MAPREG_FUZZ_MODEL_H
#define MAPREG_FUZZ_MODEL_H

#include <stdbool.h>
#include <stdint.h>

#include <mapreg.h>

#define MODEL_ADAPTERS 4
#define MODEL_XFERS 4
#define MODEL_REQUESTS 128		/* request ids 1..127; 0 is none */
#define MODEL_MAX_REGISTERS 64		/* placed registers fit one word */
#define MODEL_RUNS (MODEL_MAX_REGISTERS + 1)	/* run ids 1..64; 0 is none */
#define MODEL_FRAMES 32
#define MODEL_NONE 0xffu		/* a NULL adapter or transfer */

enum model_call_kind {
	MC_ADAPTER_CREATE,
	MC_ADAPTER_DESTROY,
	MC_TRANSFER_INIT,
	MC_TRANSFER_SCRIBBLE,		/* caller zeroes or garbles its memory */
	MC_ALLOCATE,			/* mapreg_allocate_channel */
	MC_ALLOCATE_EX,
	MC_CANCEL,
	MC_FREE_CHANNEL,
	MC_FREE_MAP_REGISTERS,
	MC_FREE_ADAPTER_OBJECT,
	MC_POLL,
	MC_GROW,
	MC_POOL_DESTROY,		/* only while adapters exist: BUSY */
	MC_STATS_NULL,			/* mapreg_pool_get_stats(pool, NULL) */
};

/* One API call; `adapter` and `xfer` are slots, MODEL_NONE for NULL. */
struct model_call {
	enum model_call_kind kind;
	uint8_t adapter;
	uint8_t xfer;
	uint8_t req;			/* the new request's id (allocations) */
	bool fn;			/* a routine is passed */
	bool base_out;			/* a base_out pointer is passed */
	bool cfg_null;			/* adapter create with cfg NULL */
	uint32_t nregs;
	uint32_t flags;
	uint32_t action;
	uint32_t registers;		/* grow */
	uint32_t limit;			/* adapter create */
	uint32_t dispatch;		/* adapter create */
	mapreg_base base;		/* free_map_registers */
	uint64_t max;			/* poll */
};

enum model_event_kind { MODEL_RUN, MODEL_RETURN };

struct model_event {
	enum model_event_kind kind;
	uint8_t req;			/* MODEL_RUN */
	uint64_t result;		/* MODEL_RETURN: status, poll count or bool */
};

/* Answers MAYBE fits: bit i of `bits` answers the i-th MAYBE. */
struct model_oracle {
	uint32_t bits;
	uint8_t used;
};

struct model_fifo {
	uint8_t head, tail;		/* request ids, linked through next */
};

struct model_request {
	uint8_t state;
	uint8_t adapter;
	uint8_t xfer;
	uint8_t run;			/* 0: holds no registers */
	uint8_t next;
	bool fn;
	uint32_t nregs;
	uint32_t batch;			/* which step's grants it was among */
};

struct model_run {
	bool used;
	bool known;			/* placed: first is the library's */
	bool kept;			/* left to the caller (C19, C24) */
	uint8_t adapter;
	uint32_t first, count;
};

struct model_adapter {
	bool exists;
	uint8_t dispatch;
	uint8_t channel;		/* enum model_channel */
	uint8_t holder;			/* request holding the channel */
	uint8_t run;			/* KEPT or SYNC hold's run */
	uint32_t limit;
	uint32_t kept_runs;
	struct model_fifo channel_queue;
	struct model_fifo poll_queue;
};

struct model_xfer {
	uint8_t state;			/* enum model_xfer_state */
	uint8_t adapter;
	uint8_t req;
};

struct model_frame {
	uint8_t kind, phase, req, adapter;
	uint64_t max, ran;
	uint64_t result;
};

struct model {
	uint32_t registers;
	uint32_t boundary;		/* C30: 0, or no run crosses a multiple of it */
	uint32_t held;			/* placed and unknown runs */
	uint64_t placed;		/* bitmap of placed held registers */
	uint64_t grants, cancels, sync_failures, caller_errors;
	uint32_t adapters;
	struct model_fifo register_queue;	/* C12 */
	struct model_fifo pending;		/* the thread's inline grants */
	uint32_t batches;			/* steps that appended to pending */
	uint32_t depth;				/* dispatch loops on the thread */
	uint32_t nframes, nrunning;
	struct model_frame frame[MODEL_FRAMES];
	uint8_t running[MODEL_FRAMES];		/* adapters whose routines run */
	struct model_adapter adapter[MODEL_ADAPTERS];
	struct model_xfer xfer[MODEL_XFERS];
	struct model_run run[MODEL_RUNS];
	struct model_request req[MODEL_REQUESTS];
};

void model_init(struct model *m, uint32_t registers, uint32_t boundary);

/* Makes the call's decisions and pushes its frame. */
void model_call(struct model *m, const struct model_call *call, struct model_oracle *oracle);

/*
 * What the library does next in the innermost call: run a routine or return.
 * `seen` is the request whose routine the library ran (0 if none): among the
 * grants of one step, any may run first (see model.c).
 */
struct model_event model_step(struct model *m, uint8_t seen);

/*
 * The library shows where request `req`'s run lies (routine base, or a
 * synchronous hold's *base_out): false if that breaks C4 or overlaps.
 */
bool model_reveal(struct model *m, uint8_t req, mapreg_base base);

/* A routine answered `action` (any value, C19). */
void model_routine_returned(struct model *m, uint8_t req, uint32_t action,
			    struct model_oracle *oracle);

/* The counters C27 promises; `cached` is the library's to choose. */
void model_stats(const struct model *m, mapreg_pool_stats *out);

/* Queries the checker uses to pick arguments and explain differences. */
bool model_xfer_names_request(const struct model *m, uint8_t xfer);
bool model_poll_pending(const struct model *m, uint8_t adapter);
/* Whether the model's state holds no grant, hold, kept run or waiter. */
bool model_quiescent(const struct model *m);
const char *model_call_name(enum model_call_kind kind);

#endif /* MAPREG_FUZZ_MODEL_H */
