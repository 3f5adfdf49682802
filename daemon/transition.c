/* SPDX-License-Identifier: ISC */
/*
 * What a slot's transition tells the operator (see transition.h): log
 * lines, the event ring's entry and its cause, descriptions of an exit.
 */
#include "transition.h"

#include <stdio.h>
#include <string.h>
#include <sys/wait.h>

#include "log.h"
#include "parse.h"
#include "sys.h"

/* The cause the caller of the next slot_event() gives (events.h, plus one); 0: from the event. */
static unsigned char cause_hint;

void slot_cause_hint(enum event_cause c)
{
    cause_hint = (unsigned char)(1 + c);
}

void slot_note_cause(struct slot *s, enum slot_event ev)
{
    unsigned char hint = cause_hint;

    cause_hint = 0;
    if (hint != 0)
        s->event_cause = hint;
    else if (ev == SLOT_EV_STOP)
        s->event_cause = 1 + (droverd.shutting_down ? EVC_SHUTDOWN : EVC_STOP);
    else if (s->event_cause == 0 && ev == SLOT_EV_RESTART)
        s->event_cause = 1 + EVC_RESTART;
    else if (ev == SLOT_EV_FAIL || ev == SLOT_EV_FAIL_STOP)
        s->event_cause = 1 + EVC_FAILED;
}

void slot_record_event(struct slot *s, enum slot_state from, enum slot_event ev,
                       const struct slot_action *act, uint64_t now, pid_t exit_pid)
{
    struct pool *p = s->pool;
    enum slot_state to = s->fsm.state;
    enum event_cause c;
    char how[64] = "", detail[112] = "", delay[32];
    pid_t pid = s->pid;

    if (from == to)
        return;
    if (ev == SLOT_EV_EXITED) {
        describe_wait_status(s->fsm.exit_wstatus, how, sizeof(how));
        if (s->oom_exit != NULL) /* "killed by the OOM killer (memory_max 512M)", not "by KILL" */
            snprintf(how, sizeof(how), "%s", s->oom_exit);
        pid = exit_pid;
    }
    /* A worker that could not exec, or a fork that failed here: say what went wrong. */
    if (s->exec_error != NULL && act->crashed && (ev != SLOT_EV_EXITED || from == SLOT_STARTING))
        snprintf(how, sizeof(how), "%s", s->exec_error);
    if (act->became_fatal) {
        c = EVC_FATAL;
        snprintf(detail, sizeof(detail), "%s%smore than %u crashes in the window", how,
                 how[0] ? "; " : "", p->policy.crash_limit);
    } else if (to == SLOT_BACKOFF) {
        c = ev == SLOT_EV_EXITED && s->oom_exit != NULL ? EVC_OOM : EVC_BACKOFF;
        format_duration_short(s->fsm.deadline > now ? s->fsm.deadline - now : 0, delay,
                              sizeof(delay));
        snprintf(detail, sizeof(detail), "%s%srestart in %s", how, how[0] ? "; " : "", delay);
    } else if (ev == SLOT_EV_SPAWN_FAILED) {
        c = EVC_SPAWN_FAIL;
        snprintf(detail, sizeof(detail), "%s", s->exec_error != NULL ? s->exec_error : "");
    } else if (ev == SLOT_EV_EXITED && from == SLOT_STOPPING && s->event_cause != 0) {
        c = (enum event_cause)(s->event_cause - 1);
        snprintf(detail, sizeof(detail), "%s", how);
    } else if (ev == SLOT_EV_EXITED) {
        c = s->fsm.fail_reason != NULL ? EVC_FAILED : s->oom_exit != NULL ? EVC_OOM : EVC_EXITED;
        snprintf(detail, sizeof(detail), "%s%s%s", how, s->fsm.fail_reason ? ": " : "",
                 s->fsm.fail_reason ? s->fsm.fail_reason : "");
    } else if (to == SLOT_RUNNING) {
        c = EVC_READY;
    } else if (ev == SLOT_EV_TIMER && from == SLOT_BACKOFF) {
        c = EVC_SPAWNED;
    } else if (ev == SLOT_EV_RESET) {
        c = EVC_RELOAD;
    } else if (ev == SLOT_EV_START) {
        c = EVC_START;
    } else if (s->event_cause != 0) {
        c = (enum event_cause)(s->event_cause - 1);
        if (c == EVC_FAILED && s->fsm.fail_reason != NULL)
            snprintf(detail, sizeof(detail), "%s", s->fsm.fail_reason);
    } else {
        c = ev == SLOT_EV_TIMER ? EVC_FAILED : EVC_START;
        if (s->fsm.fail_reason != NULL)
            snprintf(detail, sizeof(detail), "%s", s->fsm.fail_reason);
    }
    events_record(p->name, (long)s->index, pid, slot_state_name(from), slot_state_name(to), c,
                  detail);
    /* The stop or restart asked for is over once the slot left stopping. */
    if (to != SLOT_STOPPING)
        s->event_cause = 0;
}

void slot_log_transition(struct slot *s, enum slot_state from, const struct slot_action *act)
{
    struct pool *p = s->pool;
    char delay[32];

    if (act->became_fatal) {
        char window[32];
        format_duration(p->policy.crash_window_us, window, sizeof(window));
        log_warnx("pool %s slot %u: fatal: more than %u crash%s in %s; not restarting until "
                  "`drover start %s:%u`",
                  p->name, s->index, p->policy.crash_limit, p->policy.crash_limit == 1 ? "" : "es",
                  window, p->name, s->index);
    } else if (s->fsm.state == SLOT_BACKOFF && from != SLOT_BACKOFF) {
        format_duration_short(s->fsm.deadline - mono_now(), delay, sizeof(delay));
        log_info("pool %s slot %u: crashed %u time%s in a row; restarting in %s", p->name, s->index,
                 s->fsm.streak, s->fsm.streak == 1 ? "" : "s", delay);
    }
}

void describe_wait_status(int wstatus, char *buf, size_t bufsz)
{
    if (WIFEXITED(wstatus))
        snprintf(buf, bufsz, "exit %d", WEXITSTATUS(wstatus));
    else if (WIFSIGNALED(wstatus))
        snprintf(buf, bufsz, "killed by %s%s", signal_name(WTERMSIG(wstatus)),
                 WCOREDUMP(wstatus) ? " (core dumped)" : "");
    else
        snprintf(buf, bufsz, "status 0x%x", wstatus);
}

void slot_describe_start_failure(const struct slot *s, char *buf, size_t bufsz)
{
    const struct slot_fsm *f = &s->fsm;
    const struct slot_policy *pol = &s->pool->policy;
    char how[96], limit[32];

    if (s->exec_error != NULL) {
        snprintf(buf, bufsz, "could not start: %s", s->exec_error);
        return;
    }
    if (f->fail_reason != NULL && strcmp(f->fail_reason, "start timeout") == 0) {
        format_duration(pol->start_timeout_us, limit, sizeof(limit));
        snprintf(buf, bufsz, "sent no READY=1 within start_timeout (%s)", limit);
        return;
    }
    if (f->fail_reason != NULL)
        snprintf(how, sizeof(how), "was killed (%s)", f->fail_reason);
    else if (WIFEXITED(f->exit_wstatus))
        snprintf(how, sizeof(how), "exited with status %d", WEXITSTATUS(f->exit_wstatus));
    else if (WIFSIGNALED(f->exit_wstatus))
        snprintf(how, sizeof(how), "was killed by %s", signal_name(WTERMSIG(f->exit_wstatus)));
    else
        snprintf(how, sizeof(how), "ended (status 0x%x)", f->exit_wstatus);
    if (pol->ready_notify) {
        snprintf(buf, bufsz, "%s before READY=1", how);
    } else {
        format_duration(pol->start_grace_us, limit, sizeof(limit));
        snprintf(buf, bufsz, "%s within start_grace (%s)", how, limit);
    }
}
