/* SPDX-License-Identifier: ISC */
/*
 * Pacing the event loop while every worker is stocked. A worker that
 * answers each request with a write() of its own costs droverd, awake and
 * waiting, a wake-up, an epoll_wait and a read per reply: on two cores
 * shared with the workers that was a fifth of their CPU (bench/RESULTS.md,
 * issue 16). When every worker that can take work holds a request behind
 * the one it is on, no worker waits for droverd: the loop pauses a little
 * before its next look at the sockets and reads together what arrived.
 * The pause adapts to the workers: one step longer each time every worker
 * still had work when droverd looked again, half as long when one ran dry
 * during the pause, within [PACE_MIN_US, PACE_MAX_US]; when one ran dry
 * even during the shortest, pausing is off until PACE_CALM_PASSES stocked
 * passes in a row saw no worker run dry (workers that answer faster than
 * droverd can feed them are never held up). Nothing in flight, one request
 * on some worker, or a worker with room and nothing: no pause.
 * Pure: the loop (main.c) gives the observations and takes the pause.
 */
#ifndef DROVER_PACE_H
#define DROVER_PACE_H

#include <stdbool.h>

#define PACE_MIN_US      10
#define PACE_MAX_US      100
#define PACE_STEP_US     10
#define PACE_CALM_PASSES 8
/* droverd's timer slack (sys_set_timer_slack): a pause ends within 1 us of its time. */
#define PACE_TIMER_SLACK_NS 1000

struct pace {
    unsigned pause_us; /* the next pause; 0: pausing is off */
    bool paused;       /* the pass just run followed a pause */
    unsigned calm;     /* off: stocked passes in a row with no worker run dry */
};

void pace_init(struct pace *p);
/*
 * After a loop pass. stocked: work is in flight and every worker that can
 * take work holds more than one request; ran_dry: a worker's last request
 * in flight was answered during the pass. Returns the pause to take before
 * the next pass, in microseconds; 0 for none.
 */
unsigned pace_after_pass(struct pace *p, bool stocked, bool ran_dry);

#endif
