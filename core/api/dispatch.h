/* SPDX-License-Identifier: MIT */
/*
 * Running control routines (C15, C16, C17, C19), shared by all backends.
 *
 * Every thread has a trampoline: a FIFO of granted inline requests and a
 * depth counting the library dispatch loops active on this thread.  A grant
 * made while a loop is active (a routine frees, and that grants the next
 * waiter) is appended, not run: the outermost loop runs it after the current
 * routine returns.  So a chain of 100,000 grants runs at constant stack
 * depth (C17), and every routine still runs before the outermost library
 * call on the thread returns (C16).
 *
 * A routine granted at submission runs at once, nested if need be: the
 * caller asked for it to run before its call returns (C6, C8).
 */
#ifndef MAPREG_DISPATCH_H
#define MAPREG_DISPATCH_H

#include <stddef.h>

#include "base/backend.h"

/* Whether this thread is inside a routine of `adapter` (C9). */
bool dispatch_in_routine_of(const struct mapreg_adapter *adapter);

/* Whether this thread is inside mapreg_poll(adapter) (C3: destroy is BUSY). */
bool dispatch_polling(const struct mapreg_adapter *adapter);

/* Whether this thread is inside any routine. */
bool dispatch_in_any_routine(void);

/* Runs the routine of `req`, granted at submission, on this thread. */
void dispatch_run_now(struct request *req);

/* Runs (or, inside a routine, defers) the routines of `granted`. */
void dispatch_grants(struct grant_list *granted);

/* mapreg_poll's loop: up to `max` pending routines of a poll adapter. */
size_t dispatch_poll(struct mapreg_adapter *adapter, size_t max);

#endif /* MAPREG_DISPATCH_H */
