/* SPDX-License-Identifier: ISC */
/*
 * vfork + exec of one worker, and everything the child does in between. The
 * parent prepares a complete plan (argv, environment, fds, credentials) so
 * that the child only makes async-signal-safe calls.
 */
#ifndef DROVER_SPAWN_H
#define DROVER_SPAWN_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/resource.h>
#include <sys/types.h>

struct spawn_plan {
    const char *path; /* absolute path to exec */
    char *const *argv;
    char **envp;
    int pid_env[2]; /* indexes in envp of "X=" entries to complete with the child's pid; -1 */
    int fd_stdin;   /* fds to become 0, 1, 2 and 3; -1 = 0..2 as droverd has them / no 3 */
    int fd_stdout;
    int fd_stderr;
    int fd3;
    int cpu; /* pin to this CPU; -1 = no pinning */
    const char *directory;
    bool set_credentials;
    uid_t uid;
    gid_t gid;
    const gid_t *groups;
    int ngroups;
    pid_t daemon_pid;
    const struct rlimit *nofile;  /* soft/hard limit to give back to the worker */
    unsigned long timer_slack_ns; /* droverd's own at its start, given back; 0 = inherited */
    bool enter_cgroup; /* write "0" to cgroup_fd (its cgroup.procs) before anything else */
    int cgroup_fd;
};

/*
 * vfork and exec. On success returns 0 with the pid and the read end of a
 * close-on-exec status pipe: it reaches EOF when exec succeeded, or carries
 * a struct spawn_failure when the child could not get that far.
 */
int spawn_process(const struct spawn_plan *plan, pid_t *pid_out, int *status_fd_out, char *err,
                  size_t errsz);

/* What a child reports on the status pipe before _exit(127). */
struct spawn_failure {
    int step; /* enum spawn_step */
    int error;
};
/* "exec /path: No such file or directory" from a report. */
void spawn_failure_describe(const struct spawn_failure *f, const char *path, char *buf,
                            size_t bufsz);

#endif
