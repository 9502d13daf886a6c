/* SPDX-License-Identifier: MIT */
/*
 * An experiment's LD_PRELOAD object, not part of the library: it takes the
 * kernel out of a poll adapter's eventfd (C29), to tell what a poll row
 * costs in the library from what it costs in the kernel and after it.
 *
 * The library writes and drains the eventfd with syscall(2) (core/base/
 * eventfd.c); this object interposes syscall().  For a write or read of an
 * eventfd, by EVENTFD_STUB:
 *   none     no system call: the write "succeeds", the read returns 1;
 *   getppid  the same, after getppid(2) in place of the call: a kernel
 *            entry and exit that does next to nothing;
 *   (unset)  the real call.
 * Every other system call goes to glibc's syscall().  Nothing waits on the
 * eventfd in the runs it is for (a reactor that busy-polls, and
 * bench/cycles), so that a stubbed eventfd is never read by poll(2).
 * Single-threaded use of the eventfds (the fd table below is a cache, not
 * synchronised): one reactor.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

enum stub { STUB_UNSET = -1, STUB_REAL, STUB_NONE, STUB_GETPPID };

static enum stub stub = STUB_UNSET;
static signed char eventfd_seen[1024];	/* 0 unknown, 1 an eventfd, -1 not */

static bool is_eventfd(long fd)
{
	if (fd < 0 || fd >= (long)sizeof(eventfd_seen))
		return false;
	if (eventfd_seen[fd] == 0) {
		char path[64], link[128];

		snprintf(path, sizeof(path), "/proc/self/fd/%ld", fd);
		ssize_t n = readlink(path, link, sizeof(link) - 1);
		link[n > 0 ? n : 0] = '\0';
		eventfd_seen[fd] = strstr(link, "[eventfd]") != NULL ? 1 : -1;
	}
	return eventfd_seen[fd] == 1;
}

long syscall(long number, ...)
{
	static long (*real)(long, ...);
	va_list ap;
	long a[6];

	va_start(ap, number);
	for (int i = 0; i < 6; i++)
		a[i] = va_arg(ap, long);
	va_end(ap);
	if (stub == STUB_UNSET) {
		const char *how = getenv("EVENTFD_STUB");

		stub = how == NULL ? STUB_REAL : strcmp(how, "none") == 0 ? STUB_NONE
					       : strcmp(how, "getppid") == 0 ? STUB_GETPPID : STUB_REAL;
	}
	if (stub != STUB_REAL && (number == SYS_write || number == SYS_read) && is_eventfd(a[0])) {
		if (stub == STUB_GETPPID)
			getppid();	/* glibc's wrapper: a plain system call, no cache */
		if (number == SYS_read)
			*(uint64_t *)a[1] = 1;
		return 8;
	}
	if (real == NULL)
		real = (long (*)(long, ...))dlsym(RTLD_NEXT, "syscall");
	return real(number, a[0], a[1], a[2], a[3], a[4], a[5]);
}
