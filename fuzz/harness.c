/* SPDX-License-Identifier: MIT */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

#ifdef MAPREG_FAULT_INJECTION
#include "hooks/fault.h"
#endif

#ifndef FUZZ_BACKENDS
#error "meson passes FUZZ_BACKENDS, the comma-separated mapreg_backends list"
#endif

uint8_t take_byte(struct bytes *in)
{
	if (in->size == 0)
		return 0;
	in->size--;
	return *in->data++;
}

uint32_t take_u32(struct bytes *in)
{
	uint32_t v = 0;

	for (int i = 0; i < 4; i++)
		v = v << 8 | take_byte(in);
	return v;
}

bool bytes_left(const struct bytes *in)
{
	return in->size != 0;
}

/* A name of `length` bytes (not terminated: from a comma-separated list). */
static bool backend_named(const char *name, size_t length, mapreg_backend *out)
{
	char copy[16];

	if (length >= sizeof(copy))
		return false;
	memcpy(copy, name, length);
	copy[length] = '\0';
	return mapreg_backend_by_name(copy, out) == MAPREG_OK;
}

const char *fuzz_backend_name(mapreg_backend backend)
{
	const char *name = mapreg_backend_name(backend);

	return name != NULL ? name : "?";
}

bool fuzz_backend(uint8_t selector, mapreg_backend *out)
{
	const char *forced = getenv("MAPREG_FUZZ_BACKEND");
	const char *list = FUZZ_BACKENDS;
	size_t count = 1;

	if (forced != NULL && *forced != '\0')
		return backend_named(forced, strlen(forced), out);
	for (const char *p = list; *p; p++)
		count += *p == ',';
	for (size_t pick = selector % count; ; pick--) {
		size_t length = strcspn(list, ",");

		if (pick == 0)
			return backend_named(list, length, out);
		list += length + 1;
	}
}

void fuzz_plant_fault(void)
{
#ifdef MAPREG_FAULT_INJECTION
	static const char *const names[FAULT_COUNT] = {
		[FAULT_CHANNEL_OVERTAKE] = "CHANNEL_OVERTAKE",
		[FAULT_REGISTER_OVERTAKE] = "REGISTER_OVERTAKE",
		[FAULT_LOST_WAKEUP] = "LOST_WAKEUP",
		[FAULT_DOUBLE_GRANT] = "DOUBLE_GRANT",
		[FAULT_CANCEL_GRANTED] = "CANCEL_GRANTED",
		[FAULT_FOREIGN_FREE] = "FOREIGN_FREE",
		[FAULT_STATS_SKEW] = "STATS_SKEW",
		[FAULT_FREE_CHANNEL_UNCHECKED] = "FREE_CHANNEL_UNCHECKED",
		[FAULT_BOUNDARY_IGNORED] = "BOUNDARY_IGNORED",
	};
	const char *wanted = getenv("MAPREG_FUZZ_FAULT");

	if (wanted == NULL || *wanted == '\0')
		return;
	for (unsigned int i = 0; i < FAULT_COUNT; i++) {
		if (names[i] != NULL && strcmp(names[i], wanted) == 0) {
			mapreg_fault_set(1u << i);
			fprintf(stderr, "fuzz: planted FAULT_%s\n", wanted);
			return;
		}
	}
	fuzz_fail("MAPREG_FUZZ_FAULT=%s names no fault in core/hooks/fault.h", wanted);
#endif
}

bool fuzz_tracing(void)
{
	static int tracing = -1;

	if (tracing < 0)
		tracing = getenv("MAPREG_FUZZ_TRACE") != NULL;
	return tracing;
}

void fuzz_fail(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "fuzz: FAILED: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	abort();
}
