#include <mapreg.h>
#include <stdio.h>

static mapreg_action start_dma(void *device, mapreg_transfer *xfer, mapreg_base base, void *name)
{
	printf("%s: registers %u..%u\n", (char *)name, base.first, base.first + base.count - 1);
	return MAPREG_DEALLOCATE_OBJECT;	/* transfer started and done: free all */
}

int main(void)
{
	mapreg_pool_config config = { .registers = 64 };
	mapreg_pool *pool;
	mapreg_adapter *adapter;
	mapreg_transfer hold, read, write;
	mapreg_base held;

	mapreg_pool_create(&config, &pool);
	mapreg_adapter_create(pool, NULL, &adapter, NULL);
	mapreg_transfer_init(adapter, &hold);
	mapreg_transfer_init(adapter, &read);
	mapreg_transfer_init(adapter, &write);
	/* Take the channel synchronously, so that the next two requests wait. */
	mapreg_allocate_channel_ex(adapter, NULL, &hold, 8, MAPREG_SYNCHRONOUS_CALLBACK,
				   NULL, NULL, &held);
	mapreg_allocate_channel_ex(adapter, NULL, &read, 16, 0, start_dma, "read", NULL);
	mapreg_allocate_channel_ex(adapter, NULL, &write, 4, 0, start_dma, "write", NULL);
	if (mapreg_cancel_channel(adapter, NULL, &write))	/* it was waiting */
		printf("write: cancelled, its routine will never run\n");
	/* Freeing the hold grants "read": its routine runs here, before this returns. */
	mapreg_free_adapter_object(adapter, MAPREG_DEALLOCATE_OBJECT);
	mapreg_adapter_destroy(adapter);
	return mapreg_pool_destroy(pool) == MAPREG_OK ? 0 : 1;
}
