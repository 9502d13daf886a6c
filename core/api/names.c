/* SPDX-License-Identifier: MIT */
/* Stateless helpers of the public API: names, and C26's page count. */
#include <string.h>

#include "api/names.h"

const char *mapreg_status_str(mapreg_status s)
{
	switch (s) {
	case MAPREG_OK:				return "MAPREG_OK";
	case MAPREG_INSUFFICIENT_RESOURCES:	return "MAPREG_INSUFFICIENT_RESOURCES";
	case MAPREG_INVALID_PARAMETER:		return "MAPREG_INVALID_PARAMETER";
	case MAPREG_CANCELLED:			return "MAPREG_CANCELLED";
	case MAPREG_NO_MEMORY:			return "MAPREG_NO_MEMORY";
	case MAPREG_BUSY:			return "MAPREG_BUSY";
	}
	return "MAPREG_<unknown>";
}

uint32_t mapreg_transfer_registers(uintptr_t address, size_t length, uint32_t page_size)
{
	if (length == 0 || !is_power_of_two(page_size))
		return 0;
	/*
	 * Split length so that nothing overflows near the top of memory:
	 * offset and the remainder are each below page_size <= 2^31.
	 */
	uint64_t offset = address & (page_size - 1);
	uint64_t tail = offset + length % page_size;
	uint64_t pages = length / page_size + (tail + page_size - 1) / page_size;
	return pages > UINT32_MAX ? UINT32_MAX : (uint32_t)pages;
}

static const char *const backend_names[] = {
	[MAPREG_BACKEND_DEFAULT] = "default",
	[MAPREG_BACKEND_LOCKED] = "locked",
	[MAPREG_BACKEND_LOCKFREE] = "lockfree",
};

#define BACKENDS (sizeof(backend_names) / sizeof(backend_names[0]))

const char *mapreg_backend_name(mapreg_backend backend)
{
	return (unsigned int)backend < BACKENDS ? backend_names[backend] : NULL;
}

mapreg_status mapreg_backend_by_name(const char *name, mapreg_backend *out)
{
	if (name == NULL || out == NULL)
		return MAPREG_INVALID_PARAMETER;
	for (unsigned int backend = 0; backend < BACKENDS; backend++) {
		if (strcmp(name, backend_names[backend]) == 0) {
			*out = (mapreg_backend)backend;
			return MAPREG_OK;
		}
	}
	return MAPREG_INVALID_PARAMETER;
}
