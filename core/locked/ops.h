/* SPDX-License-Identifier: MIT */
/* The locked backend: one mutex, a first-fit bitmap, FIFO lists.  All the API layer sees of it. */
#ifndef MAPREG_LOCKED_OPS_H
#define MAPREG_LOCKED_OPS_H

#include "base/backend.h"

extern const struct backend_ops locked_backend_ops;

#endif /* MAPREG_LOCKED_OPS_H */
