/* SPDX-License-Identifier: MIT */
/*
 * Poll adapters' eventfd (C29), written by whichever backend grants and
 * drained by whichever pops: readable while a grant is pending.
 */
#include <errno.h>
#include <unistd.h>

#include "base/backend.h"

void adapter_eventfd_signal(const struct mapreg_adapter *adapter)
{
	uint64_t one = 1;

	/* Cannot fail short of a counter at 2^64-2; EAGAIN would mean readable. */
	while (write(adapter->eventfd, &one, sizeof(one)) < 0 && errno == EINTR)
		;
}

void adapter_eventfd_drain(const struct mapreg_adapter *adapter)
{
	uint64_t count;

	while (read(adapter->eventfd, &count, sizeof(count)) < 0 && errno == EINTR)
		;
}
