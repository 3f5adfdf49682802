/* SPDX-License-Identifier: ISC */
/*
 * The slot state machine (see slot.h). Owns the meaning of every state and
 * event; touches nothing outside struct slot_fsm.
 */
#include "slot.h"

#include <assert.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>

#include "config.h"

/* After a failed fork, the next try waits at least this long. */
#define SPAWN_RETRY_MIN_US 10000

void slot_fsm_init(struct slot_fsm *f, const struct slot_policy *p)
{
    memset(f, 0, sizeof(*f));
    f->state = SLOT_STOPPED;
    crash_window_reset(&f->window, p->crash_limit);
}

void slot_fsm_free(struct slot_fsm *f)
{
    crash_window_free(&f->window);
}

void slot_fsm_policy_changed(struct slot_fsm *f, const struct slot_policy *p)
{
    if (f->window.cap != (p->crash_limit ? p->crash_limit + 1 : 0))
        crash_window_reset(&f->window, p->crash_limit);
}

bool slot_fsm_gate_changed(struct slot_fsm *f, uint64_t now)
{
    if (f->state != SLOT_BACKOFF || !f->gate_granted)
        return false;
    /* The time the old budget gave is void: due now, to ask the new one. */
    f->gate_granted = false;
    f->deadline = now;
    return true;
}

bool slot_state_has_process(enum slot_state s)
{
    return s == SLOT_STARTING || s == SLOT_RUNNING || s == SLOT_STOPPING;
}

const char *slot_state_name(enum slot_state s)
{
    static const char *const names[] = {
        [SLOT_STOPPED] = "stopped",   [SLOT_STARTING] = "starting", [SLOT_RUNNING] = "running",
        [SLOT_STOPPING] = "stopping", [SLOT_BACKOFF] = "backoff",   [SLOT_FATAL] = "fatal",
    };
    static_assert(sizeof(names) / sizeof(names[0]) == SLOT_STATE__COUNT, "a state lacks its name");
    return names[s];
}

const char *slot_event_name(enum slot_event e)
{
    static const char *const names[] = {"start", "stop",      "restart", "spawn-failed",
                                        "ready", "watchdog",  "exited",  "timer",
                                        "fail",  "fail-stop", "reset"};
    static_assert(sizeof(names) / sizeof(names[0]) == SLOT_EV_RESET + 1, "an event lacks its name");
    return names[e];
}

static void spawn_now(struct slot_fsm *f, const struct slot_policy *p, uint64_t now,
                      struct slot_action *act)
{
    if (f->started_at != 0 || f->has_exit)
        f->restarts++;
    f->state = SLOT_STARTING;
    f->started_at = now;
    f->ready_at = 0;
    f->up = false;
    f->up_at = 0;
    f->kill_sent = false;
    f->restart_after_stop = false;
    /* fail_reason stays: it belongs to the last exit, which status still shows. */
    f->pending_fail = NULL;
    f->deadline = p->ready_notify ? now + p->start_timeout_us : 0;
    act->spawn = true;
}

static void begin_stop(struct slot_fsm *f, const struct slot_policy *p, uint64_t now,
                       struct slot_action *act)
{
    f->state = SLOT_STOPPING;
    f->kill_sent = false;
    f->deadline = now + p->stop_timeout_us;
    act->signal = p->stop_signal;
}

/* Should an exit the daemon did not ask for lead to a restart? */
static bool wants_restart(const struct slot_policy *p, int wstatus, bool judged_failed)
{
    /* A worker the daemon judged broken failed, even if it raced the SIGKILL with exit 0. */
    bool clean = WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0 && !judged_failed;

    switch (p->restart) {
    case RESTART_NEVER:
        return false;
    case RESTART_ON_FAILURE:
        return !clean;
    default:
        return true;
    }
}

/*
 * A restart after a failed start (an exit before the worker counted as started:
 * start_grace, or READY=1) or within a crash streak (the second quick crash in a
 * row or later) is due now: how long the pool's crash restart budget makes it
 * wait. A crash after a healthy run never waits, and while the budget has room
 * (it holds COUNT at once) nothing does: a single crash restarts at once.
 */
static uint64_t gate_wait(struct slot_fsm *f, uint64_t now)
{
    uint64_t at;

    if (f->gate == NULL || (f->up && f->streak < 2))
        return 0;
    at = restart_gate_take(f->gate, now);
    f->gate_granted = at > now;
    return at - now;
}

/*
 * The worker went away without being asked to (or never started). Count it,
 * then restart at once, back off, go fatal, or stay stopped per policy.
 */
static void on_crash(struct slot_fsm *f, const struct slot_policy *p, bool restart,
                     uint64_t min_delay, uint64_t now, struct slot_action *act)
{
    bool healthy = f->started_at != 0 && now - f->started_at >= p->restart_delay_max_us;
    bool clean = WIFEXITED(f->exit_wstatus) && WEXITSTATUS(f->exit_wstatus) == 0;

    f->deadline = 0;
    if (!restart) {
        /* restart = never / on-failure: the slot stays down; only a failure is a crash. */
        f->state = SLOT_STOPPED;
        f->want_up = false;
        if (!clean || f->fail_reason != NULL) {
            f->crashes++;
            f->exit_was_crash = true;
            act->crashed = true;
        }
        return;
    }
    f->crashes++;
    f->exit_was_crash = true;
    act->crashed = true;
    if (healthy)
        f->streak = 0;
    if (crash_window_record(&f->window, now, p->crash_window_us)) {
        f->state = SLOT_FATAL;
        act->became_fatal = true;
        return;
    }
    uint64_t delay = backoff_next_delay(f->streak, p->restart_delay_us, p->restart_delay_max_us);
    if (delay < min_delay)
        delay = min_delay;
    f->streak++;
    f->gate_granted = false;
    if (delay == 0)
        delay = gate_wait(f, now);
    if (delay == 0) {
        spawn_now(f, p, now, act);
        return;
    }
    f->state = SLOT_BACKOFF;
    f->deadline = now + delay;
}

/* The worker now counts as started; a watchdog, if any, takes over the timer. */
static void become_up(struct slot_fsm *f, const struct slot_policy *p, uint64_t now)
{
    f->up = true;
    f->up_at = now;
    f->deadline = p->watchdog_us ? now + p->watchdog_us : 0;
}

static void record_exit(struct slot_fsm *f, int wstatus, uint64_t now)
{
    f->has_exit = true;
    f->exit_wstatus = wstatus;
    f->exit_at = now;
    f->exit_was_crash = false;
    f->fail_reason = f->pending_fail;
    f->pending_fail = NULL;
}

void slot_step(struct slot_fsm *f, const struct slot_policy *p, enum slot_event ev, int wstatus,
               const char *reason, uint64_t now, struct slot_action *act)
{
    memset(act, 0, sizeof(*act));

    switch (ev) {
    case SLOT_EV_START:
    case SLOT_EV_RESTART:
        f->want_up = true;
        switch (f->state) {
        case SLOT_FATAL:
            /* An operator's start clears the verdict. */
            f->streak = 0;
            crash_window_reset(&f->window, p->crash_limit);
            spawn_now(f, p, now, act);
            break;
        case SLOT_STOPPED:
        case SLOT_BACKOFF:
            spawn_now(f, p, now, act);
            break;
        case SLOT_STARTING:
        case SLOT_RUNNING:
            if (ev == SLOT_EV_RESTART) {
                begin_stop(f, p, now, act);
                f->restart_after_stop = true;
            }
            break;
        case SLOT_STOPPING:
            f->restart_after_stop = true;
            break;
        }
        break;

    case SLOT_EV_STOP:
        f->want_up = false;
        switch (f->state) {
        case SLOT_STARTING:
        case SLOT_RUNNING:
            begin_stop(f, p, now, act);
            break;
        case SLOT_STOPPING:
            f->restart_after_stop = false;
            break;
        case SLOT_BACKOFF:
        case SLOT_FATAL:
            f->state = SLOT_STOPPED;
            f->deadline = 0;
            break;
        case SLOT_STOPPED:
            break;
        }
        break;

    case SLOT_EV_SPAWN_FAILED:
        if (f->state == SLOT_STARTING) {
            f->start_failures++;
            record_exit(f, 127 << 8, now);
            f->fail_reason = reason;
            /*
             * Never fork again in the same breath: with restart_delay = 0 a
             * fork that keeps failing would otherwise spin without end.
             */
            on_crash(f, p, true, SPAWN_RETRY_MIN_US, now, act);
        }
        break;

    case SLOT_EV_READY:
        if (f->state == SLOT_STARTING) {
            f->state = SLOT_RUNNING;
            f->ready_at = now;
            /* READY=1 is the worker's own word; an exec'd one must also stay up start_grace. */
            if (p->ready_notify || now - f->started_at >= p->start_grace_us)
                become_up(f, p, now);
            else
                f->deadline = f->started_at + p->start_grace_us;
        }
        break;

    case SLOT_EV_WATCHDOG:
        if (f->state == SLOT_RUNNING && p->watchdog_us && f->pending_fail == NULL)
            f->deadline = now + p->watchdog_us;
        break;

    case SLOT_EV_FAIL:
        if ((f->state == SLOT_STARTING || f->state == SLOT_RUNNING) && f->pending_fail == NULL) {
            f->pending_fail = reason;
            f->deadline = 0;
            act->signal = SIGKILL;
        }
        break;

    case SLOT_EV_FAIL_STOP:
        /* Stopped like a stop, but the exit is a crash with this reason (a failed liveness check).
         */
        if (f->state == SLOT_RUNNING && f->pending_fail == NULL) {
            f->pending_fail = reason;
            f->kill_sent = false;
            f->deadline = now + p->stop_timeout_us;
            act->signal = p->stop_signal;
        }
        break;

    case SLOT_EV_TIMER:
        if (f->deadline == 0 || now < f->deadline)
            break; /* stale or early: nothing is due */
        f->deadline = 0;
        switch (f->state) {
        case SLOT_BACKOFF: {
            /* The backoff is over; the pool's crash restart budget may hold it longer. */
            uint64_t wait = f->gate_granted ? 0 : gate_wait(f, now);
            if (wait > 0) {
                f->deadline = now + wait;
                break;
            }
            f->gate_granted = false;
            spawn_now(f, p, now, act);
            break;
        }
        case SLOT_STOPPING:
            if (!f->kill_sent) {
                f->kill_sent = true;
                act->signal = SIGKILL;
            }
            break;
        case SLOT_STARTING:
            f->pending_fail = "start timeout";
            act->signal = SIGKILL;
            break;
        case SLOT_RUNNING:
            if (f->pending_fail == NULL && !f->up) {
                become_up(f, p, now); /* start_grace is over */
                break;
            }
            /* A failure's stop_timeout ran out: keep its reason. */
            if (f->pending_fail == NULL)
                f->pending_fail = "watchdog timeout";
            act->signal = SIGKILL;
            break;
        default:
            break;
        }
        break;

    case SLOT_EV_EXITED:
        switch (f->state) {
        case SLOT_STOPPING:
            record_exit(f, wstatus, now);
            f->deadline = 0;
            if (f->restart_after_stop && f->want_up) {
                spawn_now(f, p, now, act);
            } else {
                f->state = SLOT_STOPPED;
                f->restart_after_stop = false;
            }
            break;
        case SLOT_STARTING:
        case SLOT_RUNNING:
            if (!f->up)
                f->start_failures++;
            record_exit(f, wstatus, now);
            on_crash(f, p, wants_restart(p, wstatus, f->fail_reason != NULL), 0, now, act);
            break;
        default:
            break; /* no process was expected; the caller logs it */
        }
        break;

    case SLOT_EV_RESET:
        /* The crashes were of the old settings; the new ones get a fresh start. */
        f->streak = 0;
        crash_window_reset(&f->window, p->crash_limit);
        if (f->state == SLOT_BACKOFF || (f->state == SLOT_FATAL && f->want_up))
            spawn_now(f, p, now, act);
        break;
    }
}
