/* SPDX-License-Identifier: MIT */
#include <stdlib.h>

#include "api/check.h"
#include "api/dispatch.h"
#include "api/names.h"
#include "base/transfer.h"

/* MAPREG_BACKEND=locked|lockfree in the environment picks DEFAULT's meaning. */
static mapreg_backend default_backend(void)
{
	mapreg_backend backend;

	if (mapreg_backend_by_name(getenv("MAPREG_BACKEND"), &backend) == MAPREG_OK &&
	    backend == MAPREG_BACKEND_LOCKED)
		return MAPREG_BACKEND_LOCKED;
	return MAPREG_BACKEND_LOCKFREE;
}

mapreg_status check_pool_config(const mapreg_pool_config *cfg, mapreg_pool_config *resolved)
{
	if (cfg == NULL)
		return MAPREG_INVALID_PARAMETER;
	*resolved = *cfg;
	if (resolved->registers == 0 || resolved->registers > MAPREG_MAX_REGISTERS)
		return MAPREG_INVALID_PARAMETER;
	if (resolved->page_size == 0)
		resolved->page_size = MAPREG_DEFAULT_PAGE_SIZE;
	if (!is_power_of_two(resolved->page_size))
		return MAPREG_INVALID_PARAMETER;
	if (resolved->boundary != 0 &&					/* C30 */
	    (!is_power_of_two(resolved->boundary) || resolved->boundary > MAPREG_MAX_REGISTERS))
		return MAPREG_INVALID_PARAMETER;
	switch (resolved->backend) {
	case MAPREG_BACKEND_DEFAULT:
		resolved->backend = default_backend();
		return MAPREG_OK;
	case MAPREG_BACKEND_LOCKED:
	case MAPREG_BACKEND_LOCKFREE:
		return MAPREG_OK;
	default:
		return MAPREG_INVALID_PARAMETER;
	}
}

mapreg_status check_adapter_config(struct mapreg_pool *pool, const mapreg_adapter_config *cfg,
				   struct mapreg_adapter *head)
{
	static const mapreg_adapter_config defaults;
	uint32_t registers = pool->ops->pool_registers(pool);

	if (cfg == NULL)
		cfg = &defaults;
	if (cfg->max_map_registers > registers)
		return MAPREG_INVALID_PARAMETER;
	if (cfg->dispatch != MAPREG_DISPATCH_INLINE && cfg->dispatch != MAPREG_DISPATCH_POLL)
		return MAPREG_INVALID_PARAMETER;
	head->pool = pool;
	head->id = 0;
	head->max_map_registers = cfg->max_map_registers ? cfg->max_map_registers : registers;
	if (pool->boundary != 0 && head->max_map_registers > pool->boundary)
		head->max_map_registers = pool->boundary;		/* C30 */
	head->dispatch = cfg->dispatch;
	head->eventfd = -1;
	return MAPREG_OK;
}

mapreg_status check_allocate(struct mapreg_adapter *adapter, bool ex, mapreg_transfer *xfer,
			     uint32_t nregs, uint32_t flags, mapreg_control_fn fn,
			     const mapreg_base *base_out)
{
	bool sync = flags & MAPREG_SYNCHRONOUS_CALLBACK;

	if (adapter == NULL)
		return MAPREG_INVALID_PARAMETER;
	if (flags & ~MAPREG_SYNCHRONOUS_CALLBACK)
		return MAPREG_INVALID_PARAMETER;
	if (fn == NULL && base_out == NULL)
		return MAPREG_INVALID_PARAMETER;
	if (base_out != NULL && !sync)
		return MAPREG_INVALID_PARAMETER;
	if (ex && xfer_adapter(xfer) != adapter)	/* NULL, raw or foreign */
		return MAPREG_INVALID_PARAMETER;
	return check_allocate_here(adapter, nregs);
}

mapreg_status check_allocate_here(struct mapreg_adapter *adapter, uint32_t nregs)
{
	if (dispatch_in_routine_of(adapter))		/* it would wait on itself */
		return MAPREG_INVALID_PARAMETER;
	if (nregs > adapter->max_map_registers)		/* C5 */
		return MAPREG_INSUFFICIENT_RESOURCES;
	return MAPREG_OK;
}

bool check_free_adapter_object_action(mapreg_action action)
{
	return action == MAPREG_DEALLOCATE_OBJECT ||
	       action == MAPREG_DEALLOCATE_OBJECT_KEEP_REGISTERS;
}
