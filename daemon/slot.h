/* SPDX-License-Identifier: ISC */
/*
 * The life cycle of one worker slot as a pure state machine:
 *
 *   stopped -> starting -> running -> (stopping) -> stopped
 *   unexpected exit: -> backoff -> starting, or -> fatal past crash_limit
 *
 * A running worker counts as started ("up") once it has stayed up for
 * start_grace since its spawn, or at READY=1 with ready = notify. An exit
 * before that is a failed start (start_failures), which start, restart and
 * a rolling restart report; routing does not wait for it.
 *
 * slot_step() takes the event and the time and says what to do (spawn, send
 * a signal) and when the slot's one timer must fire next (fsm->deadline).
 * It never forks, signals or reads the clock, so every cell of the table is
 * tested without processes (tests/unit/test_slot.c).
 */
#ifndef DROVER_SLOT_H
#define DROVER_SLOT_H

#include <stdbool.h>
#include <stdint.h>

#include "backoff.h"
#include "restart_gate.h"

enum slot_state {
    SLOT_STOPPED,
    SLOT_STARTING,
    SLOT_RUNNING,
    SLOT_STOPPING,
    SLOT_BACKOFF,
    SLOT_FATAL,
};
/*
 * The number of states, for tables indexed by state. Not an enumerator, so a
 * switch over the states stays exhaustive without a default.
 */
#define SLOT_STATE__COUNT (SLOT_FATAL + 1)

enum slot_event {
    SLOT_EV_START,        /* operator or start-up: bring the slot up */
    SLOT_EV_STOP,         /* operator, scale-down or shutdown: bring it down */
    SLOT_EV_RESTART,      /* stop gracefully, then start again (not a crash) */
    SLOT_EV_SPAWN_FAILED, /* fork (or what precedes it) failed: no process */
    SLOT_EV_READY,        /* exec'd, or READY=1 with ready = notify */
    SLOT_EV_WATCHDOG,     /* WATCHDOG=1: push the watchdog deadline */
    SLOT_EV_EXITED,       /* the worker was reaped; wstatus says how */
    SLOT_EV_TIMER,        /* fsm->deadline was reached */
    SLOT_EV_FAIL,         /* the daemon judged the worker broken: kill it, count a crash */
    SLOT_EV_FAIL_STOP,    /* judged broken: stop_signal, SIGKILL after stop_timeout; a crash */
    SLOT_EV_RESET,        /* new settings (reload): forget the crash streak, start a waiting slot */
};

/* The pool settings the machine needs; filled from struct pool_config. */
struct slot_policy {
    int restart; /* enum restart_policy */
    uint64_t restart_delay_us;
    uint64_t restart_delay_max_us;
    unsigned crash_limit; /* 0 = none */
    uint64_t crash_window_us;
    bool ready_notify;
    uint64_t start_timeout_us;
    uint64_t start_grace_us; /* ready = exec: up this long after the spawn = started; 0 = at exec */
    uint64_t watchdog_us;    /* 0 = off */
    int stop_signal;
    uint64_t stop_timeout_us;
};

struct slot_fsm {
    enum slot_state state;
    bool want_up;            /* what the operator asked for */
    bool restart_after_stop; /* in stopping: start again once it exits */
    bool kill_sent;          /* in stopping: SIGKILL already sent */
    uint64_t deadline;       /* when SLOT_EV_TIMER is due; 0 = no timer */
    uint64_t started_at;     /* spawn of the current (or last) process */
    uint64_t ready_at;
    bool up;                 /* counts as started: past start_grace, or READY=1 (notify) */
    uint64_t up_at;          /* when it came to count as started */
    unsigned start_failures; /* exits (or failed spawns) before counting as started, in total */
    unsigned streak;         /* consecutive quick crashes */
    unsigned restarts;       /* spawns after the first */
    unsigned crashes;        /* exits the daemon did not ask for, in total */
    struct crash_window window;
    /*
     * The pool's crash restart budget (crash_restart_rate), or NULL: a restart after
     * a failed start or in a crash streak waits for it; gate_granted: the backoff's
     * deadline is the time the budget gave, so the restart goes at it.
     */
    struct restart_gate *gate;
    bool gate_granted;

    /* The last exit, for status. */
    bool has_exit;
    int exit_wstatus;
    uint64_t exit_at;
    bool exit_was_crash;
    const char *fail_reason; /* why the daemon killed it ("watchdog timeout"), or NULL */
    const char *pending_fail;
};

struct slot_action {
    bool spawn;        /* fork a new worker now */
    int signal;        /* send this to the worker's process group (0 = none) */
    bool became_fatal; /* the slot just went fatal */
    bool crashed;      /* this event was counted as a crash */
};

void slot_fsm_init(struct slot_fsm *f, const struct slot_policy *p);
void slot_fsm_free(struct slot_fsm *f);
/* The policy changed (reload): resize the crash window. */
void slot_fsm_policy_changed(struct slot_fsm *f, const struct slot_policy *p);
/*
 * The pool's crash restart budget changed (reload): a restart held in backoff for a
 * time the old budget gave is due at now, to ask the new one (crash_restart_rate =
 * none then restarts it at once). Returns true when the deadline moved.
 */
bool slot_fsm_gate_changed(struct slot_fsm *f, uint64_t now);

/*
 * Apply one event at time now. detail is the wait status for
 * SLOT_EV_EXITED; for SLOT_EV_FAIL, reason is a static string kept for
 * status. The result is in *act and in the new fsm fields.
 */
void slot_step(struct slot_fsm *f, const struct slot_policy *p, enum slot_event ev, int wstatus,
               const char *reason, uint64_t now, struct slot_action *act);

/* True while a process exists for the slot. */
bool slot_state_has_process(enum slot_state s);
/* The one name of each state, as status, logs and metrics show it. */
const char *slot_state_name(enum slot_state s);
const char *slot_event_name(enum slot_event e);

#endif
