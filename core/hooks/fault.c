/* SPDX-License-Identifier: MIT */
/* Built only into the test-only mapreg_faulty library: see fault.h. */
#include "hooks/fault.h"

atomic_uint mapreg_fault_mask;

void mapreg_fault_set(unsigned int mask)
{
	atomic_store_explicit(&mapreg_fault_mask, mask, memory_order_relaxed);
}

void (*mapreg_pause_hook)(enum mapreg_pause where);
