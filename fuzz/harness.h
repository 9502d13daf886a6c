/* SPDX-License-Identifier: MIT */
/*
 * What the fuzz targets share: reading the input as a stream of choices,
 * choosing the backend, planting a fault (faulty builds), and failing loudly.
 */
#ifndef MAPREG_FUZZ_HARNESS_H
#define MAPREG_FUZZ_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <mapreg.h>

/* The input, read front to back; past its end every byte reads as 0. */
struct bytes {
	const uint8_t *data;
	size_t size;
};

uint8_t take_byte(struct bytes *in);
uint32_t take_u32(struct bytes *in);
bool bytes_left(const struct bytes *in);

/*
 * The backend an input runs on: MAPREG_FUZZ_BACKEND (a name) if set, else
 * the one `selector` picks among FUZZ_BACKENDS, the names meson built.
 * False if the name is unknown.
 */
bool fuzz_backend(uint8_t selector, mapreg_backend *out);
const char *fuzz_backend_name(mapreg_backend backend);

/* Plants the fault named by MAPREG_FUZZ_FAULT (faulty builds only). */
void fuzz_plant_fault(void);

/* Whether MAPREG_FUZZ_TRACE is set: log every call and event to stderr. */
bool fuzz_tracing(void);

/* A difference or broken promise: print it and abort, so libFuzzer saves the input. */
__attribute__((noreturn, format(printf, 1, 2)))
void fuzz_fail(const char *fmt, ...);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#endif /* MAPREG_FUZZ_HARNESS_H */
