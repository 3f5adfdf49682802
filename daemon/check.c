/* SPDX-License-Identifier: ISC */
/*
 * Liveness checks (see check.h). Owns each slot's struct slot_check and the
 * check processes; spawns through spawn.c, reads the slot and its pool,
 * and changes no slot state itself: a verdict goes to the fail hook.
 */
#include "check.h"

#include <errno.h>
#include <event2/event.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "droverd.h"
#include "list.h"
#include "log.h"
#include "output.h"
#include "parse.h"
#include "pool_env.h"
#include "spawn.h"
#include "sys.h"
#include "xmalloc.h"

#define CHECK_BUCKETS 256

struct slot_check {
    struct slot *slot;   /* NULL once the slot is freed and only the process is left */
    struct event *timer; /* the next check, or the running one's timeout */
    pid_t pid;           /* the check running now; 0 = none */
    int status_fd;       /* its exec status pipe; -1 = none */
    pid_t worker_pid;    /* the worker the failure count is about */
    unsigned failures;   /* in a row */
    bool timed_out;      /* the running check was killed at its timeout */
    bool cancelled;      /* the running check was killed because the worker stopped */
    uint64_t timeout_us; /* the running check's timeout, for its message */
    /* Verdicts, alternating so the one the last exit shows stays while a new one is made. */
    char verdict[2][160];
    unsigned verdict_next;
    SLIST_ENTRY(slot_check) pid_link;
};

static SLIST_HEAD(check_bucket, slot_check) running[CHECK_BUCKETS];
static unsigned nrunning;
static void (*fail_hook)(struct slot *s, const char *reason);

void check_init(void (*fail)(struct slot *s, const char *reason))
{
    fail_hook = fail;
}

static struct check_bucket *bucket(pid_t pid)
{
    return &running[(unsigned)pid % CHECK_BUCKETS];
}

unsigned check_running(void)
{
    return nrunning;
}

/* Checks run only for a running worker, not one already judged failed, of a pool that has one. */
static bool check_wanted(const struct slot *s)
{
    return s->fsm.state == SLOT_RUNNING && s->fsm.pending_fail == NULL && s->pid > 0 &&
           s->pool->cfg->check_argv != NULL && s->pool->cfg->check_exec_path != NULL &&
           !s->removing && !s->pool->removing;
}

static void arm(struct slot_check *c, uint64_t us)
{
    struct timeval tv = {.tv_sec = (time_t)(us / 1000000), .tv_usec = (suseconds_t)(us % 1000000)};

    event_add(c->timer, &tv);
}

/* Kill the running check's process group; the reaper finishes it. */
static void kill_check(struct slot_check *c)
{
    if (c->pid <= 0)
        return;
    if (kill(-c->pid, SIGKILL) != 0)
        kill(c->pid, SIGKILL);
}

static void check_free(struct slot_check *c)
{
    if (c->timer != NULL)
        event_free(c->timer);
    if (c->status_fd >= 0)
        close(c->status_fd);
    free(c);
}

/* Start the check of c's worker now. */
static void check_start(struct slot_check *c)
{
    struct slot *s = c->slot;
    struct pool *p = s->pool;
    const struct pool_config *pc = p->cfg;
    struct spawn_plan plan = {0};
    char *extra[3], err[PARSE_ERR_MAX];
    size_t nbase = strv_len(p->env_base);
    int rc;

    xasprintf(&extra[0], "DROVER_SLOT=%u", s->index);
    xasprintf(&extra[1], "DROVER_WORKER=%u", s->index);
    xasprintf(&extra[2], "DROVER_PID=%d", (int)s->pid);
    char **envp = xcalloc(nbase + 4, sizeof(*envp));
    memcpy(envp, extra, sizeof(extra));
    memcpy(envp + 3, p->env_base, nbase * sizeof(*envp));

    plan.path = pc->check_exec_path;
    plan.argv = pc->check_argv;
    plan.envp = envp;
    plan.pid_env[0] = plan.pid_env[1] = -1;
    plan.fd_stdin = droverd.devnull;
    /* The check's output goes where the worker's goes: the pool's log shows why it failed. */
    if (pc->stdout_mode == STDOUT_LOG && s->output != NULL) {
        plan.fd_stdout = output_pipe_write_fd(s->output);
        plan.fd_stderr = output_pipe_err_fd(s->output, pc->log_stderr == LOG_STDERR_MARKED);
    } else if (pc->stdout_mode == STDOUT_INHERIT)
        plan.fd_stdout = plan.fd_stderr = -1;
    else
        plan.fd_stdout = plan.fd_stderr = droverd.devnull;
    plan.fd3 = -1;
    plan.cpu = -1;
    pool_env_identity(p, &plan);

    rc = spawn_process(&plan, &c->pid, &c->status_fd, err, sizeof(err));
    for (size_t i = 0; i < 3; i++)
        free(extra[i]);
    free(envp);
    if (rc != 0) {
        /* droverd's trouble, not the worker's: try again at the next interval. */
        c->pid = 0;
        log_warnx("pool %s slot %u: liveness check: %s", p->name, s->index, err);
        arm(c, pc->check_interval_us);
        return;
    }
    setpgid(c->pid, c->pid);
    SLIST_INSERT_HEAD(bucket(c->pid), c, pid_link);
    nrunning++;
    c->timed_out = false;
    c->cancelled = false;
    c->timeout_us = pc->check_timeout_us;
    arm(c, pc->check_timeout_us);
    log_debug("pool %s slot %u: liveness check pid %d started", p->name, s->index, (int)c->pid);
}

static void check_timer_cb(evutil_socket_t fd, short what, void *arg)
{
    struct slot_check *c = arg;

    (void)fd;
    (void)what;
    if (c->pid > 0) {
        /* Its timeout: the reaper counts the failure once the group is dead. */
        c->timed_out = true;
        kill_check(c);
        return;
    }
    if (c->slot != NULL && check_wanted(c->slot))
        check_start(c);
}

void check_slot_changed(struct slot *s)
{
    struct slot_check *c = s->check;

    if (!check_wanted(s)) {
        if (c == NULL)
            return;
        event_del(c->timer);
        if (c->pid > 0 && !c->cancelled) {
            c->cancelled = true;
            kill_check(c);
        }
        return;
    }
    if (c == NULL) {
        c = s->check = xcalloc(1, sizeof(*c));
        c->slot = s;
        c->status_fd = -1;
        c->timer = evtimer_new(droverd.base, check_timer_cb, c);
    }
    if (c->worker_pid != s->pid) {
        /* A new worker process: its own count, its first check one interval from now. */
        c->worker_pid = s->pid;
        c->failures = 0;
        if (c->pid > 0 && !c->cancelled) {
            c->cancelled = true;
            kill_check(c);
        }
        event_del(c->timer);
    }
    /* Running, or waiting for the reaper (which arms the next one): nothing to start. */
    if (c->pid > 0 || evtimer_pending(c->timer, NULL))
        return;
    arm(c, s->pool->cfg->check_interval_us);
}

void check_slot_free(struct slot *s)
{
    struct slot_check *c = s->check;

    if (c == NULL)
        return;
    s->check = NULL;
    c->slot = NULL;
    event_del(c->timer);
    if (c->pid > 0) {
        c->cancelled = true;
        kill_check(c); /* freed when reaped */
        return;
    }
    check_free(c);
}

/* Why the check failed, or NULL if it passed. */
static const char *check_outcome(struct slot_check *c, int wstatus, char *buf, size_t bufsz)
{
    struct spawn_failure f;
    ssize_t n = c->status_fd >= 0 ? read(c->status_fd, &f, sizeof(f)) : 0;

    if (c->timed_out) {
        char d[32];
        format_duration(c->timeout_us, d, sizeof(d));
        snprintf(buf, bufsz, "timed out after %s", d);
    } else if (n == (ssize_t)sizeof(f)) {
        spawn_failure_describe(&f, c->slot->pool->cfg->check_exec_path, buf, bufsz);
    } else if (WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0) {
        return NULL;
    } else if (WIFEXITED(wstatus)) {
        snprintf(buf, bufsz, "exit %d", WEXITSTATUS(wstatus));
    } else {
        snprintf(buf, bufsz, "killed by %s", signal_name(WTERMSIG(wstatus)));
    }
    return buf;
}

bool check_owns_pid(pid_t pid)
{
    struct slot_check *c;

    SLIST_FOREACH(c, bucket(pid), pid_link)
        if (c->pid == pid)
            return true;
    return false;
}

bool check_reaped(pid_t pid, int wstatus)
{
    struct slot_check *c;
    struct slot *s;
    char why[128];
    const char *failed;

    SLIST_FOREACH(c, bucket(pid), pid_link)
        if (c->pid == pid)
            break;
    if (c == NULL)
        return false;
    SLIST_REMOVE(bucket(pid), c, slot_check, pid_link);
    nrunning--;
    /* Whatever the check left in its process group goes with it. */
    kill(-pid, SIGKILL);
    c->pid = 0;
    s = c->slot;
    if (s == NULL) {
        check_free(c);
        return true;
    }
    failed = c->cancelled ? NULL : check_outcome(c, wstatus, why, sizeof(why));
    if (c->status_fd >= 0) {
        close(c->status_fd);
        c->status_fd = -1;
    }
    event_del(c->timer);
    if (c->cancelled || !check_wanted(s)) {
        c->cancelled = false;
        check_slot_changed(s);
        return true;
    }
    if (failed == NULL) {
        c->failures = 0;
    } else {
        unsigned limit = s->pool->cfg->check_failures;
        c->failures++;
        log_warnx("pool %s slot %u: pid %d: liveness check failed (%u of %u in a row): %s",
                  s->pool->name, s->index, (int)s->pid, c->failures, limit, failed);
        if (c->failures >= limit) {
            char *verdict = c->verdict[c->verdict_next];
            c->verdict_next ^= 1;
            snprintf(verdict, sizeof(c->verdict[0]), "liveness check failed: %s", failed);
            c->failures = 0;
            fail_hook(s, verdict);
            return true; /* the slot's change of state calls check_slot_changed */
        }
    }
    arm(c, s->pool->cfg->check_interval_us);
    return true;
}

void check_cleanup(void)
{
    for (unsigned b = 0; b < CHECK_BUCKETS; b++) {
        struct slot_check *c;
        while ((c = SLIST_FIRST(&running[b])) != NULL) {
            SLIST_REMOVE_HEAD(&running[b], pid_link);
            kill_check(c);
            if (c->slot != NULL)
                c->slot->check = NULL;
            check_free(c);
        }
    }
    nrunning = 0;
}
