/* SPDX-License-Identifier: ISC */
/*
 * What the fuzz targets share: the libFuzzer entry point's prototype, a check
 * that aborts (so a broken invariant is a crash the fuzzer saves), a reader
 * that takes parameters off the front of the input, and a small PRNG for
 * choices derived from the input (chunk sizes), so every run is repeatable.
 */
#ifndef DROVER_FUZZ_H
#define DROVER_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdnoreturn.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static inline noreturn void fuzz_fail(const char *what, const char *file, int line)
{
    fprintf(stderr, "%s:%d: fuzz check failed: %s\n", file, line, what);
    abort();
}

/* Like assert(), but never compiled out. */
#define FUZZ_CHECK(cond)                                                                           \
    do {                                                                                           \
        if (!(cond))                                                                               \
            fuzz_fail(#cond, __FILE__, __LINE__);                                                  \
    } while (0)

/* Parameters come off the front of the input; past its end they read as 0. */
struct fuzz_input {
    const uint8_t *p;
    size_t n;
};

static inline uint8_t fuzz_take_u8(struct fuzz_input *in)
{
    if (in->n == 0)
        return 0;
    in->n--;
    return *in->p++;
}

static inline uint32_t fuzz_take_u32(struct fuzz_input *in)
{
    uint32_t v = 0;

    for (int i = 0; i < 4; i++)
        v = v << 8 | fuzz_take_u8(in);
    return v;
}

/* xorshift32: cheap, and the same sequence for the same input. */
static inline uint32_t fuzz_rand(uint32_t *state)
{
    uint32_t x = *state != 0 ? *state : 0x9e3779b9u;

    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    *state = x;
    return x;
}

#endif
