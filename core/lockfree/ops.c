/* SPDX-License-Identifier: MIT */
/* The lock-free backend's ops table (base/backend.h). */
#include "lockfree/lockfree.h"
#include "lockfree/ops.h"

_Static_assert(offsetof(struct lf_adapter, head) == 0, "the API layer allocates adapters");

const struct backend_ops lockfree_backend_ops = BACKEND_OPS(lf, struct lf_adapter);
