/* SPDX-License-Identifier: ISC */
/*
 * Pools and slots (see pool.h). This is the thin layer between the pure
 * slot state machine and the system: it forks through spawn.c, signals
 * process groups, arms each slot's single timer, and tells the output,
 * routing and control modules what happened.
 */
#include "pool.h"

#include <errno.h>
#include <event2/event.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cgroup.h"
#include "check.h"
#include "events.h"
#include "log.h"
#include "output.h"
#include "parse.h"
#include "pool_env.h"
#include "recycle.h"
#include "route.h"
#include "spawn.h"
#include "usage.h"
#include "sys.h"
#include "xmalloc.h"

#define PID_BUCKETS 4096
#define FD_RESERVE  64 /* fds kept free of clients for control, logs, spawning */
static SLIST_HEAD(, slot) pid_map[PID_BUCKETS];

static void slot_free(struct slot *s);
static void pool_rolling_advance(struct pool *p);
static void pool_gc_cb(evutil_socket_t fd, short what, void *arg);

static struct event *gc_event;
static struct event *drain_event;

/*
 * Forking is bounded: at most SPAWN_BATCH workers, and no more once SPAWN_PASS_US went
 * into vfork+exec (droverd waits for each exec), per spawn pass. Past that, a slot the
 * state machine started waits in spawn_queue (state starting, no process yet) for the
 * next spawn pass. A spawn pass runs at low priority, in a loop pass that had no I/O to
 * serve, or SPAWN_WAIT_MAX_US after the last at the latest; so a crash storm or thousands
 * of workers starting leave the control socket and routed pools served first.
 */
#define SPAWN_BATCH       16
#define SPAWN_PASS_US     5000
#define SPAWN_WAIT_MAX_US 20000
static TAILQ_HEAD(, slot) spawn_queue = TAILQ_HEAD_INITIALIZER(spawn_queue);
static struct event *spawn_idle_event; /* zero timer at low priority: the next idle pass */
static struct event *spawn_late_event; /* SPAWN_WAIT_MAX_US timer: no idle pass came */
static unsigned spawn_pass_count;      /* workers forked in this spawn pass */
static uint64_t spawn_pass_us;         /* time spent forking them */

static unsigned pid_bucket(pid_t pid)
{
    return (unsigned)pid % PID_BUCKETS;
}

struct slot *slot_find_pid(pid_t pid)
{
    struct slot *s;

    SLIST_FOREACH(s, &pid_map[pid_bucket(pid)], pid_link)
        if (s->pid == pid)
            return s;
    return NULL;
}

struct pool *pool_find(const char *name)
{
    struct pool *p;

    TAILQ_FOREACH(p, &droverd.pools, entry)
        if (!p->removing && strcmp(p->name, name) == 0)
            return p;
    return NULL;
}

struct pool *pool_find_removing(const char *name)
{
    struct pool *p;

    TAILQ_FOREACH(p, &droverd.pools, entry)
        if (p->removing && strcmp(p->name, name) == 0)
            return p;
    return NULL;
}

struct slot *pool_slot(struct pool *p, unsigned i)
{
    if (i >= p->nslots || p->slots[i] == NULL || p->slots[i]->removing)
        return NULL;
    return p->slots[i];
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

static void policy_from_config(const struct pool_config *pc, struct slot_policy *sp)
{
    sp->restart = pc->restart;
    sp->restart_delay_us = pc->restart_delay_us;
    sp->restart_delay_max_us = pc->restart_delay_max_us;
    sp->crash_limit = pc->crash_limit.count;
    sp->crash_window_us = pc->crash_limit.window_us;
    sp->ready_notify = pc->ready == READY_NOTIFY;
    sp->start_timeout_us = pc->start_timeout_us;
    sp->start_grace_us = pc->start_grace_us;
    sp->watchdog_us = pc->watchdog_us;
    sp->stop_signal = pc->stop_signal;
    sp->stop_timeout_us = pc->stop_timeout_us;
}

static void pool_load_groups(struct pool *p)
{
    free(p->groups);
    p->ngroups = pool_env_groups(p->cfg, &p->groups);
}

static void slot_timer_cb(evutil_socket_t fd, short what, void *arg)
{
    struct slot *s = arg;

    (void)fd;
    (void)what;
    s->timer_at = 0;
    slot_event(s, SLOT_EV_TIMER, NULL);
}

static struct slot *slot_new(struct pool *p, unsigned index)
{
    struct slot *s = xcalloc(1, sizeof(*s));

    s->pool = p;
    s->index = index;
    s->exec_fd = -1;
    slot_fsm_init(&s->fsm, &p->policy);
    s->fsm.gate = &p->crash_gate;
    s->timer = evtimer_new(droverd.base, slot_timer_cb, s);
    s->cg = cgroup_slot_new(p->name, index, s);
    if (p->cfg->stdout_mode == STDOUT_LOG) {
        s->output = output_pipe_new(droverd.base, p->log, index);
        if (s->output == NULL)
            log_warn("pool %s slot %u: output pipe (output will be lost)", p->name, index);
    }
    return s;
}

static void slot_close_exec_pipe(struct slot *s)
{
    if (s->exec_ev != NULL) {
        event_free(s->exec_ev);
        s->exec_ev = NULL;
    }
    if (s->exec_fd >= 0) {
        close(s->exec_fd);
        s->exec_fd = -1;
    }
}

/* Read the exec status pipe: EOF = exec succeeded; a report = it failed. Returns 1 when settled. */
static int slot_read_exec_pipe(struct slot *s)
{
    struct spawn_failure f;
    ssize_t n = read(s->exec_fd, &f, sizeof(f));

    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return 0;
    if (n == 0) {
        free(s->exec_error);
        s->exec_error = NULL;
    } else if (n == (ssize_t)sizeof(f)) {
        char msg[512];
        spawn_failure_describe(&f, s->pool->cfg->exec_path, msg, sizeof(msg));
        free(s->exec_error);
        s->exec_error = xstrdup(msg);
        log_warnx("pool %s slot %u: %s", s->pool->name, s->index, msg);
    }
    slot_close_exec_pipe(s);
    return n == 0 ? 1 : -1;
}

static void slot_exec_cb(evutil_socket_t fd, short what, void *arg)
{
    struct slot *s = arg;

    (void)fd;
    (void)what;
    if (slot_read_exec_pipe(s) == 1) {
        if (s->pool->cfg->ready == READY_EXEC)
            slot_event(s, SLOT_EV_READY, NULL);
    }
}

static void pid_map_add(struct slot *s)
{
    SLIST_INSERT_HEAD(&pid_map[pid_bucket(s->pid)], s, pid_link);
}

static void pid_map_remove(struct slot *s)
{
    SLIST_REMOVE(&pid_map[pid_bucket(s->pid)], s, slot, pid_link);
}

/* Fork and exec the slot's worker. Returns 0, or -1 with a reason. */
static int slot_spawn(struct slot *s, char *err, size_t errsz)
{
    struct pool *p = s->pool;
    const struct pool_config *pc = p->cfg;
    struct spawn_plan plan = {0};
    struct route_spawn rs = {.fd3 = -1, .fd_stdin = -1, .fd_stdout = -1};
    char *extra[12];
    size_t nextra = 0, nbase = strv_len(p->env_base);
    int cpu = pc->cpu_affinity == AFFINITY_CORE ? droverd.cpus[s->index % droverd.ncpu] : -1;
    int rc;

    /* Contained: the child enters the slot's cgroup before exec, or the spawn fails. */
    if (s->cg != NULL) {
        plan.cgroup_fd = cgroup_slot_open_procs(s->cg, err, errsz);
        if (plan.cgroup_fd < 0)
            return -1;
        /* Its limits are in place before it runs. */
        if (cgroup_slot_apply_limits(s->cg, &pc->limits, err, errsz) != 0) {
            close(plan.cgroup_fd);
            return -1;
        }
        plan.enter_cgroup = true;
        usage_worker_starting(s);
    }
    if (p->route != NULL && route_prepare_spawn(p->route, s, &rs, err, errsz) != 0) {
        if (plan.enter_cgroup)
            close(plan.cgroup_fd);
        return -1;
    }

    xasprintf(&extra[nextra++], "DROVER_WORKER=%u", s->index);
    if (cpu >= 0)
        xasprintf(&extra[nextra++], "DROVER_CPU=%d", cpu);
    for (size_t i = 0; i < rs.nenv; i++)
        extra[nextra++] = rs.env[i];
    if (pc->ready == READY_NOTIFY && droverd.notify_socket != NULL) {
        xasprintf(&extra[nextra++], "NOTIFY_SOCKET=%s", droverd.notify_socket);
        if (pc->watchdog_us > 0) {
            xasprintf(&extra[nextra++], "WATCHDOG_USEC=%llu", (unsigned long long)pc->watchdog_us);
            /* Room for the pid, written by the child (sd_watchdog_enabled() checks it). */
            xasprintf(&extra[nextra++], "WATCHDOG_PID=%-20s", "");
        }
    }

    char **envp = xcalloc(nbase + nextra + 1, sizeof(*envp));
    for (size_t i = 0; i < nextra; i++)
        envp[i] = extra[i];
    memcpy(envp + nextra, p->env_base, nbase * sizeof(*envp));
    plan.pid_env[0] = plan.pid_env[1] = -1;
    for (size_t i = 0, k = 0; i < nextra && k < 2; i++)
        if (strncmp(envp[i], "LISTEN_PID=", 11) == 0 || strncmp(envp[i], "WATCHDOG_PID=", 13) == 0)
            plan.pid_env[k++] = (int)i;

    plan.path = pc->exec_path;
    plan.argv = pc->argv;
    plan.envp = envp;
    plan.fd_stdin = rs.fd_stdin >= 0 ? rs.fd_stdin : droverd.devnull;
    if (rs.fd_stdout >= 0)
        plan.fd_stdout = rs.fd_stdout;
    else if (pc->stdout_mode == STDOUT_LOG && s->output != NULL)
        plan.fd_stdout = output_pipe_write_fd(s->output);
    else if (pc->stdout_mode == STDOUT_NULL)
        plan.fd_stdout = droverd.devnull;
    else
        plan.fd_stdout = -1;
    if (pc->stdout_mode == STDOUT_LOG && s->output != NULL)
        plan.fd_stderr = output_pipe_write_fd(s->output);
    else if (pc->stdout_mode == STDOUT_NULL)
        plan.fd_stderr = droverd.devnull;
    else
        plan.fd_stderr = -1;
    plan.fd3 = rs.fd3;
    plan.cpu = cpu;
    pool_env_identity(p, &plan);

    rc = spawn_process(&plan, &s->pid, &s->exec_fd, err, errsz);
    if (plan.enter_cgroup)
        close(plan.cgroup_fd);
    for (size_t i = 0; i < nextra; i++)
        free(envp[i]);
    free(envp);
    if (p->route != NULL)
        route_after_spawn(p->route, s, &rs, rc == 0);
    if (rc != 0) {
        s->pid = 0;
        return -1;
    }
    /* Also from this side, so a signal sent before the child runs reaches its group. */
    setpgid(s->pid, s->pid);
    pid_map_add(s);
    s->exec_ev = event_new(droverd.base, s->exec_fd, EV_READ | EV_PERSIST, slot_exec_cb, s);
    event_add(s->exec_ev, NULL);
    p->starts++;
    log_debug("pool %s slot %u: started pid %d", p->name, s->index, (int)s->pid);
    return 0;
}

int slot_signal(struct slot *s, int sig)
{
    if (s->pid <= 0) {
        errno = ESRCH;
        return -1;
    }
    if (kill(-s->pid, sig) == 0)
        return 0;
    /* The group may not exist yet if the child has not run setpgid; reach the leader. */
    return kill(s->pid, sig);
}

static void slot_arm_timer(struct slot *s)
{
    uint64_t deadline = s->fsm.deadline;

    if (deadline == s->timer_at)
        return;
    if (deadline == 0) {
        event_del(s->timer);
    } else {
        uint64_t now = mono_now();
        uint64_t wait = deadline > now ? deadline - now : 0;
        struct timeval tv = {.tv_sec = (time_t)(wait / 1000000),
                             .tv_usec = (suseconds_t)(wait % 1000000)};
        event_add(s->timer, &tv);
    }
    s->timer_at = deadline;
}

static void slot_log_transition(struct slot *s, enum slot_state from, const struct slot_action *act)
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

/* Ask for removed slots and pools to be freed once the current callback has returned. */
static void pool_gc_schedule(void)
{
    if (gc_event == NULL)
        gc_event = event_new(droverd.base, -1, 0, pool_gc_cb, NULL);
    event_active(gc_event, 0, 0);
}

static void spawn_pass_cb(evutil_socket_t fd, short what, void *arg);

static bool spawn_budget_left(void)
{
    return spawn_pass_count < SPAWN_BATCH && spawn_pass_us < SPAWN_PASS_US;
}

/* Schedule the next spawn pass, which resets the budget and forks what waits. */
static void spawn_pass_schedule(void)
{
    static const struct timeval zero = {0, 0};
    static const struct timeval late = {0, SPAWN_WAIT_MAX_US};

    if (spawn_idle_event == NULL) {
        spawn_idle_event = evtimer_new(droverd.base, spawn_pass_cb, NULL);
        event_priority_set(spawn_idle_event, DROVERD_PRIORITY_LOW);
        spawn_late_event = evtimer_new(droverd.base, spawn_pass_cb, NULL);
    }
    if (!evtimer_pending(spawn_idle_event, NULL))
        event_add(spawn_idle_event, &zero);
    if (!evtimer_pending(spawn_late_event, NULL))
        event_add(spawn_late_event, &late);
}

/* Count one fork against this spawn pass; the first of a pass schedules the next. */
static void spawn_budget_use(uint64_t us)
{
    if (spawn_pass_count++ == 0)
        spawn_pass_schedule();
    spawn_pass_us += us;
}

static void spawn_enqueue(struct slot *s)
{
    s->spawn_queued = true;
    TAILQ_INSERT_TAIL(&spawn_queue, s, spawn_entry);
    spawn_pass_schedule();
}

static void spawn_dequeue(struct slot *s)
{
    if (!s->spawn_queued)
        return;
    TAILQ_REMOVE(&spawn_queue, s, spawn_entry);
    s->spawn_queued = false;
}

/*
 * The state the route sees. In a rollout a new worker takes work only once
 * it counts as started, so requests never go to one that crashes at once.
 */
static enum slot_state slot_route_state(const struct slot *s)
{
    if (s->probation && s->fsm.state == SLOT_RUNNING && !s->fsm.up)
        return SLOT_STARTING;
    return s->fsm.state;
}

/* Fork now; a failed fork counts as a crash, and the state machine backs off (never a busy retry).
 */
static void slot_spawn_now(struct slot *s, uint64_t now, struct slot_action *act)
{
    struct pool *p = s->pool;
    char err[PARSE_ERR_MAX];
    uint64_t t0 = mono_now();
    int rc = slot_spawn(s, err, sizeof(err));

    spawn_budget_use(mono_now() - t0);
    if (rc != 0) {
        log_warnx("pool %s slot %u: %s", p->name, s->index, err);
        free(s->exec_error);
        s->exec_error = xstrdup(err);
        p->spawn_failures++;
        slot_step(&s->fsm, &p->policy, SLOT_EV_SPAWN_FAILED, 0, "spawn failed", now, act);
    }
}

/* The cause the caller of the next slot_event() gives (events.h, plus one); 0: from the event. */
static unsigned char cause_hint;
/* The pid of the worker whose exit is being settled, for its event. */
static pid_t settle_pid;

/* Remember why a stop or restart was asked, for the event its exit records later. */
static void slot_note_cause(struct slot *s, enum slot_event ev)
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

/* A change of state goes into the event ring (drover events), with its cause. */
static void slot_record_event(struct slot *s, enum slot_state from, enum slot_event ev,
                              const struct slot_action *act, uint64_t now)
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
        pid = settle_pid;
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

/* Carry out what the state machine decided, and tell everyone who cares. */
static void slot_apply(struct slot *s, enum slot_state from, bool was_up, enum slot_event ev,
                       struct slot_action *act, uint64_t now)
{
    struct pool *p = s->pool;

    if (act->signal != 0 && slot_signal(s, act->signal) != 0 && errno != ESRCH)
        log_warn("pool %s slot %u: kill %s", p->name, s->index, signal_name(act->signal));
    /* Also whatever left the process group but not the cgroup; SIGKILL is cgroup.kill. */
    if (act->signal != 0 && s->cg != NULL)
        cgroup_slot_signal(s->cg, act->signal, s->pid);
    /* Forks are spread over loop passes (spawn_pass_cb): past this pass's budget, wait a turn. */
    if (act->spawn && !spawn_budget_left() && !s->spawn_queued)
        spawn_enqueue(s);
    else if (act->spawn)
        slot_spawn_now(s, now, act);
    slot_log_transition(s, from, act);
    slot_record_event(s, from, ev, act, now);
    slot_arm_timer(s);
    if (from != s->fsm.state) {
        log_debug("pool %s slot %u: %s -> %s (%s)", p->name, s->index, slot_state_name(from),
                  slot_state_name(s->fsm.state), slot_event_name(ev));
    }
    if ((from != s->fsm.state || was_up != s->fsm.up) && p->route != NULL)
        route_slot_state(p->route, s, slot_route_state(s));
    if (act->became_fatal && p->cfg->on_fatal == ON_FATAL_EXIT && !droverd.shutting_down) {
        log_warnx("pool %s: on_fatal = exit: shutting droverd down", p->name);
        droverd_shutdown(DROVERD_EXIT_FATAL_POOL);
    }
    check_slot_changed(s);
    recycle_slot_changed(s);
    if (p->rolling)
        pool_rolling_advance(p);
    if ((s->removing || p->removing) && !slot_state_has_process(s->fsm.state))
        pool_gc_schedule();
    droverd_state_changed();
}

/*
 * Once the shutdown has begun nothing starts again (shutdown_timeout is a hard bound): an
 * event that would start a worker stops its slot instead.
 */
static enum slot_event slot_event_in_shutdown(const struct slot *s, enum slot_event ev)
{
    if (!droverd.shutting_down)
        return ev;
    if (ev == SLOT_EV_START || ev == SLOT_EV_RESTART)
        return SLOT_EV_STOP;
    if (ev == SLOT_EV_TIMER && s->fsm.state == SLOT_BACKOFF)
        return SLOT_EV_STOP;
    return ev;
}

/*
 * A slot waiting for its turn to fork has no process yet: a stop takes it back to stopped
 * at once; anything else waits for its turn (it starts with the config of that moment).
 */
static void slot_event_queued(struct slot *s, enum slot_event ev, uint64_t now)
{
    struct slot_action act = {0};

    if (ev != SLOT_EV_STOP)
        return;
    spawn_dequeue(s);
    s->fsm.state = SLOT_STOPPED;
    s->fsm.want_up = false;
    s->fsm.deadline = 0;
    slot_apply(s, SLOT_STARTING, s->fsm.up, ev, &act, now);
}

/* A new pass: fork the slots that wait, as far as this pass's budget goes. */
static void spawn_pass_cb(evutil_socket_t fd, short what, void *arg)
{
    struct slot *s;

    (void)fd;
    (void)what;
    (void)arg;
    /* Whichever of the two came first, this is the pass. */
    event_del(spawn_idle_event);
    event_del(spawn_late_event);
    spawn_pass_count = 0;
    spawn_pass_us = 0;
    while ((s = TAILQ_FIRST(&spawn_queue)) != NULL && spawn_budget_left()) {
        struct slot_action act = {.spawn = true};
        uint64_t now = mono_now();

        if (droverd.shutting_down) {
            slot_event_queued(s, SLOT_EV_STOP, now);
            continue;
        }
        spawn_dequeue(s);
        /* The start happens now: the run is timed, and start_timeout counted, from here. */
        s->fsm.started_at = now;
        if (s->pool->policy.ready_notify)
            s->fsm.deadline = now + s->pool->policy.start_timeout_us;
        slot_apply(s, SLOT_STARTING, s->fsm.up, SLOT_EV_START, &act, now);
    }
    if (!TAILQ_EMPTY(&spawn_queue))
        spawn_pass_schedule();
}

void slot_event(struct slot *s, enum slot_event ev, const char *reason)
{
    struct slot_action act;
    enum slot_state from = s->fsm.state;
    bool was_up = s->fsm.up;
    uint64_t now = mono_now();

    ev = slot_event_in_shutdown(s, ev);
    slot_note_cause(s, ev);
    if (s->spawn_queued) {
        slot_event_queued(s, ev, now);
        return;
    }
    /* A routed worker first answers what it holds; the route sends the event again then. */
    if (s->pool->route != NULL && route_slot_defer(s->pool->route, s, ev))
        return;
    slot_step(&s->fsm, &s->pool->policy, ev, 0, reason, now, &act);
    slot_apply(s, from, was_up, ev, &act, now);
}

/* The slot's worker is gone, and with containment its whole cgroup: feed the exit to the slot. */
static void slot_exit_settle(struct slot *s, pid_t pid, int wstatus)
{
    struct pool *p = s->pool;
    char how[64];
    struct slot_action act;
    enum slot_state from = s->fsm.state;
    bool was_up = s->fsm.up;
    uint64_t now = mono_now();

    if (WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0)
        p->exits_clean++;
    else if (WIFEXITED(wstatus))
        p->exits_error++;
    else
        p->exits_signal++;
    if (s->fsm.pending_fail != NULL)
        p->exits_failed++;

    describe_wait_status(wstatus, how, sizeof(how));
    free(s->oom_exit);
    s->oom_exit = NULL;
    if (cgroup_slot_take_oom(s->cg)) {
        char limit[32];
        cg_format_limit(p->cfg->limits.memory_max, true, limit, sizeof(limit));
        if (limit[0] != '\0')
            xasprintf(&s->oom_exit, "killed by the OOM killer (memory_max %s)", limit);
        else
            s->oom_exit = xstrdup("killed by the OOM killer");
        snprintf(how, sizeof(how), "%s", s->oom_exit);
        p->oom_kills++;
    }
    if (from == SLOT_STOPPING)
        log_debug("pool %s slot %u: pid %d stopped (%s)", p->name, s->index, (int)pid, how);
    else if (s->fsm.pending_fail != NULL)
        log_warnx("pool %s slot %u: pid %d ended (%s): %s", p->name, s->index, (int)pid, how,
                  s->fsm.pending_fail);
    else
        log_info("pool %s slot %u: pid %d exited unexpectedly: %s", p->name, s->index, (int)pid,
                 how);

    slot_step(&s->fsm, &p->policy, SLOT_EV_EXITED, wstatus, NULL, now, &act);
    if (p->route != NULL)
        route_slot_exited(p->route, s);
    settle_pid = pid;
    slot_apply(s, from, was_up, SLOT_EV_EXITED, &act, now);
    settle_pid = 0;
}

/* cgroup.events says a slot's cgroup is empty (registered with cgroup_set_empty_hook). */
static void slot_cgroup_empty(void *owner)
{
    struct slot *s = owner;

    if (!s->cg_waiting)
        return;
    s->cg_waiting = false;
    log_debug("pool %s slot %u: cgroup %s is empty", s->pool->name, s->index,
              cgroup_slot_path(s->cg));
    slot_exit_settle(s, s->cg_exit_pid, s->cg_wstatus);
}

/* memory.events says the OOM killer struck in a slot's cgroup (cgroup_set_oom_hook). */
static void slot_cgroup_oom(void *owner)
{
    struct slot *s = owner;

    log_warnx("pool %s slot %u: the OOM killer struck in %s; the whole worker ends", s->pool->name,
              s->index, cgroup_slot_path(s->cg));
}

void slot_exited(struct slot *s, int wstatus)
{
    pid_t pid = s->pid;

    if (s->exec_fd >= 0)
        slot_read_exec_pipe(s);
    slot_close_exec_pipe(s);
    if (s->output != NULL)
        output_pipe_drain(s->output);
    pid_map_remove(s);
    s->pid = 0;
    /* Whatever the worker left in its process group goes with it. */
    kill(-pid, SIGKILL);
    /*
     * Contained, the slot is down only once its cgroup is empty: kill what the
     * worker left there (setsid'd or daemonized children) and wait for
     * cgroup.events to say so (slot_cgroup_empty), without polling.
     */
    if (s->cg != NULL && cgroup_slot_populated(s->cg) == 1) {
        s->cg_waiting = true;
        s->cg_exit_pid = pid;
        s->cg_wstatus = wstatus;
        cgroup_slot_signal(s->cg, SIGKILL, 0);
        log_debug("pool %s slot %u: pid %d exited; killing the rest of %s", s->pool->name, s->index,
                  (int)pid, cgroup_slot_path(s->cg));
        return;
    }
    slot_exit_settle(s, pid, wstatus);
}

static void slot_free(struct slot *s)
{
    spawn_dequeue(s);
    if (s->pid > 0)
        pid_map_remove(s);
    check_slot_free(s);
    recycle_slot_free(s);
    slot_close_exec_pipe(s);
    if (s->pool->route != NULL)
        route_slot_free(s->pool->route, s);
    output_pipe_free(s->output);
    event_free(s->timer);
    slot_fsm_free(&s->fsm);
    cgroup_slot_free(s->cg);
    free(s->exec_error);
    free(s->notify_status);
    free(s->oom_exit);
    free(s);
}

/* What a pool's route needs from it (route_hooks.h). */
static void pool_route_fail(struct slot *s, const char *why)
{
    slot_event(s, SLOT_EV_FAIL, why);
}

static void pool_route_restart(struct slot *s)
{
    /* A restart the route had deferred keeps its cause; one of its own is max_requests. */
    if (s->event_cause == 0)
        cause_hint = 1 + EVC_RECYCLED;
    slot_event(s, SLOT_EV_RESTART, NULL);
}

static void pool_route_stop(struct slot *s)
{
    slot_event(s, SLOT_EV_STOP, NULL);
}

/*
 * The worker is over memory_recycle (recycle.c): a routed worker takes no new work and is
 * restarted once it has answered what it holds, as after max_requests; any other (no
 * routing, or shared mode where workers accept themselves) is restarted with stop_signal.
 */
static void slot_recycle(struct slot *s, const char *why)
{
    struct pool *p = s->pool;

    p->recycles_memory++;
    log_info("pool %s slot %u: recycling pid %d: %s", p->name, s->index, (int)s->pid, why);
    if (p->route != NULL && route_slot_retire(p->route, s))
        return;
    slot_event(s, SLOT_EV_RESTART, NULL);
}

static void pool_drain_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    (void)arg;
    pools_drain_check();
}

/* From inside the route's processing: stopping the workers waits for the end of the pass. */
static void pool_route_drained(void *pool)
{
    (void)pool;
    if (drain_event == NULL)
        drain_event = event_new(droverd.base, -1, 0, pool_drain_cb, NULL);
    event_active(drain_event, 0, 0);
}

/*
 * Every client costs one fd. Whatever the fd limit, keep enough for the
 * control socket, log files and restarting every worker (a pipe and a
 * socket pair each), so a flood of clients cannot lock the operator out.
 */
static unsigned pools_client_budget(void)
{
    unsigned slots = 0;
    struct pool *p;

    TAILQ_FOREACH(p, &droverd.pools, entry)
        slots += p->nslots;
    rlim_t limit = droverd.nofile_raised;
    rlim_t reserve = FD_RESERVE + 6 * (rlim_t)slots;
    if (limit <= reserve)
        return 0;
    return limit - reserve > UINT_MAX ? UINT_MAX : (unsigned)(limit - reserve);
}

/* Re-created with the same listen value: the new pool takes the socket, with its backlog. */
static bool pool_keeps_socket(const struct pool *p)
{
    return p->recreate_cfg != NULL && p->recreate_cfg->listen != NULL &&
           strcmp(p->recreate_cfg->listen, route_listen(p->route)) == 0;
}

struct pool *pool_create(struct pool_config *pc, char *err, size_t errsz)
{
    struct pool *p = xcalloc(1, sizeof(*p));

    p->name = xstrdup(pc->name);
    p->cfg = pc;
    policy_from_config(pc, &p->policy);
    restart_gate_set(&p->crash_gate, pc->crash_restart_rate.count,
                     pc->crash_restart_rate.window_us);
    p->env_base = pool_env_build(pc);
    pool_load_groups(p);
    if (pc->stdout_mode == STDOUT_LOG)
        p->log =
            pool_log_new(droverd.config->daemon.log_dir, p->name, pc->log_max_size, pc->log_keep);
    if (pc->listen != NULL) {
        struct route_hooks hooks = {
            .pool = p,
            .fail = pool_route_fail,
            .restart = pool_route_restart,
            .stop = pool_route_stop,
            .drained = pool_route_drained,
            .request_done = recycle_request_done,
            .client_budget = pools_client_budget,
        };
        p->route = route_new(pc, p->name, &hooks, err, errsz);
        if (p->route == NULL) {
            pool_log_free(p->log);
            free_strv(p->env_base);
            free(p->groups);
            free(p->name);
            free(p);
            return NULL;
        }
    }
    cgroup_set_empty_hook(slot_cgroup_empty);
    cgroup_set_oom_hook(slot_cgroup_oom);
    recycle_set_hook(slot_recycle);
    recycle_pool_changed(p);
    p->target = pc->nworkers;
    p->nslots = pc->nworkers;
    p->slots = xcalloc(p->nslots ? p->nslots : 1, sizeof(*p->slots));
    for (unsigned i = 0; i < p->nslots; i++)
        p->slots[i] = slot_new(p, i);
    TAILQ_INSERT_TAIL(&droverd.pools, p, entry);
    return p;
}

void pool_start(struct pool *p)
{
    for (unsigned i = 0; i < p->nslots; i++)
        if (p->slots[i] != NULL && !p->slots[i]->removing)
            slot_event(p->slots[i], SLOT_EV_START, NULL);
}

void pool_destroy(struct pool *p)
{
    TAILQ_REMOVE(&droverd.pools, p, entry);
    for (unsigned i = 0; i < p->nslots; i++)
        if (p->slots[i] != NULL)
            slot_free(p->slots[i]);
    free(p->slots);
    recycle_pool_free(p);
    if (p->route != NULL)
        route_free(p->route, pool_keeps_socket(p));
    pool_log_free(p->log);
    free_strv(p->env_base);
    free(p->groups);
    free(p->halt_reason);
    free(p->name);
    free(p);
}

/* Is every slot of the pool without a process? */
static bool pool_is_down(const struct pool *p)
{
    for (unsigned i = 0; i < p->nslots; i++)
        if (p->slots[i] != NULL && slot_state_has_process(p->slots[i]->fsm.state))
            return false;
    return true;
}

/*
 * Free slots that were scaled away and pools that were removed, once their
 * processes are gone; start a re-created pool again. Runs from its own
 * event so nothing is freed under a caller's feet.
 */
static void pool_gc_cb(evutil_socket_t fd, short what, void *arg)
{
    struct pool *p, *next;
    char err[PARSE_ERR_MAX];

    (void)fd;
    (void)what;
    (void)arg;
    TAILQ_FOREACH_SAFE(p, &droverd.pools, entry, next) {
        if (p->removing) {
            struct pool_config *again = p->recreate_cfg;
            if (!pool_is_down(p))
                continue;
            log_info("pool %s: %s", p->name,
                     again != NULL ? "stopped; starting it again" : "removed");
            pool_destroy(p);
            if (again != NULL && !droverd.shutting_down) {
                struct pool *np = pool_create(again, err, sizeof(err));
                if (np == NULL)
                    log_warnx("pool %s: cannot start again: %s", again->name, err);
                else
                    pool_start(np);
            }
            continue;
        }
        for (unsigned i = 0; i < p->nslots; i++) {
            struct slot *s = p->slots[i];
            if (s != NULL && s->removing && !slot_state_has_process(s->fsm.state)) {
                slot_free(s);
                p->slots[i] = NULL;
            }
        }
        while (p->nslots > 0 && p->slots[p->nslots - 1] == NULL)
            p->nslots--;
    }
    droverd_state_changed();
}

static void pool_stop_slots(struct pool *p)
{
    for (unsigned i = 0; i < p->nslots; i++)
        if (p->slots[i] != NULL)
            slot_event(p->slots[i], SLOT_EV_STOP, NULL);
}

void pool_stop(struct pool *p, bool remove)
{
    if (remove)
        p->removing = true;
    p->rolling = false;
    if (p->route != NULL) {
        /* Take no new work; the workers stop once what was taken is answered. */
        route_stop_accepting(p->route);
        p->draining = true;
        pools_drain_check();
    } else {
        pool_stop_slots(p);
    }
    if (remove)
        pool_gc_schedule();
}

void pools_drain_check(void)
{
    struct pool *p, *next;

    TAILQ_FOREACH_SAFE(p, &droverd.pools, entry, next) {
        /* In a shutdown no worker starts again: with none left, what waits is answered now. */
        if (!p->draining || (route_busy(p->route) && !(droverd.shutting_down && pool_is_down(p))))
            continue;
        p->draining = false;
        pool_stop_slots(p);
    }
}

void pool_recreate(struct pool *p, struct pool_config *pc)
{
    p->recreate_cfg = pc;
    pool_stop(p, true);
}

/* Take pc's settings for the workers started from now on. */
/* The pool's limits, written live to the cgroup of each worker that runs (reload). */
static void pool_apply_limits(struct pool *p)
{
    char err[PARSE_ERR_MAX];

    for (unsigned i = 0; i < p->nslots; i++) {
        struct slot *s = p->slots[i];
        if (s == NULL || s->cg == NULL || s->pid <= 0)
            continue;
        if (cgroup_slot_apply_limits(s->cg, &p->cfg->limits, err, sizeof(err)) != 0)
            log_warnx("pool %s slot %u: %s", p->name, s->index, err);
    }
}

static void pool_apply_settings(struct pool *p, struct pool_config *pc)
{
    p->cfg = pc;
    policy_from_config(pc, &p->policy);
    restart_gate_set(&p->crash_gate, pc->crash_restart_rate.count,
                     pc->crash_restart_rate.window_us);
    free_strv(p->env_base);
    p->env_base = pool_env_build(pc);
    pool_load_groups(p);
    for (unsigned i = 0; i < p->nslots; i++)
        if (p->slots[i] != NULL)
            slot_fsm_policy_changed(&p->slots[i]->fsm, &p->policy);
    if (p->log != NULL) {
        pool_log_configure(p->log, pc->log_max_size, pc->log_keep);
        pool_log_set_dir(p->log, droverd.config->daemon.log_dir);
    } else if (pc->stdout_mode == STDOUT_LOG) {
        /* stdout changed to log: workers get the pipes as they restart. */
        p->log =
            pool_log_new(droverd.config->daemon.log_dir, p->name, pc->log_max_size, pc->log_keep);
    }
    for (unsigned i = 0; i < p->nslots; i++) {
        struct slot *s = p->slots[i];
        if (s != NULL && s->output == NULL && pc->stdout_mode == STDOUT_LOG)
            s->output = output_pipe_new(droverd.base, p->log, s->index);
    }
    if (p->route != NULL)
        route_configure(p->route, pc);
    recycle_pool_changed(p);
    for (unsigned i = 0; i < p->nslots; i++)
        if (p->slots[i] != NULL)
            check_slot_changed(p->slots[i]); /* check_command may have come or gone */
    pool_apply_limits(p);
}

/* The rollout now waits for this slot's next worker to count as started. */
static void slot_probation_begin(struct slot *s)
{
    s->probation = true;
    s->probation_failures = s->fsm.start_failures;
    s->probation_started = s->fsm.started_at;
}

/*
 * A slot's probation: 1 its new worker counts as started, -1 it failed to
 * start, 2 the slot was stopped meanwhile, 0 not yet.
 */
static int slot_probation_result(const struct slot *s)
{
    if (s->fsm.start_failures != s->probation_failures)
        return -1;
    if (s->fsm.state == SLOT_RUNNING && s->fsm.up && s->fsm.started_at != s->probation_started)
        return 1;
    if (!s->fsm.want_up || s->removing)
        return 2; /* stopped or scaled away meanwhile: nothing left to wait for */
    return 0;
}

/*
 * Begin a rollout over the pool's slots (with only_replaced, over those the
 * halted rollout had replaced). Slots that were down (backoff, fatal) start
 * at once with a fresh crash streak; serving ones are queued for
 * pool_rolling_advance, which restarts them one at a time.
 */
static void pool_rollout_begin(struct pool *p, bool only_replaced)
{
    struct slot **down = xcalloc(p->nslots ? p->nslots : 1, sizeof(*down));
    unsigned ndown = 0;

    p->rollout_gen++;
    p->rollout_proven = false;
    for (unsigned i = 0; i < p->nslots; i++) {
        struct slot *s = p->slots[i];
        if (s == NULL || s->removing || (only_replaced && !s->replaced))
            continue;
        s->replaced = false;
        s->rolling = false;
        s->probation = false;
        if (s->fsm.state == SLOT_BACKOFF || (s->fsm.state == SLOT_FATAL && s->fsm.want_up)) {
            s->replaced = !only_replaced;
            slot_probation_begin(s);
            down[ndown++] = s;
        } else if (s->fsm.state == SLOT_RUNNING || s->fsm.state == SLOT_STARTING) {
            s->rolling = true;
        }
    }
    p->rolling = true;
    /* Events may re-enter the rollout; the list was made before any was sent. */
    for (unsigned i = 0; i < ndown; i++)
        slot_event(down[i], SLOT_EV_RESET, NULL);
    free(down);
    pool_rolling_advance(p);
}

/* A new worker failed to start: stop replacing, and put the replaced slots back. */
static void pool_rollout_halt(struct pool *p, struct slot *failed)
{
    char why[600];

    slot_describe_start_failure(failed, why, sizeof(why));
    free(p->halt_reason);
    xasprintf(&p->halt_reason, "%s:%u %s", p->name, failed->index, why);
    log_warnx("pool %s: rollout halted: %s", p->name, p->halt_reason);
    events_record(p->name, -1, 0, NULL, NULL, EVC_HALTED, p->halt_reason);
    for (unsigned i = 0; i < p->nslots; i++)
        if (p->slots[i] != NULL)
            p->slots[i]->rolling = p->slots[i]->probation = false;
    p->rolling = false;
    if (p->rollback_cfg == NULL)
        return;
    log_warnx("pool %s: the workers not yet replaced keep running; rolling the replaced ones back "
              "to the previous settings",
              p->name);
    pool_apply_settings(p, p->rollback_cfg);
    p->rollback_cfg = NULL;
    p->rolling_back = true;
    pool_rollout_begin(p, true);
}

void pool_set_config(struct pool *p, struct pool_config *pc, bool restart_workers)
{
    /*
     * A halted pool keeps running the settings it was rolled back to until a
     * reload changes it again; a reload that leaves it alone keeps that.
     */
    if (p->halt_reason != NULL && !restart_workers)
        return;
    if (restart_workers) {
        /* Roll back to what the unreplaced workers run: the start of an unfinished rollout. */
        if (!p->rolling || p->rolling_back || p->rollback_cfg == NULL)
            p->rollback_cfg = p->cfg;
        free(p->halt_reason);
        p->halt_reason = NULL;
        p->rolling_back = false;
    }
    pool_apply_settings(p, pc);
    if (restart_workers)
        pool_rollout_begin(p, false);
}

/*
 * Rolling restart: one slot at a time, the next once the previous one's new
 * worker counts as started (start_grace or READY=1), so a routed pool keeps
 * serving throughout. A new worker that fails to start halts the rollout.
 */
static void pool_rolling_advance(struct pool *p)
{
    bool waiting = false;

    for (unsigned i = 0; i < p->nslots; i++) {
        struct slot *s = p->slots[i];
        if (s == NULL || !s->probation)
            continue;
        int r = slot_probation_result(s);
        if (r == 0) {
            waiting = true;
            continue;
        }
        s->probation = false;
        if (r == 1) {
            p->rollout_proven = true;
        } else if (r < 0 && !p->rolling_back) {
            pool_rollout_halt(p, s);
            return;
        }
        /* A failure while rolling back: that slot backs off as any crash does; go on. */
    }
    if (waiting)
        return;
    for (unsigned i = 0; i < p->nslots; i++) {
        struct slot *s = p->slots[i];
        if (s == NULL || !s->rolling)
            continue;
        s->rolling = false;
        s->replaced = !p->rolling_back;
        if (s->fsm.state == SLOT_RUNNING || s->fsm.state == SLOT_STARTING) {
            slot_probation_begin(s);
            cause_hint = 1 + EVC_RELOAD;
            slot_event(s, SLOT_EV_RESTART, NULL);
            return;
        }
        if (s->fsm.state == SLOT_BACKOFF || (s->fsm.state == SLOT_FATAL && s->fsm.want_up)) {
            slot_probation_begin(s);
            slot_event(s, SLOT_EV_RESET, NULL);
            return;
        }
        /* Stopped meanwhile: it starts with the new settings when asked. */
    }
    p->rolling = false;
    p->rolling_back = false;
    p->rollback_cfg = NULL;
}

void pool_scale(struct pool *p, unsigned n)
{
    if (n > p->nslots) {
        p->slots = xreallocarray(p->slots, n, sizeof(*p->slots));
        for (unsigned i = p->nslots; i < n; i++)
            p->slots[i] = NULL;
        p->nslots = n;
    }
    p->target = n;
    for (unsigned i = 0; i < p->nslots; i++) {
        struct slot *s = p->slots[i];
        if (i < n) {
            if (s == NULL) {
                s = p->slots[i] = slot_new(p, i);
                if (!droverd.shutting_down)
                    slot_event(s, SLOT_EV_START, NULL);
            } else if (s->removing) {
                s->removing = false;
                slot_event(s, SLOT_EV_START, NULL);
            }
        } else if (s != NULL && !s->removing) {
            s->removing = true;
            s->rolling = false;
            slot_event(s, SLOT_EV_STOP, NULL);
        }
    }
}

bool pools_all_down(void)
{
    struct pool *p;

    TAILQ_FOREACH(p, &droverd.pools, entry)
        for (unsigned i = 0; i < p->nslots; i++)
            if (p->slots[i] != NULL && slot_state_has_process(p->slots[i]->fsm.state))
                return false;
    return true;
}

bool pools_all_settled(void)
{
    struct pool *p;

    TAILQ_FOREACH(p, &droverd.pools, entry)
        for (unsigned i = 0; i < p->nslots; i++) {
            struct slot *s = p->slots[i];
            if (s == NULL || s->removing)
                continue;
            if (s->fsm.state != SLOT_RUNNING && s->fsm.state != SLOT_FATAL && s->fsm.want_up)
                return false;
        }
    return true;
}

void pools_halt(void)
{
    struct pool *p;
    struct slot *q;
    struct slot_action act;
    uint64_t now = mono_now();

    /* Slots still waiting for their turn to fork never get it. */
    while ((q = TAILQ_FIRST(&spawn_queue)) != NULL)
        slot_event_queued(q, SLOT_EV_STOP, now);
    TAILQ_FOREACH(p, &droverd.pools, entry) {
        /* A crash during the shutdown is a crash, and the end of that slot. */
        p->policy.restart = RESTART_NEVER;
        p->rolling = false;
        for (unsigned i = 0; i < p->nslots; i++) {
            struct slot *s = p->slots[i];
            /* A restart under way (rolling, recycling) ends with the stop. */
            if (s != NULL && s->fsm.state == SLOT_STOPPING)
                slot_step(&s->fsm, &p->policy, SLOT_EV_STOP, 0, NULL, now, &act);
        }
    }
}

/*
 * No grace left: every worker is stopped with SIGKILL, through its state machine and past
 * any drain its route waits for, so its exit is a stop (not a crash to restart).
 */
void pools_kill_all(void)
{
    struct pool *p;
    uint64_t now = mono_now();

    TAILQ_FOREACH(p, &droverd.pools, entry)
        for (unsigned i = 0; i < p->nslots; i++) {
            struct slot *s = p->slots[i];
            struct slot_action act;
            enum slot_state from;
            bool was_up;

            if (s == NULL || s->pid <= 0)
                continue;
            from = s->fsm.state;
            was_up = s->fsm.up;
            slot_step(&s->fsm, &p->policy, SLOT_EV_STOP, 0, NULL, now, &act);
            act.signal = SIGKILL;
            slot_apply(s, from, was_up, SLOT_EV_STOP, &act, now);
        }
    /* A slot whose main process is gone may still have a populated cgroup. */
    TAILQ_FOREACH(p, &droverd.pools, entry)
        for (unsigned i = 0; i < p->nslots; i++)
            if (p->slots[i] != NULL)
                cgroup_slot_signal(p->slots[i]->cg, SIGKILL, 0);
}

void pools_reopen_logs(void)
{
    struct pool *p;

    TAILQ_FOREACH(p, &droverd.pools, entry)
        if (p->log != NULL)
            pool_log_reopen(p->log);
}
