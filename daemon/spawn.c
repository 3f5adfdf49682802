/* SPDX-License-Identifier: ISC */
/*
 * Forking and exec'ing workers. The only code in droverd that runs between
 * vfork() and exec(); it shares droverd's memory, so it may use
 * async-signal-safe calls only, allocates nothing, and reports a failure
 * through the status pipe rather than by logging.
 */
#include "spawn.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "parse.h"
#include "sys.h"

enum spawn_step {
    STEP_CGROUP,
    STEP_SETPGID,
    STEP_AFFINITY,
    STEP_CHDIR,
    STEP_SETGROUPS,
    STEP_SETGID,
    STEP_SETUID,
    STEP_PDEATHSIG,
    STEP_FDS,
    STEP_EXEC,
};

static const char *const step_names[] = {
    "enter cgroup (cgroup.procs)",
    "setpgid",
    "sched_setaffinity",
    "chdir",
    "setgroups",
    "setgid",
    "setuid",
    "prctl(PR_SET_PDEATHSIG)",
    "dup2",
    "exec",
};

void spawn_failure_describe(const struct spawn_failure *f, const char *path, char *buf,
                            size_t bufsz)
{
    const char *step = f->step >= 0 && f->step <= STEP_EXEC ? step_names[f->step] : "start";

    if (f->step == STEP_EXEC)
        snprintf(buf, bufsz, "exec %s: %s", path, strerror(f->error));
    else
        snprintf(buf, bufsz, "%s: %s", step, strerror(f->error));
}

static _Noreturn void child_fail(int status_fd, int step)
{
    struct spawn_failure f = {.step = step, .error = errno};
    ssize_t n = write(status_fd, &f, sizeof(f));

    (void)n;
    _exit(127);
}

/* Write a decimal number into buf (async-signal-safe snprintf replacement). */
static void format_pid(char *buf, pid_t pid)
{
    char tmp[16];
    int n = 0;
    unsigned v = (unsigned)pid;

    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    while (n > 0)
        *buf++ = tmp[--n];
    *buf = '\0';
}

/*
 * Place fds at 0..3. Sources may themselves be small numbers (even each
 * other's targets), so every source is first moved above the targets.
 */
static int child_setup_fds(const struct spawn_plan *plan)
{
    int src[4] = {plan->fd_stdin, plan->fd_stdout, plan->fd_stderr, plan->fd3};
    int moved[4];

    for (int i = 0; i < 4; i++) {
        moved[i] = -1;
        if (src[i] < 0)
            continue;
        /* Reuse a move already made for the same source (stdout and stderr share a pipe). */
        for (int j = 0; j < i; j++)
            if (src[j] == src[i])
                moved[i] = moved[j];
        if (moved[i] < 0) {
            moved[i] = fcntl(src[i], F_DUPFD_CLOEXEC, 10);
            if (moved[i] < 0)
                return -1;
        }
    }
    for (int i = 0; i < 4; i++) {
        if (moved[i] < 0)
            continue;
        if (dup2(moved[i], i) < 0)
            return -1;
    }
    return 0;
}

static _Noreturn void child(const struct spawn_plan *plan, int status_read, int status_fd)
{
    sigset_t empty;
    struct sigaction sa;

    close(status_read);
    /* The status pipe must not sit where fds 0..3 are about to go. */
    status_fd = fcntl(status_fd, F_DUPFD_CLOEXEC, 10);
    if (status_fd < 0)
        _exit(127);

    /* Put every disposition droverd changed (libevent's handlers, SIGPIPE) back to default. */
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = SIG_DFL;
    for (int sig = 1; sig < NSIG; sig++)
        if (sig != SIGKILL && sig != SIGSTOP)
            sigaction(sig, &sa, NULL);
    sigemptyset(&empty);
    sigprocmask(SIG_SETMASK, &empty, NULL);

    /*
     * Into the slot's cgroup first, so not one instruction of the worker runs
     * outside it; a child that cannot enter never becomes the worker.
     */
    if (plan->enter_cgroup && write(plan->cgroup_fd, "0", 1) != 1)
        child_fail(status_fd, STEP_CGROUP);
    /* Own process group, so a stop signal reaches the worker's children too. */
    if (setpgid(0, 0) != 0)
        child_fail(status_fd, STEP_SETPGID);
    if (plan->cpu >= 0) {
        cpu_set_t set;
        CPU_ZERO(&set);
        CPU_SET(plan->cpu, &set);
        if (sched_setaffinity(0, sizeof(set), &set) != 0)
            child_fail(status_fd, STEP_AFFINITY);
    }
    if (plan->directory != NULL && chdir(plan->directory) != 0)
        child_fail(status_fd, STEP_CHDIR);
    if (plan->set_credentials) {
        if (setgroups((size_t)plan->ngroups, plan->groups) != 0)
            child_fail(status_fd, STEP_SETGROUPS);
        if (setgid(plan->gid) != 0)
            child_fail(status_fd, STEP_SETGID);
        if (setuid(plan->uid) != 0)
            child_fail(status_fd, STEP_SETUID);
    }
    /*
     * After the credential change, which clears the parent-death signal.
     * If droverd died before this point the worker was already reparented:
     * then getppid() differs and the worker must not run unsupervised.
     */
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0)
        child_fail(status_fd, STEP_PDEATHSIG);
    if (getppid() != plan->daemon_pid)
        _exit(127);

    if (child_setup_fds(plan) != 0)
        child_fail(status_fd, STEP_FDS);
    if (plan->nofile != NULL)
        setrlimit(RLIMIT_NOFILE, plan->nofile);
    /* droverd runs with a finer timer slack (pace.h); a worker gets what droverd was given. */
    if (plan->timer_slack_ns != 0)
        prctl(PR_SET_TIMERSLACK, plan->timer_slack_ns, 0, 0, 0);
    /* Only 0..2 (and 3 when given) survive, whatever droverd inherited without CLOEXEC. */
    sys_close_from(plan->fd3 >= 0 ? 4 : 3, status_fd);
    /* LISTEN_PID and WATCHDOG_PID name the worker itself, known only now. */
    for (int i = 0; i < 2; i++) {
        if (plan->pid_env[i] >= 0) {
            char *kv = plan->envp[plan->pid_env[i]];
            format_pid(strchr(kv, '=') + 1, getpid());
        }
    }
    execve(plan->path, plan->argv, plan->envp);
    child_fail(status_fd, STEP_EXEC);
}

int spawn_process(const struct spawn_plan *plan, pid_t *pid_out, int *status_fd_out, char *err,
                  size_t errsz)
{
    int pipefd[2];
    sigset_t all, old;
    pid_t pid;

    if (pipe2(pipefd, O_CLOEXEC) != 0)
        return parse_error(err, errsz, "pipe: %s", strerror(errno));
    /* Keep libevent's handlers from running in the child before it resets them. */
    sigfillset(&all);
    sigprocmask(SIG_BLOCK, &all, &old);
    /*
     * vfork: the child borrows droverd's memory until it execs (droverd waits
     * meanwhile), so starting a worker costs the same whatever droverd's size,
     * and no page tables are copied. child() never returns and writes no
     * memory droverd reads afterwards except the pid digits in plan->envp,
     * which belong to the worker being started.
     */
    pid = vfork();
    if (pid == 0)
        child(plan, pipefd[0], pipefd[1]);
    int saved = errno;
    sigprocmask(SIG_SETMASK, &old, NULL);
    close(pipefd[1]);
    if (pid < 0) {
        close(pipefd[0]);
        return parse_error(err, errsz, "fork: %s", strerror(saved));
    }
    sys_set_nonblock_cloexec(pipefd[0]);
    *pid_out = pid;
    *status_fd_out = pipefd[0];
    return 0;
}
