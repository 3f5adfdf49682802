/* SPDX-License-Identifier: ISC */
/* What stamp-worker sends to stamp-collect: one datagram per worker start. */
#ifndef DROVER_BENCH_STAMP_H
#define DROVER_BENCH_STAMP_H

#include <stdint.h>

struct stamp_msg {
    uint64_t mono_ns; /* CLOCK_MONOTONIC, read before main() */
    int32_t pid;
    int32_t slot; /* $DROVER_WORKER, -1 if unset */
};

#endif
