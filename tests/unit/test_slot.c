/* SPDX-License-Identifier: ISC */
/*
 * Unit tests for daemon/slot.c, the worker slot state machine, cell by cell
 * in the manner of s6-supervise's actions table: every (state, event) pair
 * is driven with an explicit time, and the action, the new state and the
 * deadline are checked. Then the longer stories: backoff growth and cap,
 * healthy runs, crash_limit, restart policies, ready = notify, watchdog,
 * FAIL, stop and restart in every state, stale timers, spawn failures,
 * and the pool's crash restart budget (which restarts wait for it, which never).
 */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/wait.h>

#include <cmocka.h>

#include "config.h"
#include "slot.h"

#define MS  1000ULL
#define SEC 1000000ULL
#define T0  (1000 * SEC) /* an arbitrary, non-zero start of time */

/* Wait statuses as waitpid() reports them. */
#define EXIT_CODE(c) ((c) << 8)
#define KILLED(sig)  (sig)

struct machine {
    struct slot_fsm f;
    struct slot_policy p;
    struct slot_action a;
};

static struct machine m;

static void policy_default(struct slot_policy *p)
{
    memset(p, 0, sizeof(*p));
    p->restart = RESTART_ALWAYS;
    p->restart_delay_us = 100 * MS;
    p->restart_delay_max_us = 30 * SEC;
    p->crash_limit = 10;
    p->crash_window_us = 60 * SEC;
    p->ready_notify = false;
    p->start_timeout_us = 10 * SEC;
    p->watchdog_us = 0;
    p->stop_signal = SIGTERM;
    p->stop_timeout_us = 10 * SEC;
}

static int setup(void **state)
{
    (void)state;
    memset(&m, 0, sizeof(m));
    policy_default(&m.p);
    slot_fsm_init(&m.f, &m.p);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    slot_fsm_free(&m.f);
    return 0;
}

/* Re-initialise with the policy as changed by the test. */
static void reinit(void)
{
    slot_fsm_free(&m.f);
    slot_fsm_init(&m.f, &m.p);
}

static void step(enum slot_event ev, int wstatus, const char *reason, uint64_t now)
{
    memset(&m.a, 0x55, sizeof(m.a)); /* slot_step must clear what it does not set */
    slot_step(&m.f, &m.p, ev, wstatus, reason, now, &m.a);
}

static void ev(enum slot_event e, uint64_t now)
{
    step(e, 0, NULL, now);
}

static void exited(int wstatus, uint64_t now)
{
    step(SLOT_EV_EXITED, wstatus, NULL, now);
}

static void judge_failed(const char *reason, uint64_t now)
{
    step(SLOT_EV_FAIL, 0, reason, now);
}

/* A reason string (NULL-safe, unlike assert_string_equal). */
static void reason_is(const char *got, const char *want)
{
    if (got == NULL)
        fail_msg("reason is NULL, want \"%s\"", want);
    assert_string_equal(got, want);
}

/* The action of the last step, in full. */
static void act_is(bool spawn, int sig, bool became_fatal, bool crashed)
{
    assert_int_equal(m.a.spawn, spawn);
    assert_int_equal(m.a.signal, sig);
    assert_int_equal(m.a.became_fatal, became_fatal);
    assert_int_equal(m.a.crashed, crashed);
}

static void act_none(void)
{
    act_is(false, 0, false, false);
}

static void state_is(enum slot_state s)
{
    if (m.f.state != s)
        fail_msg("state %s, want %s", slot_state_name(m.f.state), slot_state_name(s));
}

/* --- ways into each state ----------------------------------------------- */

static void to_starting(uint64_t now)
{
    ev(SLOT_EV_START, now);
    state_is(SLOT_STARTING);
}

static void to_running(uint64_t now)
{
    to_starting(now);
    ev(SLOT_EV_READY, now);
    state_is(SLOT_RUNNING);
}

static void to_stopping(uint64_t now)
{
    to_running(now);
    ev(SLOT_EV_STOP, now);
    state_is(SLOT_STOPPING);
}

static void to_backoff(uint64_t now)
{
    to_running(now);
    exited(EXIT_CODE(1), now + MS); /* first crash: again at once */
    state_is(SLOT_STARTING);
    exited(EXIT_CODE(1), now + 2 * MS); /* second quick one: back off */
    state_is(SLOT_BACKOFF);
}

static void to_fatal(uint64_t now)
{
    m.p.crash_limit = 1;
    reinit();
    to_running(now);
    exited(EXIT_CODE(1), now + MS);
    state_is(SLOT_STARTING);
    exited(EXIT_CODE(1), now + 2 * MS);
    state_is(SLOT_FATAL);
}

/* Every field that an ignored event must leave alone. */
static void fsm_same(const struct slot_fsm *a, const struct slot_fsm *b)
{
    assert_int_equal(a->state, b->state);
    assert_int_equal(a->want_up, b->want_up);
    assert_int_equal(a->restart_after_stop, b->restart_after_stop);
    assert_int_equal(a->kill_sent, b->kill_sent);
    assert_int_equal(a->deadline, b->deadline);
    assert_int_equal(a->started_at, b->started_at);
    assert_int_equal(a->ready_at, b->ready_at);
    assert_int_equal(a->streak, b->streak);
    assert_int_equal(a->restarts, b->restarts);
    assert_int_equal(a->crashes, b->crashes);
    assert_int_equal(a->window.len, b->window.len);
    assert_int_equal(a->has_exit, b->has_exit);
    assert_int_equal(a->exit_wstatus, b->exit_wstatus);
    assert_int_equal(a->exit_at, b->exit_at);
    assert_int_equal(a->exit_was_crash, b->exit_was_crash);
    assert_ptr_equal(a->fail_reason, b->fail_reason);
    assert_ptr_equal(a->pending_fail, b->pending_fail);
}

/* Apply an event that the current state must ignore: no action, no change. */
static void ignored(enum slot_event e, int wstatus, uint64_t now)
{
    struct slot_fsm before = m.f;

    step(e, wstatus, "ignored reason", now);
    act_none();
    fsm_same(&m.f, &before);
}

/* --- names -------------------------------------------------------------- */

static void test_names(void **state)
{
    (void)state;
    assert_string_equal(slot_state_name(SLOT_STOPPED), "stopped");
    assert_string_equal(slot_state_name(SLOT_STARTING), "starting");
    assert_string_equal(slot_state_name(SLOT_RUNNING), "running");
    assert_string_equal(slot_state_name(SLOT_STOPPING), "stopping");
    assert_string_equal(slot_state_name(SLOT_BACKOFF), "backoff");
    assert_string_equal(slot_state_name(SLOT_FATAL), "fatal");
    assert_string_equal(slot_event_name(SLOT_EV_START), "start");
    assert_string_equal(slot_event_name(SLOT_EV_STOP), "stop");
    assert_string_equal(slot_event_name(SLOT_EV_RESTART), "restart");
    assert_string_equal(slot_event_name(SLOT_EV_SPAWN_FAILED), "spawn-failed");
    assert_string_equal(slot_event_name(SLOT_EV_READY), "ready");
    assert_string_equal(slot_event_name(SLOT_EV_WATCHDOG), "watchdog");
    assert_string_equal(slot_event_name(SLOT_EV_FAIL_STOP), "fail-stop");
    assert_string_equal(slot_event_name(SLOT_EV_EXITED), "exited");
    assert_string_equal(slot_event_name(SLOT_EV_TIMER), "timer");
    assert_string_equal(slot_event_name(SLOT_EV_FAIL), "fail");
    assert_string_equal(slot_event_name(SLOT_EV_RESET), "reset");
    assert_false(slot_state_has_process(SLOT_STOPPED));
    assert_true(slot_state_has_process(SLOT_STARTING));
    assert_true(slot_state_has_process(SLOT_RUNNING));
    assert_true(slot_state_has_process(SLOT_STOPPING));
    assert_false(slot_state_has_process(SLOT_BACKOFF));
    assert_false(slot_state_has_process(SLOT_FATAL));
}

static void test_init(void **state)
{
    (void)state;
    state_is(SLOT_STOPPED);
    assert_false(m.f.want_up);
    assert_int_equal(m.f.deadline, 0);
    assert_int_equal(m.f.restarts, 0);
    assert_int_equal(m.f.crashes, 0);
    assert_false(m.f.has_exit);
    assert_int_equal(m.f.window.cap, 11); /* crash_limit + 1 */
}

/* --- STOPPED ------------------------------------------------------------ */

static void test_stopped_start(void **state)
{
    (void)state;
    ev(SLOT_EV_START, T0);
    act_is(true, 0, false, false);
    state_is(SLOT_STARTING);
    assert_true(m.f.want_up);
    assert_int_equal(m.f.started_at, T0);
    assert_int_equal(m.f.deadline, 0); /* ready = exec: no start timeout */
    assert_int_equal(m.f.restarts, 0); /* the first spawn is not a restart */
}

static void test_stopped_restart(void **state)
{
    (void)state;
    ev(SLOT_EV_RESTART, T0);
    act_is(true, 0, false, false);
    state_is(SLOT_STARTING);
    assert_true(m.f.want_up);
}

static void test_stopped_ignores(void **state)
{
    (void)state;
    ignored(SLOT_EV_STOP, 0, T0);
    ignored(SLOT_EV_SPAWN_FAILED, 0, T0);
    ignored(SLOT_EV_READY, 0, T0);
    ignored(SLOT_EV_WATCHDOG, 0, T0);
    ignored(SLOT_EV_EXITED, EXIT_CODE(1), T0);
    ignored(SLOT_EV_TIMER, 0, T0);
    ignored(SLOT_EV_FAIL, 0, T0);
}

/* --- STARTING ----------------------------------------------------------- */

static void test_starting_start(void **state)
{
    (void)state;
    to_starting(T0);
    ignored(SLOT_EV_START, 0, T0 + MS);
}

static void test_starting_stop(void **state)
{
    (void)state;
    to_starting(T0);
    ev(SLOT_EV_STOP, T0 + MS);
    act_is(false, SIGTERM, false, false);
    state_is(SLOT_STOPPING);
    assert_false(m.f.want_up);
    assert_false(m.f.restart_after_stop);
    assert_int_equal(m.f.deadline, T0 + MS + 10 * SEC);
}

static void test_starting_restart(void **state)
{
    (void)state;
    to_starting(T0);
    ev(SLOT_EV_RESTART, T0 + MS);
    act_is(false, SIGTERM, false, false);
    state_is(SLOT_STOPPING);
    assert_true(m.f.want_up);
    assert_true(m.f.restart_after_stop);
    assert_int_equal(m.f.deadline, T0 + MS + 10 * SEC);
}

static void test_starting_ready(void **state)
{
    (void)state;
    to_starting(T0);
    ev(SLOT_EV_READY, T0 + 5 * MS);
    act_none();
    state_is(SLOT_RUNNING);
    assert_int_equal(m.f.ready_at, T0 + 5 * MS);
    assert_int_equal(m.f.deadline, 0); /* no watchdog */
}

static void test_starting_exited(void **state)
{
    (void)state;
    to_starting(T0);
    exited(EXIT_CODE(3), T0 + MS);
    /* The first crash restarts at once. */
    act_is(true, 0, false, true);
    state_is(SLOT_STARTING);
    assert_true(m.f.has_exit);
    assert_int_equal(m.f.exit_wstatus, EXIT_CODE(3));
    assert_int_equal(m.f.exit_at, T0 + MS);
    assert_true(m.f.exit_was_crash);
    assert_int_equal(m.f.crashes, 1);
    assert_int_equal(m.f.streak, 1);
    assert_int_equal(m.f.restarts, 1);
    assert_int_equal(m.f.started_at, T0 + MS);
}

static void test_starting_spawn_failed(void **state)
{
    (void)state;
    to_starting(T0);
    step(SLOT_EV_SPAWN_FAILED, 0, "spawn failed", T0);
    /* Counted as a crash of exit status 127; even the first retry waits a little (no busy fork
     * loop). */
    act_is(false, 0, false, true);
    state_is(SLOT_BACKOFF);
    assert_int_equal(m.f.deadline, T0 + 10 * MS);
    assert_true(m.f.has_exit);
    assert_true(WIFEXITED(m.f.exit_wstatus));
    assert_int_equal(WEXITSTATUS(m.f.exit_wstatus), 127);
    assert_true(m.f.exit_was_crash);
    assert_int_equal(m.f.crashes, 1);
    /* The retry is due; it fails again: now the normal backoff. */
    ev(SLOT_EV_TIMER, T0 + 10 * MS);
    act_is(true, 0, false, false);
    step(SLOT_EV_SPAWN_FAILED, 0, "spawn failed", T0 + 10 * MS);
    act_is(false, 0, false, true);
    state_is(SLOT_BACKOFF);
    assert_int_equal(m.f.deadline, T0 + 110 * MS);
    assert_int_equal(m.f.crashes, 2);
    /* The reason stays with the last exit, for status. */
    reason_is(m.f.fail_reason, "spawn failed");
}

static void test_starting_watchdog_ignored(void **state)
{
    (void)state;
    m.p.ready_notify = true;
    m.p.watchdog_us = 5 * SEC;
    to_starting(T0);
    /* WATCHDOG=1 before READY=1 does not move the start timeout. */
    ignored(SLOT_EV_WATCHDOG, 0, T0 + SEC);
    assert_int_equal(m.f.deadline, T0 + 10 * SEC);
}

static void test_starting_timer_without_deadline(void **state)
{
    (void)state;
    to_starting(T0); /* ready = exec: no timer */
    ignored(SLOT_EV_TIMER, 0, T0 + 100 * SEC);
}

static void test_starting_fail(void **state)
{
    (void)state;
    to_starting(T0);
    judge_failed("request timeout", T0 + MS);
    act_is(false, SIGKILL, false, false);
    state_is(SLOT_STARTING);
    reason_is(m.f.pending_fail, "request timeout");
    assert_int_equal(m.f.deadline, 0);
    /* A second verdict before the first exit changes nothing. */
    ignored(SLOT_EV_FAIL, 0, T0 + 2 * MS);
    reason_is(m.f.pending_fail, "request timeout");
}

/* --- RUNNING ------------------------------------------------------------ */

static void test_running_start(void **state)
{
    (void)state;
    to_running(T0);
    ignored(SLOT_EV_START, 0, T0 + MS);
}

static void test_running_stop(void **state)
{
    (void)state;
    to_running(T0);
    ev(SLOT_EV_STOP, T0 + SEC);
    act_is(false, SIGTERM, false, false);
    state_is(SLOT_STOPPING);
    assert_false(m.f.want_up);
    assert_false(m.f.kill_sent);
    assert_int_equal(m.f.deadline, T0 + SEC + 10 * SEC);
}

static void test_running_stop_signal(void **state)
{
    (void)state;
    m.p.stop_signal = SIGQUIT;
    m.p.stop_timeout_us = 2 * SEC;
    to_running(T0);
    ev(SLOT_EV_STOP, T0 + SEC);
    act_is(false, SIGQUIT, false, false);
    assert_int_equal(m.f.deadline, T0 + 3 * SEC);
}

static void test_running_restart(void **state)
{
    (void)state;
    to_running(T0);
    ev(SLOT_EV_RESTART, T0 + SEC);
    act_is(false, SIGTERM, false, false);
    state_is(SLOT_STOPPING);
    assert_true(m.f.restart_after_stop);
    assert_true(m.f.want_up);
}

static void test_running_ignores(void **state)
{
    (void)state;
    to_running(T0);
    ignored(SLOT_EV_SPAWN_FAILED, 0, T0 + MS);
    ignored(SLOT_EV_READY, 0, T0 + MS);
    ignored(SLOT_EV_WATCHDOG, 0, T0 + MS); /* watchdog off */
    ignored(SLOT_EV_TIMER, 0, T0 + MS);    /* no deadline */
}

static void test_running_exited(void **state)
{
    (void)state;
    to_running(T0);
    exited(KILLED(SIGSEGV), T0 + 5 * SEC);
    act_is(true, 0, false, true);
    state_is(SLOT_STARTING);
    assert_true(WIFSIGNALED(m.f.exit_wstatus));
    assert_int_equal(WTERMSIG(m.f.exit_wstatus), SIGSEGV);
    assert_true(m.f.exit_was_crash);
    assert_null(m.f.fail_reason);
}

static void test_running_fail(void **state)
{
    (void)state;
    m.p.ready_notify = true;
    m.p.watchdog_us = 5 * SEC;
    to_running(T0);
    assert_int_equal(m.f.deadline, T0 + 5 * SEC);
    judge_failed("request timeout", T0 + SEC);
    act_is(false, SIGKILL, false, false);
    state_is(SLOT_RUNNING);
    assert_int_equal(m.f.deadline, 0); /* the watchdog is moot now */
    reason_is(m.f.pending_fail, "request timeout");
    assert_null(m.f.fail_reason);
    /* Keep-alives no longer re-arm the watchdog, and a second verdict is ignored. */
    ignored(SLOT_EV_WATCHDOG, 0, T0 + 2 * SEC);
    ignored(SLOT_EV_FAIL, 0, T0 + 2 * SEC);
    /* The exit carries the reason and counts as a crash. */
    exited(KILLED(SIGKILL), T0 + 3 * SEC);
    act_is(true, 0, false, true);
    reason_is(m.f.fail_reason, "request timeout");
    assert_null(m.f.pending_fail);
    assert_true(m.f.exit_was_crash);
    assert_int_equal(m.f.crashes, 1);
}

/* A failed liveness check: stop_signal first, SIGKILL at stop_timeout, and the exit is a crash. */
static void test_running_fail_stop(void **state)
{
    (void)state;
    to_running(T0);
    step(SLOT_EV_FAIL_STOP, 0, "liveness check failed: exit 3", T0 + SEC);
    act_is(false, SIGTERM, false, false);
    state_is(SLOT_RUNNING);
    assert_int_equal(m.f.deadline, T0 + SEC + 10 * SEC);
    reason_is(m.f.pending_fail, "liveness check failed: exit 3");
    /* A second verdict of either kind is ignored. */
    ignored(SLOT_EV_FAIL_STOP, 0, T0 + 2 * SEC);
    ignored(SLOT_EV_FAIL, 0, T0 + 2 * SEC);
    /* stop_timeout: SIGKILL, and the reason stays (not "watchdog timeout"). */
    ev(SLOT_EV_TIMER, T0 + 11 * SEC);
    act_is(false, SIGKILL, false, false);
    reason_is(m.f.pending_fail, "liveness check failed: exit 3");
    exited(KILLED(SIGKILL), T0 + 12 * SEC);
    act_is(true, 0, false, true);
    reason_is(m.f.fail_reason, "liveness check failed: exit 3");
    assert_true(m.f.exit_was_crash);
    assert_int_equal(m.f.crashes, 1);
}

/* Only a running worker is judged by its checks. */
static void test_fail_stop_not_running(void **state)
{
    (void)state;
    ignored(SLOT_EV_FAIL_STOP, 0, T0);
    to_starting(T0);
    ignored(SLOT_EV_FAIL_STOP, 0, T0 + MS);
}

/* --- STOPPING ----------------------------------------------------------- */

static void test_stopping_start(void **state)
{
    (void)state;
    to_stopping(T0);
    ev(SLOT_EV_START, T0 + MS);
    act_none(); /* no second signal */
    state_is(SLOT_STOPPING);
    assert_true(m.f.want_up);
    assert_true(m.f.restart_after_stop);
    /* It comes back once the old process is gone. */
    exited(KILLED(SIGTERM), T0 + 2 * MS);
    act_is(true, 0, false, false);
    state_is(SLOT_STARTING);
}

static void test_stopping_stop(void **state)
{
    (void)state;
    to_running(T0);
    ev(SLOT_EV_RESTART, T0);
    assert_true(m.f.restart_after_stop);
    ev(SLOT_EV_STOP, T0 + MS);
    act_none();
    state_is(SLOT_STOPPING);
    assert_false(m.f.want_up);
    assert_false(m.f.restart_after_stop);          /* stop cancels the pending restart */
    assert_int_equal(m.f.deadline, T0 + 10 * SEC); /* the kill timer is unchanged */
    exited(KILLED(SIGTERM), T0 + 2 * MS);
    act_none();
    state_is(SLOT_STOPPED);
}

static void test_stopping_restart(void **state)
{
    (void)state;
    to_stopping(T0);
    ev(SLOT_EV_RESTART, T0 + MS);
    act_none();
    assert_true(m.f.restart_after_stop);
    assert_true(m.f.want_up);
}

static void test_stopping_ignores(void **state)
{
    (void)state;
    to_stopping(T0);
    ignored(SLOT_EV_SPAWN_FAILED, 0, T0 + MS);
    ignored(SLOT_EV_READY, 0, T0 + MS);
    ignored(SLOT_EV_WATCHDOG, 0, T0 + MS);
    ignored(SLOT_EV_FAIL, 0, T0 + MS);
    ignored(SLOT_EV_TIMER, 0, T0 + MS); /* stale: the kill is due later */
}

static void test_stopping_timer_kills(void **state)
{
    (void)state;
    to_stopping(T0);
    ev(SLOT_EV_TIMER, T0 + 10 * SEC);
    act_is(false, SIGKILL, false, false);
    state_is(SLOT_STOPPING);
    assert_true(m.f.kill_sent);
    assert_int_equal(m.f.deadline, 0);
    /* One SIGKILL is enough. */
    ignored(SLOT_EV_TIMER, 0, T0 + 20 * SEC);
}

static void test_stopping_exited(void **state)
{
    (void)state;
    to_stopping(T0);
    exited(KILLED(SIGTERM), T0 + SEC);
    act_none();
    state_is(SLOT_STOPPED);
    assert_int_equal(m.f.deadline, 0);
    /* Recorded, but the daemon asked for it: no crash. */
    assert_true(m.f.has_exit);
    assert_int_equal(m.f.exit_at, T0 + SEC);
    assert_false(m.f.exit_was_crash);
    assert_int_equal(m.f.crashes, 0);
    assert_int_equal(m.f.streak, 0);
}

static void test_stopping_exited_then_restart(void **state)
{
    (void)state;
    to_running(T0);
    ev(SLOT_EV_RESTART, T0 + SEC);
    ev(SLOT_EV_TIMER, T0 + 11 * SEC);
    act_is(false, SIGKILL, false, false);
    exited(KILLED(SIGKILL), T0 + 11 * SEC + MS);
    act_is(true, 0, false, false);
    state_is(SLOT_STARTING);
    assert_int_equal(m.f.restarts, 1);
    assert_int_equal(m.f.crashes, 0);
    assert_int_equal(m.f.streak, 0);
    assert_false(m.f.kill_sent);
    assert_false(m.f.restart_after_stop);
    assert_false(m.f.exit_was_crash);
}

/* --- BACKOFF ------------------------------------------------------------ */

static void test_backoff_state(void **state)
{
    (void)state;
    to_backoff(T0);
    assert_int_equal(m.f.deadline, T0 + 2 * MS + 100 * MS);
    assert_int_equal(m.f.streak, 2);
    assert_true(m.a.crashed);
    assert_false(m.a.spawn);
}

static void test_backoff_timer(void **state)
{
    (void)state;
    to_backoff(T0);
    /* Early: nothing. */
    ignored(SLOT_EV_TIMER, 0, T0 + 50 * MS);
    ev(SLOT_EV_TIMER, T0 + 102 * MS);
    act_is(true, 0, false, false);
    state_is(SLOT_STARTING);
    assert_int_equal(m.f.started_at, T0 + 102 * MS);
    assert_int_equal(m.f.restarts, 2);
}

static void test_backoff_timer_late(void **state)
{
    (void)state;
    to_backoff(T0);
    ev(SLOT_EV_TIMER, T0 + 100 * SEC);
    act_is(true, 0, false, false);
    state_is(SLOT_STARTING);
}

static void test_backoff_start(void **state)
{
    (void)state;
    to_backoff(T0);
    /* An operator's start does not wait for the backoff. */
    ev(SLOT_EV_START, T0 + 10 * MS);
    act_is(true, 0, false, false);
    state_is(SLOT_STARTING);
    assert_int_equal(m.f.deadline, 0);
}

static void test_backoff_restart(void **state)
{
    (void)state;
    to_backoff(T0);
    ev(SLOT_EV_RESTART, T0 + 10 * MS);
    act_is(true, 0, false, false);
    state_is(SLOT_STARTING);
}

static void test_backoff_stop(void **state)
{
    (void)state;
    to_backoff(T0);
    ev(SLOT_EV_STOP, T0 + 10 * MS);
    act_none();
    state_is(SLOT_STOPPED);
    assert_false(m.f.want_up);
    assert_int_equal(m.f.deadline, 0);
    /* The old backoff timer firing later does nothing. */
    ignored(SLOT_EV_TIMER, 0, T0 + SEC);
}

static void test_backoff_ignores(void **state)
{
    (void)state;
    to_backoff(T0);
    ignored(SLOT_EV_SPAWN_FAILED, 0, T0 + 3 * MS);
    ignored(SLOT_EV_READY, 0, T0 + 3 * MS);
    ignored(SLOT_EV_WATCHDOG, 0, T0 + 3 * MS);
    ignored(SLOT_EV_EXITED, EXIT_CODE(1), T0 + 3 * MS);
    ignored(SLOT_EV_FAIL, 0, T0 + 3 * MS);
}

/* --- FATAL -------------------------------------------------------------- */

static void test_fatal_state(void **state)
{
    (void)state;
    to_fatal(T0);
    act_is(false, 0, true, true);
    assert_int_equal(m.f.deadline, 0);
    assert_true(m.f.want_up);
    assert_int_equal(m.f.crashes, 2);
}

static void test_fatal_start_clears(void **state)
{
    (void)state;
    to_fatal(T0);
    ev(SLOT_EV_START, T0 + SEC);
    act_is(true, 0, false, false);
    state_is(SLOT_STARTING);
    assert_int_equal(m.f.streak, 0);
    assert_int_equal(m.f.window.len, 0);
    /* The verdict is gone: the next crash restarts at once rather than going fatal. */
    exited(EXIT_CODE(1), T0 + SEC + MS);
    act_is(true, 0, false, true);
    state_is(SLOT_STARTING);
}

static void test_fatal_restart_clears(void **state)
{
    (void)state;
    to_fatal(T0);
    ev(SLOT_EV_RESTART, T0 + SEC);
    act_is(true, 0, false, false);
    state_is(SLOT_STARTING);
    assert_int_equal(m.f.streak, 0);
    assert_int_equal(m.f.window.len, 0);
}

static void test_fatal_stop(void **state)
{
    (void)state;
    to_fatal(T0);
    ev(SLOT_EV_STOP, T0 + SEC);
    act_none();
    state_is(SLOT_STOPPED);
    assert_false(m.f.want_up);
}

static void test_fatal_ignores(void **state)
{
    (void)state;
    to_fatal(T0);
    ignored(SLOT_EV_SPAWN_FAILED, 0, T0 + SEC);
    ignored(SLOT_EV_READY, 0, T0 + SEC);
    ignored(SLOT_EV_WATCHDOG, 0, T0 + SEC);
    ignored(SLOT_EV_EXITED, EXIT_CODE(1), T0 + SEC);
    ignored(SLOT_EV_TIMER, 0, T0 + SEC);
    ignored(SLOT_EV_FAIL, 0, T0 + SEC);
}

/* --- backoff growth, cap, healthy runs ---------------------------------- */

/* Crash quickly after each start; return the delay chosen (0 = restarted at once). */
static uint64_t quick_crash(uint64_t *now)
{
    uint64_t delay;

    *now += MS;
    exited(EXIT_CODE(1), *now);
    assert_true(m.a.crashed);
    if (m.f.state == SLOT_STARTING) {
        assert_true(m.a.spawn);
        return 0;
    }
    state_is(SLOT_BACKOFF);
    assert_false(m.a.spawn);
    delay = m.f.deadline - *now;
    *now = m.f.deadline;
    ev(SLOT_EV_TIMER, *now);
    act_is(true, 0, false, false);
    state_is(SLOT_STARTING);
    return delay;
}

static void test_backoff_growth_and_cap(void **state)
{
    static const uint64_t want[] = {0, 100 * MS, 200 * MS, 400 * MS, 800 * MS, SEC, SEC, SEC};
    uint64_t now = T0;

    (void)state;
    m.p.restart_delay_max_us = SEC;
    m.p.crash_limit = 0;
    reinit();
    to_starting(now);
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        uint64_t d = quick_crash(&now);
        if (d != want[i])
            fail_msg("crash %zu: delay %llu, want %llu", i + 1, (unsigned long long)d,
                     (unsigned long long)want[i]);
        assert_int_equal(m.f.streak, i + 1);
    }
    assert_int_equal(m.f.crashes, 8);
    assert_int_equal(m.f.restarts, 8);
}

static void test_healthy_run_resets_streak(void **state)
{
    uint64_t now = T0;

    (void)state;
    m.p.restart_delay_max_us = SEC;
    m.p.crash_limit = 0;
    reinit();
    to_starting(now);
    for (int i = 0; i < 4; i++)
        quick_crash(&now);
    assert_int_equal(m.f.streak, 4);
    /* Ran exactly restart_delay_max: healthy, so an occasional crash restarts at once. */
    ev(SLOT_EV_READY, now);
    now += SEC;
    exited(KILLED(SIGSEGV), now);
    act_is(true, 0, false, true);
    state_is(SLOT_STARTING);
    assert_int_equal(m.f.streak, 1);
    /* The next quick crash backs off from the start of the sequence again. */
    assert_int_equal(quick_crash(&now), 100 * MS);
}

static void test_almost_healthy_run_keeps_streak(void **state)
{
    uint64_t now = T0;

    (void)state;
    m.p.restart_delay_max_us = SEC;
    m.p.crash_limit = 0;
    reinit();
    to_starting(now);
    for (int i = 0; i < 3; i++)
        quick_crash(&now);
    assert_int_equal(m.f.streak, 3);
    now += SEC - 1; /* one microsecond short of healthy */
    exited(EXIT_CODE(1), now);
    state_is(SLOT_BACKOFF);
    assert_int_equal(m.f.deadline - now, 400 * MS);
    assert_int_equal(m.f.streak, 4);
}

/* --- crash_limit -------------------------------------------------------- */

static void test_crash_limit_goes_fatal(void **state)
{
    uint64_t now = T0;

    (void)state;
    m.p.crash_limit = 3;
    m.p.crash_window_us = 60 * SEC;
    m.p.restart_delay_us = MS;
    reinit();
    to_starting(now);
    for (int i = 0; i < 3; i++) {
        quick_crash(&now);
        assert_false(m.a.became_fatal);
    }
    /* The fourth crash within the window is one more than allowed. */
    now += MS;
    exited(EXIT_CODE(1), now);
    act_is(false, 0, true, true);
    state_is(SLOT_FATAL);
    assert_int_equal(m.f.deadline, 0);
    assert_int_equal(m.f.crashes, 4);
    assert_true(m.f.exit_was_crash);
}

static void test_crash_limit_spread_out(void **state)
{
    uint64_t now = T0;

    (void)state;
    m.p.crash_limit = 2;
    m.p.crash_window_us = 10 * SEC;
    m.p.restart_delay_max_us = 30 * SEC;
    reinit();
    to_running(now);
    /* Crashes 6 s apart: never more than 2 in a 10 s window. */
    for (int i = 0; i < 10; i++) {
        now += 6 * SEC;
        exited(EXIT_CODE(1), now);
        assert_false(m.a.became_fatal);
        if (m.f.state == SLOT_BACKOFF) {
            now = m.f.deadline;
            ev(SLOT_EV_TIMER, now);
        }
        state_is(SLOT_STARTING);
    }
    assert_int_equal(m.f.crashes, 10);
}

static void test_crash_limit_none(void **state)
{
    uint64_t now = T0;

    (void)state;
    m.p.crash_limit = 0;
    m.p.restart_delay_max_us = 200 * MS;
    reinit();
    to_starting(now);
    for (int i = 0; i < 200; i++) {
        quick_crash(&now);
        assert_false(m.a.became_fatal);
    }
    assert_int_equal(m.f.crashes, 200);
}

static void test_spawn_failures_go_fatal(void **state)
{
    (void)state;
    m.p.crash_limit = 2;
    m.p.restart_delay_us = 0;
    reinit();
    to_starting(T0);
    step(SLOT_EV_SPAWN_FAILED, 0, "spawn failed", T0);
    act_is(false, 0, false, true);
    state_is(SLOT_BACKOFF);
    ev(SLOT_EV_TIMER, m.f.deadline);
    step(SLOT_EV_SPAWN_FAILED, 0, "spawn failed", T0 + 10 * MS);
    act_is(false, 0, false, true);
    ev(SLOT_EV_TIMER, m.f.deadline);
    /* A fork that keeps failing ends in fatal. */
    step(SLOT_EV_SPAWN_FAILED, 0, "spawn failed", T0 + 20 * MS);
    act_is(false, 0, true, true);
    state_is(SLOT_FATAL);
}

/*
 * With restart_delay = 0 and crash_limit = none (both valid), a fork that
 * keeps failing (EAGAIN under RLIMIT_NPROC) must not spin: a failed spawn
 * never asks for another one at the same instant.
 */
static void test_spawn_failures_do_not_spin(void **state)
{
    int spawns = 0;

    (void)state;
    m.p.crash_limit = 0;
    m.p.restart_delay_us = 0;
    reinit();
    to_starting(T0);
    for (int i = 0; i < 100; i++) {
        step(SLOT_EV_SPAWN_FAILED, 0, "spawn failed", T0);
        if (!m.a.spawn)
            break;
        spawns++;
    }
    if (spawns >= 100)
        fail_msg("100 failed spawns at one instant, and it still asks to spawn at once");
}

static void test_policy_changed(void **state)
{
    (void)state;
    m.p.crash_limit = 5;
    reinit();
    to_running(T0);
    exited(EXIT_CODE(1), T0 + MS);
    assert_int_equal(m.f.window.len, 1);
    /* Same limit: the crash history is kept. */
    slot_fsm_policy_changed(&m.f, &m.p);
    assert_int_equal(m.f.window.len, 1);
    /* Another limit: the window is resized and starts afresh. */
    m.p.crash_limit = 2;
    slot_fsm_policy_changed(&m.f, &m.p);
    assert_int_equal(m.f.window.cap, 3);
    assert_int_equal(m.f.window.len, 0);
    m.p.crash_limit = 0;
    slot_fsm_policy_changed(&m.f, &m.p);
    assert_int_equal(m.f.window.cap, 0);
}

/* --- restart policies --------------------------------------------------- */

static void exit_under(int policy, int wstatus)
{
    m.p.restart = policy;
    reinit();
    to_running(T0);
    exited(wstatus, T0 + 5 * SEC);
}

static void test_policy_never(void **state)
{
    (void)state;
    /* A clean exit: stays stopped, not a crash. */
    exit_under(RESTART_NEVER, EXIT_CODE(0));
    act_none();
    state_is(SLOT_STOPPED);
    assert_false(m.f.want_up);
    assert_false(m.f.exit_was_crash);
    assert_int_equal(m.f.crashes, 0);
    assert_true(m.f.has_exit);
    /* A failure: stays stopped, counted as a crash. */
    exit_under(RESTART_NEVER, EXIT_CODE(1));
    act_is(false, 0, false, true);
    state_is(SLOT_STOPPED);
    assert_true(m.f.exit_was_crash);
    assert_int_equal(m.f.crashes, 1);
    exit_under(RESTART_NEVER, KILLED(SIGSEGV));
    act_is(false, 0, false, true);
    state_is(SLOT_STOPPED);
}

static void test_policy_on_failure(void **state)
{
    (void)state;
    exit_under(RESTART_ON_FAILURE, EXIT_CODE(0));
    act_none();
    state_is(SLOT_STOPPED);
    assert_false(m.f.want_up);
    assert_false(m.f.exit_was_crash);
    exit_under(RESTART_ON_FAILURE, EXIT_CODE(2));
    act_is(true, 0, false, true);
    state_is(SLOT_STARTING);
    exit_under(RESTART_ON_FAILURE, KILLED(SIGKILL));
    act_is(true, 0, false, true);
    state_is(SLOT_STARTING);
}

static void test_policy_always(void **state)
{
    (void)state;
    /* Even a clean exit was not asked for: restart (and count it). */
    exit_under(RESTART_ALWAYS, EXIT_CODE(0));
    act_is(true, 0, false, true);
    state_is(SLOT_STARTING);
    assert_true(m.f.want_up);
    exit_under(RESTART_ALWAYS, EXIT_CODE(1));
    act_is(true, 0, false, true);
    state_is(SLOT_STARTING);
}

static void test_policy_never_with_fail(void **state)
{
    (void)state;
    m.p.restart = RESTART_NEVER;
    reinit();
    to_running(T0);
    judge_failed("request timeout", T0 + SEC);
    exited(KILLED(SIGKILL), T0 + SEC + MS);
    act_is(false, 0, false, true);
    state_is(SLOT_STOPPED);
    reason_is(m.f.fail_reason, "request timeout");
}

static void test_policy_on_failure_with_fail_clean_exit(void **state)
{
    (void)state;
    m.p.restart = RESTART_ON_FAILURE;
    reinit();
    to_running(T0);
    judge_failed("watchdog timeout", T0 + SEC);
    /*
     * The worker exited 0 on its own just before the SIGKILL landed. The daemon
     * had judged it broken, and it is counted as a crash, so it is a failure:
     * restart = on-failure restarts it.
     */
    exited(EXIT_CODE(0), T0 + SEC + MS);
    assert_true(m.a.crashed);
    assert_true(m.f.exit_was_crash);
    act_is(true, 0, false, true);
    state_is(SLOT_STARTING);
}

static void test_spawn_failed_retries_under_never(void **state)
{
    (void)state;
    m.p.restart = RESTART_NEVER;
    reinit();
    to_starting(T0);
    /* A failed fork is the daemon's problem, not the worker's exit: it is retried. */
    step(SLOT_EV_SPAWN_FAILED, 0, "spawn failed", T0);
    act_is(false, 0, false, true);
    state_is(SLOT_BACKOFF);
    ev(SLOT_EV_TIMER, m.f.deadline);
    act_is(true, 0, false, false);
    state_is(SLOT_STARTING);
}

/* --- ready = notify, watchdog ------------------------------------------- */

static void test_notify_start_timeout(void **state)
{
    (void)state;
    m.p.ready_notify = true;
    m.p.start_timeout_us = 2 * SEC;
    to_starting(T0);
    assert_int_equal(m.f.deadline, T0 + 2 * SEC);
    /* Early timer: nothing. */
    ignored(SLOT_EV_TIMER, 0, T0 + SEC);
    ev(SLOT_EV_TIMER, T0 + 2 * SEC);
    act_is(false, SIGKILL, false, false);
    state_is(SLOT_STARTING);
    reason_is(m.f.pending_fail, "start timeout");
    assert_int_equal(m.f.deadline, 0);
    exited(KILLED(SIGKILL), T0 + 2 * SEC + MS);
    act_is(true, 0, false, true);
    state_is(SLOT_STARTING);
    reason_is(m.f.fail_reason, "start timeout");
    assert_null(m.f.pending_fail);
    /* The new process gets a fresh start timeout. */
    assert_int_equal(m.f.deadline, T0 + 2 * SEC + MS + 2 * SEC);
}

static void test_notify_ready_in_time(void **state)
{
    (void)state;
    m.p.ready_notify = true;
    to_starting(T0);
    ev(SLOT_EV_READY, T0 + 9 * SEC);
    act_none();
    state_is(SLOT_RUNNING);
    assert_int_equal(m.f.deadline, 0); /* watchdog off */
    /* The old start timeout firing later is stale. */
    ignored(SLOT_EV_TIMER, 0, T0 + 10 * SEC);
    state_is(SLOT_RUNNING);
}

static void test_watchdog(void **state)
{
    (void)state;
    m.p.ready_notify = true;
    m.p.watchdog_us = 5 * SEC;
    to_starting(T0);
    ev(SLOT_EV_READY, T0 + SEC);
    assert_int_equal(m.f.deadline, T0 + 6 * SEC);
    /* Keep-alives push the deadline. */
    ev(SLOT_EV_WATCHDOG, T0 + 3 * SEC);
    act_none();
    assert_int_equal(m.f.deadline, T0 + 8 * SEC);
    /* The timer armed for the old deadline is now stale. */
    ignored(SLOT_EV_TIMER, 0, T0 + 6 * SEC);
    ev(SLOT_EV_TIMER, T0 + 8 * SEC);
    act_is(false, SIGKILL, false, false);
    state_is(SLOT_RUNNING);
    reason_is(m.f.pending_fail, "watchdog timeout");
    assert_int_equal(m.f.deadline, 0);
    /* A late keep-alive does not revive it. */
    ignored(SLOT_EV_WATCHDOG, 0, T0 + 8 * SEC + 1);
    exited(KILLED(SIGKILL), T0 + 8 * SEC + MS);
    act_is(true, 0, false, true);
    assert_true(m.f.exit_was_crash);
    /* Restarted at once; status still explains the last exit. */
    state_is(SLOT_STARTING);
    reason_is(m.f.fail_reason, "watchdog timeout");
}

/* --- stale timers ------------------------------------------------------- */

static void test_stale_timers(void **state)
{
    (void)state;
    /* In each state with a deadline, a timer before it does nothing. */
    to_backoff(T0);
    ignored(SLOT_EV_TIMER, 0, m.f.deadline - 1);
    teardown(NULL);
    setup(NULL);
    to_stopping(T0);
    ignored(SLOT_EV_TIMER, 0, m.f.deadline - 1);
    teardown(NULL);
    setup(NULL);
    m.p.ready_notify = true;
    to_starting(T0);
    ignored(SLOT_EV_TIMER, 0, m.f.deadline - 1);
    teardown(NULL);
    setup(NULL);
    m.p.ready_notify = true;
    m.p.watchdog_us = SEC;
    to_running(T0);
    ignored(SLOT_EV_TIMER, 0, m.f.deadline - 1);
}

/* --- counters ----------------------------------------------------------- */

static void test_restart_counter(void **state)
{
    (void)state;
    to_running(T0);
    assert_int_equal(m.f.restarts, 0);
    ev(SLOT_EV_STOP, T0 + SEC);
    exited(KILLED(SIGTERM), T0 + 2 * SEC);
    state_is(SLOT_STOPPED);
    /* Starting a stopped slot that ran before is a restart. */
    ev(SLOT_EV_START, T0 + 3 * SEC);
    assert_int_equal(m.f.restarts, 1);
    assert_int_equal(m.f.ready_at, 0);
    assert_null(m.f.pending_fail);
}

/* --- start_grace: when a running worker counts as started ---------------- */

static void grace(uint64_t us)
{
    m.p.start_grace_us = us;
    reinit();
}

static void test_grace_zero_up_at_exec(void **state)
{
    (void)state;
    to_starting(T0);
    assert_false(m.f.up);
    ev(SLOT_EV_READY, T0 + MS);
    state_is(SLOT_RUNNING);
    assert_true(m.f.up);
    assert_int_equal(m.f.up_at, T0 + MS);
    assert_int_equal(m.f.deadline, 0);
}

static void test_grace_exec_ready_not_up(void **state)
{
    (void)state;
    grace(SEC);
    to_starting(T0);
    ev(SLOT_EV_READY, T0 + 5 * MS);
    act_none();
    state_is(SLOT_RUNNING);
    assert_false(m.f.up);
    assert_int_equal(m.f.ready_at, T0 + 5 * MS);
    assert_int_equal(m.f.deadline, T0 + SEC); /* measured from the spawn */
}

static void test_grace_timer_makes_up(void **state)
{
    (void)state;
    grace(SEC);
    to_running(T0);
    ev(SLOT_EV_TIMER, T0 + SEC - 1); /* early: nothing is due */
    act_none();
    assert_false(m.f.up);
    assert_int_equal(m.f.deadline, T0 + SEC);
    ev(SLOT_EV_TIMER, T0 + SEC);
    act_none(); /* not a watchdog timeout */
    state_is(SLOT_RUNNING);
    assert_true(m.f.up);
    assert_int_equal(m.f.up_at, T0 + SEC);
    assert_int_equal(m.f.deadline, 0);
    assert_null(m.f.pending_fail);
}

static void test_grace_ready_after_grace(void **state)
{
    (void)state;
    grace(SEC);
    to_starting(T0);
    ev(SLOT_EV_READY, T0 + 2 * SEC); /* a slow exec already took the whole grace */
    assert_true(m.f.up);
    assert_int_equal(m.f.deadline, 0);
}

static void test_grace_exit_within_is_failed_start(void **state)
{
    (void)state;
    grace(SEC);
    to_running(T0);
    exited(EXIT_CODE(7), T0 + 200 * MS);
    act_is(true, 0, false, true); /* first crash: again at once */
    state_is(SLOT_STARTING);
    assert_int_equal(m.f.start_failures, 1);
    assert_int_equal(m.f.exit_wstatus, EXIT_CODE(7));
    assert_false(m.f.up);
    /* The next process has its own grace. */
    ev(SLOT_EV_READY, T0 + 201 * MS);
    assert_false(m.f.up);
    assert_int_equal(m.f.deadline, T0 + 200 * MS + SEC);
}

static void test_grace_exit_after_is_not_failed_start(void **state)
{
    (void)state;
    grace(SEC);
    to_running(T0);
    ev(SLOT_EV_TIMER, T0 + SEC);
    exited(EXIT_CODE(7), T0 + 2 * SEC);
    assert_int_equal(m.f.start_failures, 0);
    assert_int_equal(m.f.crashes, 1);
}

static void test_grace_exit_starting_is_failed_start(void **state)
{
    (void)state;
    to_starting(T0);
    exited(EXIT_CODE(1), T0 + MS);
    assert_int_equal(m.f.start_failures, 1);
}

static void test_grace_spawn_failed_is_failed_start(void **state)
{
    (void)state;
    to_starting(T0);
    step(SLOT_EV_SPAWN_FAILED, 0, "spawn failed", T0);
    assert_int_equal(m.f.start_failures, 1);
}

static void test_grace_clean_exit_under_never_is_failed_start(void **state)
{
    (void)state;
    m.p.restart = RESTART_NEVER;
    grace(SEC);
    to_running(T0);
    exited(EXIT_CODE(0), T0 + 10 * MS);
    state_is(SLOT_STOPPED);
    assert_int_equal(m.f.start_failures, 1);
    assert_int_equal(m.f.crashes, 0);
}

static void test_grace_fail_within_is_failed_start(void **state)
{
    (void)state;
    grace(SEC);
    to_running(T0);
    judge_failed("request timeout", T0 + 100 * MS);
    act_is(false, SIGKILL, false, false);
    exited(KILLED(SIGKILL), T0 + 110 * MS);
    assert_int_equal(m.f.start_failures, 1);
    reason_is(m.f.fail_reason, "request timeout");
}

static void test_grace_stop_within(void **state)
{
    (void)state;
    grace(SEC);
    to_running(T0);
    ev(SLOT_EV_STOP, T0 + 100 * MS);
    state_is(SLOT_STOPPING);
    assert_int_equal(m.f.deadline, T0 + 100 * MS + 10 * SEC); /* the stop timeout, not the grace */
    exited(KILLED(SIGTERM), T0 + 200 * MS);
    state_is(SLOT_STOPPED);
    assert_int_equal(m.f.start_failures, 0); /* asked for: not a failed start */
}

static void test_grace_restart_clears_up(void **state)
{
    (void)state;
    grace(SEC);
    to_running(T0);
    ev(SLOT_EV_TIMER, T0 + SEC);
    assert_true(m.f.up);
    ev(SLOT_EV_RESTART, T0 + 5 * SEC);
    exited(KILLED(SIGTERM), T0 + 5 * SEC + MS);
    state_is(SLOT_STARTING);
    assert_false(m.f.up);
    assert_int_equal(m.f.up_at, 0);
}

static void test_grace_notify_ready_is_up(void **state)
{
    (void)state;
    m.p.ready_notify = true;
    m.p.watchdog_us = 3 * SEC;
    grace(SEC);
    to_starting(T0);
    ev(SLOT_EV_READY, T0 + 10 * MS); /* READY=1 needs no grace */
    assert_true(m.f.up);
    assert_int_equal(m.f.deadline, T0 + 10 * MS + 3 * SEC); /* the watchdog's */
}

static void test_grace_notify_timeout_is_failed_start(void **state)
{
    (void)state;
    m.p.ready_notify = true;
    reinit();
    to_starting(T0);
    ev(SLOT_EV_TIMER, T0 + 10 * SEC);
    exited(KILLED(SIGKILL), T0 + 10 * SEC + MS);
    assert_int_equal(m.f.start_failures, 1);
    reason_is(m.f.fail_reason, "start timeout");
}

/* --- RESET: a reload gave the slot new settings --------------------------- */

static void test_reset_stopped(void **state)
{
    (void)state;
    ev(SLOT_EV_RESET, T0);
    act_none();
    state_is(SLOT_STOPPED);
}

static void test_reset_starting_running_stopping(void **state)
{
    (void)state;
    to_backoff(T0);
    ev(SLOT_EV_TIMER, m.f.deadline);
    state_is(SLOT_STARTING);
    assert_int_equal(m.f.streak, 2);
    ev(SLOT_EV_RESET, T0 + SEC);
    act_none();
    state_is(SLOT_STARTING);
    assert_int_equal(m.f.streak, 0);
    ev(SLOT_EV_READY, T0 + SEC);
    exited(EXIT_CODE(1), T0 + SEC + MS);
    assert_int_equal(m.f.streak, 1);
    ev(SLOT_EV_READY, T0 + SEC + MS);
    ev(SLOT_EV_RESET, T0 + 2 * SEC);
    act_none();
    state_is(SLOT_RUNNING);
    assert_int_equal(m.f.streak, 0);
    ev(SLOT_EV_STOP, T0 + 3 * SEC);
    ev(SLOT_EV_RESET, T0 + 3 * SEC);
    act_none();
    state_is(SLOT_STOPPING);
}

static void test_reset_backoff_starts_now(void **state)
{
    (void)state;
    m.p.restart_delay_us = 5 * SEC;
    reinit();
    to_backoff(T0);
    assert_int_equal(m.f.deadline, T0 + 2 * MS + 5 * SEC);
    ev(SLOT_EV_RESET, T0 + SEC);
    act_is(true, 0, false, false);
    state_is(SLOT_STARTING);
    assert_int_equal(m.f.streak, 0);
    assert_int_equal(m.f.started_at, T0 + SEC);
    /* A crash of the new settings starts again at once, as a first crash does. */
    ev(SLOT_EV_READY, T0 + SEC);
    exited(EXIT_CODE(1), T0 + SEC + MS);
    state_is(SLOT_STARTING);
}

static void test_reset_fatal_starts_now(void **state)
{
    (void)state;
    to_fatal(T0);
    ev(SLOT_EV_RESET, T0 + SEC);
    act_is(true, 0, false, false);
    state_is(SLOT_STARTING);
    assert_int_equal(m.f.streak, 0);
    assert_int_equal(m.f.window.len, 0);
}

static void test_reset_fatal_stopped_stays(void **state)
{
    (void)state;
    to_fatal(T0);
    ev(SLOT_EV_STOP, T0 + SEC);
    state_is(SLOT_STOPPED);
    ev(SLOT_EV_RESET, T0 + 2 * SEC);
    act_none();
    state_is(SLOT_STOPPED); /* the operator's stop stands */
}

/* --- the pool's crash restart budget (crash_restart_rate) ----------------- */

static struct restart_gate gate;

/* A pool budget of count restarts per window, restart_delay 0, no crash_limit. */
static void gate_on(unsigned count, uint64_t window, uint64_t grace)
{
    m.p.restart_delay_us = 0;
    m.p.restart_delay_max_us = 30 * SEC;
    m.p.crash_limit = 0;
    m.p.start_grace_us = grace;
    reinit();
    memset(&gate, 0, sizeof(gate)); /* each test its own budget */
    restart_gate_set(&gate, count, window);
    m.f.gate = &gate;
}

/* Start and exec at now (not yet up while start_grace runs), then exit at now + ran. */
static void run_and_crash(uint64_t now, uint64_t ran)
{
    ev(SLOT_EV_READY, now);
    exited(EXIT_CODE(1), now + ran);
}

/* A failed start restarts at once while the budget has room; past it, it waits its turn. */
static void test_gate_failed_start_waits(void **state)
{
    (void)state;
    gate_on(1, SEC, SEC);
    to_starting(T0);
    run_and_crash(T0, 10 * MS);
    act_is(true, 0, false, true); /* the budget's one restart */
    state_is(SLOT_STARTING);
    run_and_crash(T0 + 10 * MS, 10 * MS);
    act_is(false, 0, false, true);
    state_is(SLOT_BACKOFF); /* restart_delay 0, but the budget is spent */
    assert_int_equal(m.f.deadline, T0 + 10 * MS + SEC);
    ev(SLOT_EV_TIMER, T0 + 10 * MS + SEC);
    act_is(true, 0, false, false);
    state_is(SLOT_STARTING);
    /* That start was the time given, not a second one taken: the next is one interval on. */
    assert_int_equal(restart_gate_take(&gate, T0 + 10 * MS + SEC), T0 + 10 * MS + 2 * SEC);
}

/* A crash after a healthy run (started, first of its streak) never waits, budget or not. */
static void test_gate_healthy_crash_never_waits(void **state)
{
    (void)state;
    gate_on(1, 10 * SEC, 0);
    restart_gate_take(&gate, T0);
    restart_gate_take(&gate, T0); /* spent for 20 s */
    to_running(T0);
    assert_true(m.f.up);
    exited(KILLED(SIGKILL), T0 + 60 * SEC);
    act_is(true, 0, false, true);
    state_is(SLOT_STARTING);
    assert_int_equal(restart_gate_take(&gate, T0 + 60 * SEC), T0 + 60 * SEC); /* not used */
}

/* Started workers that crash quickly: the first crash of the streak is free, the next wait. */
static void test_gate_streak_of_started_workers(void **state)
{
    (void)state;
    gate_on(1, 10 * SEC, 0);
    restart_gate_take(&gate, T0); /* spent until T0 + 10 s */
    to_running(T0);
    exited(EXIT_CODE(1), T0 + 5 * MS);
    act_is(true, 0, false, true); /* streak 1: at once */
    ev(SLOT_EV_READY, T0 + 5 * MS);
    exited(EXIT_CODE(1), T0 + 10 * MS);
    state_is(SLOT_BACKOFF); /* streak 2: restart_delay 0 would go at once; the budget says no */
    assert_int_equal(m.f.deadline, T0 + 10 * SEC);
}

/* A backoff runs first; when it is over, a spent budget holds the slot in backoff longer. */
static void test_gate_after_backoff(void **state)
{
    (void)state;
    gate_on(1, 10 * SEC, SEC);
    m.p.restart_delay_us = 100 * MS;
    to_starting(T0);
    run_and_crash(T0, MS);
    act_is(true, 0, false, true); /* first crash: at once, the budget's one restart */
    run_and_crash(T0 + MS, MS);
    state_is(SLOT_BACKOFF);
    assert_int_equal(m.f.deadline, T0 + 2 * MS + 100 * MS); /* the backoff asks nothing yet */
    ev(SLOT_EV_TIMER, T0 + 102 * MS);
    act_none();
    state_is(SLOT_BACKOFF);
    assert_int_equal(m.f.deadline, T0 + MS + 10 * SEC); /* its turn: 10 s after the first */
    ev(SLOT_EV_TIMER, T0 + 5 * SEC);                    /* early: nothing */
    act_none();
    ev(SLOT_EV_TIMER, T0 + MS + 10 * SEC);
    act_is(true, 0, false, false);
    state_is(SLOT_STARTING);
}

/* An operator's start, a stop and a reload's reset act at once on a slot the budget holds. */
static void test_gate_operator_not_held(void **state)
{
    (void)state;
    gate_on(1, 10 * SEC, SEC);
    to_starting(T0);
    run_and_crash(T0, MS);
    run_and_crash(T0 + MS, MS);
    state_is(SLOT_BACKOFF);
    ev(SLOT_EV_START, T0 + 3 * MS);
    act_is(true, 0, false, false);
    run_and_crash(T0 + 3 * MS, MS);
    state_is(SLOT_BACKOFF);
    ev(SLOT_EV_STOP, T0 + 5 * MS);
    state_is(SLOT_STOPPED);
    assert_int_equal(m.f.deadline, 0);
    ev(SLOT_EV_START, T0 + 6 * MS);
    run_and_crash(T0 + 6 * MS, MS);
    run_and_crash(T0 + 7 * MS, MS);
    state_is(SLOT_BACKOFF);
    ev(SLOT_EV_RESET, T0 + 9 * MS);
    act_is(true, 0, false, false);
}

/*
 * The budget changed on reload while a restart waits for a time the old one gave: the
 * restart is due at once and asks the new budget (none: it goes now). A backoff of the
 * slot's own (restart_delay) is not the budget's and keeps its deadline.
 */
static void test_gate_changed_releases_held_restart(void **state)
{
    (void)state;
    gate_on(1, 60 * SEC, SEC);
    to_starting(T0);
    run_and_crash(T0, 10 * MS);
    act_is(true, 0, false, true); /* the budget's one restart */
    run_and_crash(T0 + 10 * MS, 10 * MS);
    state_is(SLOT_BACKOFF);
    assert_int_equal(m.f.deadline, T0 + 10 * MS + 60 * SEC); /* held for the old budget */
    assert_true(restart_gate_set(&gate, 0, 0));              /* reload: none */
    assert_true(slot_fsm_gate_changed(&m.f, T0 + SEC));
    assert_int_equal(m.f.deadline, T0 + SEC);
    assert_false(slot_fsm_gate_changed(&m.f, T0 + SEC)); /* once */
    ev(SLOT_EV_TIMER, T0 + SEC);
    act_is(true, 0, false, false);
    state_is(SLOT_STARTING);
    /* Not in backoff: nothing to move. */
    assert_false(slot_fsm_gate_changed(&m.f, T0 + 2 * SEC));
}

/* A backoff of the slot's own (restart_delay, not the budget's) keeps its deadline. */
static void test_gate_changed_keeps_own_backoff(void **state)
{
    (void)state;
    gate_on(0, 0, SEC);
    m.p.restart_delay_us = 5 * SEC;
    to_starting(T0);
    run_and_crash(T0, 10 * MS); /* the first of a streak restarts at once */
    run_and_crash(T0 + 10 * MS, 10 * MS);
    state_is(SLOT_BACKOFF);
    uint64_t due = m.f.deadline;
    assert_true(due > T0 + 20 * MS);
    assert_false(slot_fsm_gate_changed(&m.f, T0 + 30 * MS));
    assert_int_equal(m.f.deadline, due);
}

/* crash_restart_rate = none: a gate without a limit, the backoff alone as before. */
static void test_gate_none(void **state)
{
    (void)state;
    gate_on(0, 0, SEC);
    to_starting(T0);
    for (int i = 0; i < 2; i++) {
        run_and_crash(T0 + (uint64_t)i * MS, MS);
        act_is(true, 0, false, true); /* the first two crashes restart at once */
    }
    run_and_crash(T0 + 2 * MS, MS);
    state_is(SLOT_BACKOFF);
    assert_int_equal(m.f.deadline, T0 + 3 * MS + 2 * BACKOFF_SEED_US);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_names),
        T(test_init),
        T(test_stopped_start),
        T(test_stopped_restart),
        T(test_stopped_ignores),
        T(test_starting_start),
        T(test_starting_stop),
        T(test_starting_restart),
        T(test_starting_ready),
        T(test_starting_exited),
        T(test_starting_spawn_failed),
        T(test_starting_watchdog_ignored),
        T(test_starting_timer_without_deadline),
        T(test_starting_fail),
        T(test_running_start),
        T(test_running_stop),
        T(test_running_stop_signal),
        T(test_running_restart),
        T(test_running_ignores),
        T(test_running_exited),
        T(test_running_fail),
        T(test_running_fail_stop),
        T(test_fail_stop_not_running),
        T(test_stopping_start),
        T(test_stopping_stop),
        T(test_stopping_restart),
        T(test_stopping_ignores),
        T(test_stopping_timer_kills),
        T(test_stopping_exited),
        T(test_stopping_exited_then_restart),
        T(test_backoff_state),
        T(test_backoff_timer),
        T(test_backoff_timer_late),
        T(test_backoff_start),
        T(test_backoff_restart),
        T(test_backoff_stop),
        T(test_backoff_ignores),
        T(test_fatal_state),
        T(test_fatal_start_clears),
        T(test_fatal_restart_clears),
        T(test_fatal_stop),
        T(test_fatal_ignores),
        T(test_backoff_growth_and_cap),
        T(test_healthy_run_resets_streak),
        T(test_almost_healthy_run_keeps_streak),
        T(test_crash_limit_goes_fatal),
        T(test_crash_limit_spread_out),
        T(test_crash_limit_none),
        T(test_spawn_failures_go_fatal),
        T(test_spawn_failures_do_not_spin),
        T(test_policy_changed),
        T(test_policy_never),
        T(test_policy_on_failure),
        T(test_policy_always),
        T(test_policy_never_with_fail),
        T(test_policy_on_failure_with_fail_clean_exit),
        T(test_spawn_failed_retries_under_never),
        T(test_notify_start_timeout),
        T(test_notify_ready_in_time),
        T(test_watchdog),
        T(test_stale_timers),
        T(test_restart_counter),
        T(test_grace_zero_up_at_exec),
        T(test_grace_exec_ready_not_up),
        T(test_grace_timer_makes_up),
        T(test_grace_ready_after_grace),
        T(test_grace_exit_within_is_failed_start),
        T(test_grace_exit_after_is_not_failed_start),
        T(test_grace_exit_starting_is_failed_start),
        T(test_grace_spawn_failed_is_failed_start),
        T(test_grace_clean_exit_under_never_is_failed_start),
        T(test_grace_fail_within_is_failed_start),
        T(test_grace_stop_within),
        T(test_grace_restart_clears_up),
        T(test_grace_notify_ready_is_up),
        T(test_grace_notify_timeout_is_failed_start),
        T(test_reset_stopped),
        T(test_reset_starting_running_stopping),
        T(test_reset_backoff_starts_now),
        T(test_reset_fatal_starts_now),
        T(test_reset_fatal_stopped_stays),
        T(test_gate_failed_start_waits),
        T(test_gate_healthy_crash_never_waits),
        T(test_gate_streak_of_started_workers),
        T(test_gate_after_backoff),
        T(test_gate_operator_not_held),
        T(test_gate_none),
        T(test_gate_changed_releases_held_restart),
        T(test_gate_changed_keeps_own_backoff),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
