/* SPDX-License-Identifier: MIT */
/*
 * A failure reported after another thread has returned and before anyone
 * joined it: what happens when a check fails while the run drains.  With
 * --expect naming the check, fail() must end the process with status 0 in
 * every build, ThreadSanitizer's included (report.c, end_process).
 */
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "stress.h"

static void *returns_at_once(void *arg)
{
	*(_Atomic pid_t *)arg = gettid();
	return NULL;
}

int main(int argc, char **argv)
{
	struct options opt;
	_Atomic pid_t tid = 0;
	pthread_t thread;
	char task[64];

	(void)argc;
	memset(&opt, 0, sizeof(opt));
	opt.argv0 = argv[0];
	opt.backend_name = "none";
	opt.expect = "selftest";
	report_init(&opt);
	if (pthread_create(&thread, NULL, returns_at_once, &tid) != 0)
		return 1;
	/* Until the kernel has reaped the thread: it has finished, unjoined. */
	while (atomic_load(&tid) == 0)
		sched_yield();
	snprintf(task, sizeof(task), "/proc/self/task/%d", (int)atomic_load(&tid));
	while (access(task, F_OK) == 0)
		sched_yield();
	fail("selftest", "reported after a thread returned, unjoined");
}
