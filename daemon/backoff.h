/* SPDX-License-Identifier: ISC */
/*
 * Restart pacing, as pure functions of their inputs: how long to wait before
 * the next start after a run of quick crashes, and whether a slot has
 * crashed more often than its crash_limit allows within the window.
 */
#ifndef DROVER_BACKOFF_H
#define DROVER_BACKOFF_H

#include <stdbool.h>
#include <stdint.h>

/*
 * Delay before restarting after the streak-th consecutive quick crash:
 * 0 for the first (an occasional crash restarts at once), then base,
 * 2*base, 4*base, ... capped at max. With base 0 the second crash also
 * restarts at once and the doubling starts from BACKOFF_SEED_US (2 ms, 4 ms,
 * ...), so a worker that keeps crashing is still slowed down to max.
 */
#define BACKOFF_SEED_US 1000
uint64_t backoff_next_delay(unsigned streak, uint64_t base_us, uint64_t max_us);

/* The times of the most recent crashes, enough to judge a limit of `limit`. */
struct crash_window {
    uint64_t *times; /* ring of limit + 1 entries */
    unsigned cap, len, head;
};

/* Size the window for a limit (0 = no limit); forgets earlier crashes. */
void crash_window_reset(struct crash_window *w, unsigned limit);
void crash_window_free(struct crash_window *w);
/*
 * Record a crash at now. True when more than `limit` crashes fall within
 * window_us ending at now: the slot should go fatal.
 */
bool crash_window_record(struct crash_window *w, uint64_t now, uint64_t window_us);
/* Crashes recorded within window_us before now. */
unsigned crash_window_count(const struct crash_window *w, uint64_t now, uint64_t window_us);

#endif
