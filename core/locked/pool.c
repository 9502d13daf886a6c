/* SPDX-License-Identifier: MIT */
/* Pools and adapters of the locked backend: creation, growth (C25), destruction (C3). */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "locked/locked.h"

/* Pools. */

static void pool_free(struct locked_pool *pool)
{
	free(pool->bitmap);
	free(pool->run_length);
	free(pool->run_owner);
	free(pool);
}

/* Register arrays for `registers`, holding the contents of `pool`'s. */
static bool arrays_resize(struct locked_pool *pool, uint32_t registers)
{
	uint64_t *bitmap = calloc(bitmap_words(registers), sizeof(*bitmap));
	uint32_t *run_length = calloc(registers, sizeof(*run_length));
	uint32_t *run_owner = calloc(registers, sizeof(*run_owner));

	if (bitmap == NULL || run_length == NULL || run_owner == NULL) {
		free(bitmap);
		free(run_length);
		free(run_owner);
		return false;
	}
	if (pool->registers != 0) {
		memcpy(bitmap, pool->bitmap, bitmap_words(pool->registers) * sizeof(*bitmap));
		memcpy(run_length, pool->run_length, pool->registers * sizeof(*run_length));
		memcpy(run_owner, pool->run_owner, pool->registers * sizeof(*run_owner));
	}
	free(pool->bitmap);
	free(pool->run_length);
	free(pool->run_owner);
	pool->bitmap = bitmap;
	pool->run_length = run_length;
	pool->run_owner = run_owner;
	pool->free += registers - pool->registers;
	pool->registers = registers;
	return true;
}

mapreg_status locked_pool_create(const mapreg_pool_config *cfg, struct mapreg_pool **out)
{
	struct locked_pool *pool = calloc(1, sizeof(*pool));

	if (pool == NULL)
		return MAPREG_NO_MEMORY;
	if (!arrays_resize(pool, cfg->registers)) {
		pool_free(pool);
		return MAPREG_NO_MEMORY;
	}
	pthread_mutex_init(&pool->lock, NULL);
	CDS_INIT_LIST_HEAD(&pool->register_waiters);
	*out = &pool->head;
	return MAPREG_OK;
}

void locked_pool_destroy(struct mapreg_pool *head)
{
	struct locked_pool *pool = pool_of(head);

	pthread_mutex_destroy(&pool->lock);
	pool_free(pool);
}

mapreg_status locked_pool_grow(struct mapreg_pool *head, uint32_t registers,
				      struct grant_list *granted)
{
	struct locked_pool *pool = pool_of(head);
	mapreg_status status = MAPREG_OK;

	pool_lock(pool);
	if (registers < pool->registers)
		status = MAPREG_INVALID_PARAMETER;	/* a concurrent grow won */
	else if (registers > pool->registers && !arrays_resize(pool, registers))
		status = MAPREG_NO_MEMORY;
	else
		locked_serve_register_waiters(pool, granted);	/* C25 */
	pool_unlock(pool);
	return status;
}

uint32_t locked_pool_registers(const struct mapreg_pool *head)
{
	struct locked_pool *pool = pool_of(head);

	pool_lock(pool);
	uint32_t registers = pool->registers;
	pool_unlock(pool);
	return registers;
}

void locked_pool_stats(const struct mapreg_pool *head, mapreg_pool_stats *out)
{
	struct locked_pool *pool = pool_of(head);

	pool_lock(pool);
	*out = (mapreg_pool_stats){
		.registers = pool->registers,
		.free = pool->free,
		.cached = 0,
		.held = pool->registers - pool->free,
		.waiting_channel = pool->waiting_channel,
		.waiting_registers = pool->waiting_registers,
		.grants = pool->grants,
		.cancels = pool->cancels,
		.sync_failures = pool->sync_failures,
	};
	pool_unlock(pool);
}

/* Adapters. */

mapreg_status locked_adapter_init(struct mapreg_pool *head, struct mapreg_adapter *fields)
{
	struct locked_adapter *adapter = adapter_of(fields);

	adapter->channel = CHANNEL_FREE;
	CDS_INIT_LIST_HEAD(&adapter->channel_waiters);
	CDS_INIT_LIST_HEAD(&adapter->poll_ready);
	return MAPREG_OK;
}

mapreg_status locked_adapter_destroy(struct mapreg_adapter *head,
					    struct grant_list *granted)
{
	struct locked_pool *pool = pool_of_adapter(head);
	struct locked_adapter *adapter = adapter_of(head);

	pool_lock(pool);
	bool busy = adapter->channel != CHANNEL_FREE || adapter->runs_kept != 0 ||
		    !cds_list_empty(&adapter->channel_waiters) ||
		    !cds_list_empty(&adapter->poll_ready);
	pool_unlock(pool);
	/* Grants (eventfd writes) happen under the lock: none can follow. */
	return busy ? MAPREG_BUSY : MAPREG_OK;		/* C3 */
}
