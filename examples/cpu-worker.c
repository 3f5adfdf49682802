/* SPDX-License-Identifier: ISC */
/*
 * cpu-worker: a CPU-bound message-mode worker. For each request it runs
 * ROUNDS rounds of a 64-bit mixing function over the request bytes and
 * answers the digest in hex, so every reply depends on its request and
 * costs real CPU time (about 50 microseconds with the default 20000
 * rounds on a current x86 core). Pin such a pool with cpu_affinity = core.
 *
 *   environment = ROUNDS=20000
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "drover_worker.h"

static uint64_t digest(const unsigned char *p, size_t len, long rounds)
{
    uint64_t h = 0xcbf29ce484222325ULL;

    for (size_t i = 0; i < len; i++)
        h = (h ^ p[i]) * 0x100000001b3ULL;
    for (long r = 0; r < rounds; r++) {
        h ^= h >> 33;
        h *= 0xff51afd7ed558ccdULL;
        h ^= h >> 33;
    }
    return h;
}

int main(void)
{
    struct drover_worker w;
    const unsigned char *req;
    size_t len;
    const char *env = getenv("ROUNDS");
    long rounds = env != NULL ? atol(env) : 20000;
    int rc;

    if (drover_worker_init(&w) != 0)
        return 1;
    while ((rc = drover_worker_next(&w, &req, &len)) == 1) {
        char out[17];
        snprintf(out, sizeof(out), "%016llx", (unsigned long long)digest(req, len, rounds));
        if (drover_worker_reply(&w, out, 16) != 0)
            break;
    }
    drover_worker_free(&w);
    return rc < 0 ? 1 : 0;
}
