/* SPDX-License-Identifier: ISC */
#include "backoff.h"

#include <stdlib.h>

#include "xmalloc.h"

uint64_t backoff_next_delay(unsigned streak, uint64_t base_us, uint64_t max_us)
{
    /* With restart_delay = 0 the doubling still needs something to double. */
    uint64_t delay = base_us > 0 ? base_us : BACKOFF_SEED_US;

    if (streak <= 1)
        return streak == 0 ? 0 : (base_us < max_us ? base_us : max_us);
    for (unsigned i = 1; i < streak; i++) {
        if (delay > max_us / 2) /* doubling would pass the cap (or overflow) */
            return max_us;
        delay *= 2;
    }
    return delay < max_us ? delay : max_us;
}

void crash_window_reset(struct crash_window *w, unsigned limit)
{
    free(w->times);
    w->times = limit > 0 ? xcalloc(limit + 1, sizeof(*w->times)) : NULL;
    w->cap = limit > 0 ? limit + 1 : 0;
    w->len = 0;
    w->head = 0;
}

void crash_window_free(struct crash_window *w)
{
    free(w->times);
    w->times = NULL;
    w->cap = w->len = w->head = 0;
}

bool crash_window_record(struct crash_window *w, uint64_t now, uint64_t window_us)
{
    if (w->cap == 0)
        return false;
    w->times[w->head] = now;
    w->head = (w->head + 1) % w->cap;
    if (w->len < w->cap)
        w->len++;
    if (w->len < w->cap)
        return false;
    /* The ring is full: the oldest of the last limit+1 crashes is at head. */
    return now - w->times[w->head] < window_us;
}

unsigned crash_window_count(const struct crash_window *w, uint64_t now, uint64_t window_us)
{
    unsigned n = 0;

    for (unsigned i = 0; i < w->len; i++)
        if (now - w->times[i] < window_us)
            n++;
    return n;
}
