/* SPDX-License-Identifier: MIT */
/* Stateless helpers of the public API: status names and C26's page count. */
#include "check.h"

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
