/* SPDX-License-Identifier: MIT */
/* The lock-free backend: per-CPU magazines, an atomic bitmap, wait-free queues, RCU.  All the API layer sees of it. */
#ifndef MAPREG_LOCKFREE_OPS_H
#define MAPREG_LOCKFREE_OPS_H

#include "base/backend.h"

extern const struct backend_ops lockfree_backend_ops;

#endif /* MAPREG_LOCKFREE_OPS_H */
