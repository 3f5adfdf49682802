/* SPDX-License-Identifier: ISC */
/*
 * The crash restart budget (see restart_gate.h). Pure: one time per pool.
 */
#include "restart_gate.h"

bool restart_gate_set(struct restart_gate *g, unsigned count, uint64_t window_us)
{
    uint64_t interval = count > 0 ? window_us / count : 0;

    if (count > 0 && interval == 0)
        interval = 1;
    /* The same budget again (a reload that left it alone) keeps what was given. */
    if (interval == g->interval_us && (count > 0 ? interval * (count - 1) : 0) == g->burst_us)
        return false;
    g->interval_us = interval;
    g->burst_us = count > 0 ? interval * (count - 1) : 0;
    g->next_us = 0;
    return true;
}

uint64_t restart_gate_take(struct restart_gate *g, uint64_t now)
{
    uint64_t at = now;

    if (g->interval_us == 0)
        return now;
    /* Up to burst_us ahead of the pace goes at once; beyond it, wait for the pace. */
    if (g->next_us > now + g->burst_us)
        at = g->next_us - g->burst_us;
    g->next_us = (g->next_us > at ? g->next_us : at) + g->interval_us;
    return at;
}
