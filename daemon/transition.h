/* SPDX-License-Identifier: ISC */
/*
 * What a slot's change of state tells the operator: the log line of a
 * backoff or a fatal slot, the event in the ring (drover events) with its
 * cause, and the words for how a worker ended or failed to start (status,
 * start, restart, a halted rollout). Reads slots and pools; changes nothing
 * but a slot's event_cause. Calls events.c only; worker.c calls it at every
 * transition, rollout.c and pool.c name the cause of what they ask.
 */
#ifndef DROVER_TRANSITION_H
#define DROVER_TRANSITION_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "droverd.h"
#include "events.h"

/* The next slot_event() is for this cause (a recycle, a rollout's restart), not the event's own. */
void slot_cause_hint(enum event_cause c);
/* Remember why a stop or restart was asked, for the event its exit records later. */
void slot_note_cause(struct slot *s, enum slot_event ev);
/* Log a slot that went fatal or into backoff. */
void slot_log_transition(struct slot *s, enum slot_state from, const struct slot_action *act);
/*
 * A change of state goes into the event ring, with its cause; exit_pid is
 * the reaped worker's pid for SLOT_EV_EXITED (s->pid is already 0 then).
 */
void slot_record_event(struct slot *s, enum slot_state from, enum slot_event ev,
                       const struct slot_action *act, uint64_t now, pid_t exit_pid);

/* "exit 1", "killed by KILL", "spawn failed", for status. */
void describe_wait_status(int wstatus, char *buf, size_t bufsz);
/*
 * Why the slot's last process did not come to count as started, for start,
 * restart and a halted rollout: "exited with status 7 within start_grace (1s)".
 */
void slot_describe_start_failure(const struct slot *s, char *buf, size_t bufsz);

#endif
