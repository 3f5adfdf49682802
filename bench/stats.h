/* SPDX-License-Identifier: ISC */
/* Latency statistics shared by the bench tools: sort, then read nearest-rank percentiles. */
#ifndef DROVER_BENCH_STATS_H
#define DROVER_BENCH_STATS_H

#include <stddef.h>
#include <stdint.h>

/* qsort comparator for uint64_t. */
static inline int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

    return x < y ? -1 : x > y;
}

/* Nearest-rank percentile P (0-100] of sorted v[0..n); 0 when n is 0. */
static inline uint64_t pct(const uint64_t *v, size_t n, double p)
{
    size_t rank;

    if (n == 0)
        return 0;
    rank = (size_t)((p / 100.0) * (double)n + 0.999999);
    if (rank < 1)
        rank = 1;
    if (rank > n)
        rank = n;
    return v[rank - 1];
}

#endif
