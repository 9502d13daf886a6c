/* SPDX-License-Identifier: MIT */
/*
 * Poll adapters' eventfd (C29), written by whichever backend grants and
 * drained by whichever pops: readable while a grant is pending.
 *
 * Raw system calls, not read(2) and write(2) through glibc: those are
 * cancellation points, so a thread with a cancellation pending would be
 * cancelled inside the library, between a grant and its signal (the locked
 * backend signals under its mutex, which would stay locked), and glibc
 * wraps each in two atomic instructions to enable and disable
 * asynchronous cancellation.  tests/pool.c checks the first.
 */
#include <errno.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "base/backend.h"

void adapter_eventfd_signal(const struct mapreg_adapter *adapter)
{
	uint64_t one = 1;

	/* Cannot fail short of a counter at 2^64-2; EAGAIN would mean readable. */
	while (syscall(SYS_write, adapter->eventfd, &one, sizeof(one)) < 0 && errno == EINTR)
		;
}

void adapter_eventfd_drain(const struct mapreg_adapter *adapter)
{
	uint64_t count;

	while (syscall(SYS_read, adapter->eventfd, &count, sizeof(count)) < 0 && errno == EINTR)
		;
}
