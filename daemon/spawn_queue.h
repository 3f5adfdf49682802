/* SPDX-License-Identifier: ISC */
/*
 * Forks paced over loop passes: each spawn pass has a budget (a number of
 * forks and the time spent in them); a slot the state machine started past
 * it waits here (state starting, no process yet) for the next pass. Owns
 * the queue and the budget; knows nothing of what a turn does: worker.c,
 * the layer above, gives its turn function with spawn_queue_set_turn().
 */
#ifndef DROVER_SPAWN_QUEUE_H
#define DROVER_SPAWN_QUEUE_H

#include <stdbool.h>
#include <stdint.h>

#include "droverd.h"

/*
 * What a spawn pass does with the first waiting slot while the budget
 * lasts: it must take the slot off the queue (spawn_dequeue).
 */
void spawn_queue_set_turn(void (*turn)(struct slot *s));
/* This pass may fork once more. */
bool spawn_budget_left(void);
/* Count one fork of us microseconds against this spawn pass. */
void spawn_budget_use(uint64_t us);
/* Wait for a later pass (sets s->spawn_queued). */
void spawn_enqueue(struct slot *s);
/* Take s off the queue, if it is on it. */
void spawn_dequeue(struct slot *s);
/* The slot that waits longest, or NULL. */
struct slot *spawn_queue_first(void);

#endif
