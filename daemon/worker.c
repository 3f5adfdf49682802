/* SPDX-License-Identifier: ISC */
/*
 * A slot's worker process and its state machine carried out (see
 * worker.h): the thin layer between the pure slot.c and the system. It
 * forks through spawn.c, signals process groups, arms each slot's single
 * timer, and tells the output, routing and check modules what happened.
 */
#include "worker.h"

#include <errno.h>
#include <event2/event.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cgroup.h"
#include "check.h"
#include "log.h"
#include "output.h"
#include "parse.h"
#include "pool_env.h"
#include "recycle.h"
#include "route.h"
#include "spawn.h"
#include "spawn_queue.h"
#include "sys.h"
#include "transition.h"
#include "usage.h"
#include "xmalloc.h"

#define PID_BUCKETS 4096
static SLIST_HEAD(, slot) pid_map[PID_BUCKETS];

/* The pool layer's step after each event (worker_init). */
static void (*slot_settled)(struct slot *s);
/* The pid of the worker whose exit is being settled, for its event. */
static pid_t settle_pid;

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

static void slot_timer_cb(evutil_socket_t fd, short what, void *arg)
{
    struct slot *s = arg;

    (void)fd;
    (void)what;
    s->timer_at = 0;
    slot_event(s, SLOT_EV_TIMER, NULL);
}

struct slot *slot_new(struct pool *p, unsigned index)
{
    struct slot *s = xcalloc(1, sizeof(*s));

    s->pool = p;
    s->index = index;
    s->exec_fd = -1;
    s->stat_fd = -1;
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
        plan.fd_stderr = output_pipe_err_fd(s->output, pc->log_stderr == LOG_STDERR_MARKED);
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

void slot_gate_changed(struct slot *s)
{
    if (slot_fsm_gate_changed(&s->fsm, mono_now()))
        slot_arm_timer(s);
}

/*
 * The state the route sees. In a rollout a new worker takes work only once
 * it counts as started, so requests never go to one that crashes at once.
 */
static enum slot_state slot_route_state(const struct slot *s)
{
    if (s->probation && s->fsm.state == SLOT_RUNNING && !s->fsm.up)
        return SLOT_STARTING;
    if (s->fsm.pending_fail != NULL) /* being replaced (failed checks): no new work */
        return SLOT_STOPPING;
    return s->fsm.state;
}

/* Does a stop with sig need SIGCONT after it? Not for a signal that stops (SIGCONT would discard
 * it). */
static bool wakes_to_stop(int sig)
{
    return sig != 0 && sig != SIGKILL && sig != SIGCONT && sig != SIGSTOP && sig != SIGTSTP &&
           sig != SIGTTIN && sig != SIGTTOU;
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

void slot_apply(struct slot *s, enum slot_state from, bool was_up, enum slot_event ev,
                struct slot_action *act, uint64_t now)
{
    struct pool *p = s->pool;

    /*
     * A suspended worker would hold the stop signal pending until SIGKILL: SIGCONT first (systemd
     * sends it too, after), so that a worker leaving on the stop signal gets no signal while it
     * exits (a sanitizer's leak check at exit, which stops the process's threads, aborted on it).
     */
    if (wakes_to_stop(act->signal)) {
        slot_signal(s, SIGCONT);
        if (s->cg != NULL)
            cgroup_slot_signal(s->cg, SIGCONT, s->pid);
    }
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
    slot_record_event(s, from, ev, act, now, settle_pid);
    slot_arm_timer(s);
    if (from != s->fsm.state) {
        log_debug("pool %s slot %u: %s -> %s (%s)", p->name, s->index, slot_state_name(from),
                  slot_state_name(s->fsm.state), slot_event_name(ev));
    }
    if ((from != s->fsm.state || was_up != s->fsm.up || s->fsm.pending_fail != NULL) &&
        p->route != NULL)
        route_slot_state(p->route, s, slot_route_state(s));
    if (act->became_fatal && p->cfg->on_fatal == ON_FATAL_EXIT && !droverd.shutting_down) {
        log_warnx("pool %s: on_fatal = exit: shutting droverd down", p->name);
        droverd_shutdown(DROVERD_EXIT_FATAL_POOL);
    }
    check_slot_changed(s);
    recycle_slot_changed(s);
    slot_settled(s);
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

/* Anything but a stop waits for its turn (it starts with the config of that moment). */
void slot_event_queued(struct slot *s, enum slot_event ev, uint64_t now)
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

/* The spawn queue's turn (spawn_queue.c): fork the slot that waited, or drop it in a shutdown. */
static void slot_spawn_turn(struct slot *s)
{
    struct slot_action act = {.spawn = true};
    uint64_t now = mono_now();

    if (droverd.shutting_down) {
        slot_event_queued(s, SLOT_EV_STOP, now);
        return;
    }
    spawn_dequeue(s);
    /* The start happens now: the run is timed, and start_timeout counted, from here. */
    s->fsm.started_at = now;
    if (s->pool->policy.ready_notify)
        s->fsm.deadline = now + s->pool->policy.start_timeout_us;
    slot_apply(s, SLOT_STARTING, s->fsm.up, SLOT_EV_START, &act, now);
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
    usage_worker_gone(s);
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

void slot_free(struct slot *s)
{
    spawn_dequeue(s);
    if (s->pid > 0)
        pid_map_remove(s);
    check_slot_free(s);
    recycle_slot_free(s);
    slot_close_exec_pipe(s);
    usage_worker_gone(s);
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

void worker_init(void (*settled)(struct slot *s))
{
    slot_settled = settled;
    spawn_queue_set_turn(slot_spawn_turn);
    cgroup_set_empty_hook(slot_cgroup_empty);
    cgroup_set_oom_hook(slot_cgroup_oom);
}
