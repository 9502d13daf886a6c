/* SPDX-License-Identifier: MIT */
/*
 * A deliberate data race: two threads bump a plain counter.  Built with the
 * stress programs' flags, and run only in the ThreadSanitizer configuration,
 * where the test expects it to fail: it proves that TSan still reports races
 * in our code there (no suppression, option or build change has blinded it).
 */
#include <pthread.h>
#include <stdio.h>

static unsigned long counter;		/* racy on purpose */

static void *bump(void *arg)
{
	for (int i = 0; i < 100000; i++)
		counter++;
	return arg;
}

int main(void)
{
	pthread_t a, b;

	pthread_create(&a, NULL, bump, NULL);
	pthread_create(&b, NULL, bump, NULL);
	pthread_join(a, NULL);
	pthread_join(b, NULL);
	printf("counter %lu (a race: below 200000 is possible)\n", counter);
	return 0;
}
