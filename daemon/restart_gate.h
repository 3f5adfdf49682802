/* SPDX-License-Identifier: ISC */
/*
 * A pool's budget of crash restarts (crash_restart_rate = COUNT/WINDOW): the
 * restarts of workers in a crash streak, across all the pool's slots, run at
 * COUNT per WINDOW at most, evenly paced, with up to COUNT at once after a
 * calm spell (a token bucket, kept as one time in the manner of GCRA). A
 * restart past the budget is given the next free time; times are given in
 * the order they are asked for, so the slot that waits longest goes first
 * and every slot of a storming pool gets its turn. A pure module: no clock,
 * no libevent; slot.c asks it (tests/unit/test_restart_gate.c).
 */
#ifndef DROVER_RESTART_GATE_H
#define DROVER_RESTART_GATE_H

#include <stdbool.h>
#include <stdint.h>

struct restart_gate {
    uint64_t interval_us; /* WINDOW / COUNT between restarts at the full pace; 0 = no limit */
    uint64_t burst_us;    /* how far ahead of the pace restarts may run: (COUNT - 1) intervals */
    uint64_t next_us;     /* when the pace allows the next restart, were there no burst */
};

/*
 * Set the budget to count restarts per window_us (count 0: no limit). A new budget
 * forgets the restarts given and returns true (the times it gave are void: see
 * slot_fsm_gate_changed); the same one again (a reload that kept it) does not, and
 * returns false.
 */
bool restart_gate_set(struct restart_gate *g, unsigned count, uint64_t window_us);
/*
 * A crash restart is due at now: the time it may happen (now, or later when the
 * budget is spent). That time is taken: the next caller gets a later one.
 */
uint64_t restart_gate_take(struct restart_gate *g, uint64_t now);

#endif
