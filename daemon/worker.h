/* SPDX-License-Identifier: ISC */
/*
 * One slot's worker process, and the slot's state machine carried out:
 * making and freeing a slot, feeding it events (slot_event), applying what
 * slot.c decides (fork through spawn.c, paced by spawn_queue.c; signal the
 * process group and the cgroup; arm the slot's one timer), watching the
 * exec, finding a worker by pid, settling an exit once its cgroup is empty
 * (and an OOM kill). The only module that changes a slot's state. It tells
 * the route, checks, recycling and transition.c (log, events) what
 * happened, and the pool layer above through the hook given to
 * worker_init(); it never includes pool.h, rollout.h or pool_settings.h.
 */
#ifndef DROVER_WORKER_H
#define DROVER_WORKER_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "droverd.h"

/*
 * Set the hooks (cgroup's empty and OOM reports, the spawn queue's turn);
 * settled(s) runs after every event carried out for s (pool.c: the
 * rollout's next step, freeing what was removed).
 */
void worker_init(void (*settled)(struct slot *s));

/* Slot index of pool p, stopped, with its timer, cgroup and output pipe. */
struct slot *slot_new(struct pool *p, unsigned index);
/* Free a slot (its process must be gone). */
void slot_free(struct slot *s);
struct slot *slot_find_pid(pid_t pid);

/* Feed one event to a slot and carry out the decision. */
void slot_event(struct slot *s, enum slot_event ev, const char *reason);
/* The pool's crash restart budget changed: a restart it held asks the new one now. */
void slot_gate_changed(struct slot *s);
/* Carry out what slot_step() decided for s (from, was_up: before the step). */
void slot_apply(struct slot *s, enum slot_state from, bool was_up, enum slot_event ev,
                struct slot_action *act, uint64_t now);
/* An event for a slot waiting in the spawn queue: a stop takes it back to stopped at once. */
void slot_event_queued(struct slot *s, enum slot_event ev, uint64_t now);
/* The slot's worker was reaped with this wait status. */
void slot_exited(struct slot *s, int wstatus);
/* Send a signal to the worker's process group. */
int slot_signal(struct slot *s, int sig);

#endif
