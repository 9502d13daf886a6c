/* SPDX-License-Identifier: MIT */
/*
 * Argument checks shared by all backends: each returns MAPREG_OK or the
 * status the contract names, and reads nothing but its arguments and the
 * fixed fields of the objects they point to.
 */
#ifndef MAPREG_CHECK_H
#define MAPREG_CHECK_H

#include "base/backend.h"

/* C1: fills *resolved with defaults applied. */
mapreg_status check_pool_config(const mapreg_pool_config *cfg, mapreg_pool_config *resolved);

/* C2: fills the fixed fields of *head (id is the backend's). */
mapreg_status check_adapter_config(struct mapreg_pool *pool, const mapreg_adapter_config *cfg,
				   struct mapreg_adapter *head);

/* C5, C7, C8, C9 for both allocate calls; xfer checks only when `ex`. */
mapreg_status check_allocate(struct mapreg_adapter *adapter, bool ex, mapreg_transfer *xfer,
			     uint32_t nregs, uint32_t flags, mapreg_control_fn fn,
			     const mapreg_base *base_out);

/*
 * The part of check_allocate that depends on the caller's thread and the
 * count, for a caller that has checked the rest itself (C5, C9).
 */
mapreg_status check_allocate_here(struct mapreg_adapter *adapter, uint32_t nregs);

/* C24: the answers mapreg_free_adapter_object accepts. */
bool check_free_adapter_object_action(mapreg_action action);

#endif /* MAPREG_CHECK_H */
