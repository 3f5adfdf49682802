/* SPDX-License-Identifier: ISC */
/*
 * probe-worker: a worker for the life-cycle integration tests
 * (tests/integration/t_life_*.sh and others). It records what droverd did to it into
 * files the test reads, and can misbehave on request.
 *
 * In every FILE argument, %w becomes $DROVER_WORKER and %p the worker's pid,
 * so one command line serves every slot of a pool. One-shot files are
 * written to a temporary name and renamed, so a reader never sees half.
 *
 *   --fds FILE          the open fds at start (one per line), before this
 *                       program opens anything (the fd used to list is left out)
 *   --env FILE          the environment, one NAME=VALUE per line
 *   --info FILE         "pid ppid pgid"
 *   --record FILE       append the name of every signal received (TERM INT HUP
 *                       QUIT USR1 USR2), one per line
 *   --ignore SIG        record SIG but do not exit on it (repeatable)
 *   --term-delay MS     on a terminating signal, exit only MS ms later
 *   --exit N            exit with status N at once (after writing the files)
 *   --exit-if FILE N    exit with status N at once if FILE exists
 *   --family FILE       fork a child that forks a grandchild, all in the
 *                       worker's process group; write "childpid grandchildpid"
 *   --family-ignore-term  the child and grandchild ignore SIGTERM
 *   --orphans N FILE    make N orphans (double fork); each waits until it was
 *                       reparented, appends "pid ppid" to FILE, waits for
 *                       FILE.go to exist, then exits
 *   --orphans-setsid    the orphans leave the worker's session and process
 *                       group (setsid), as a daemonizing program does
 *   --orphans-ignore-term  the orphans ignore SIGTERM
 *
 * Without --exit the worker runs until a terminating signal (exit 0).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* dirfd, getpgid, O_CLOEXEC when built alone */
#endif
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static const struct {
    int sig;
    const char *name;
} signal_names[] = {
    {SIGTERM, "TERM"}, {SIGINT, "INT"},   {SIGHUP, "HUP"},
    {SIGQUIT, "QUIT"}, {SIGUSR1, "USR1"}, {SIGUSR2, "USR2"},
};
#define NSIGNALS (sizeof(signal_names) / sizeof(signal_names[0]))

static int record_fd = -1;
static int ignored[NSIGNALS];
static volatile sig_atomic_t stop_requested;

static void die(const char *what)
{
    fprintf(stderr, "probe-worker: %s: %s\n", what, strerror(errno));
    exit(111);
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/* Expand %w (DROVER_WORKER) and %p (pid) in a path template. */
static char *expand(const char *tmpl)
{
    const char *worker = getenv("DROVER_WORKER");
    size_t cap = strlen(tmpl) * 4 + 64, n = 0;
    char *out = malloc(cap);

    if (out == NULL)
        die("malloc");
    for (const char *p = tmpl; *p != '\0'; p++) {
        if (p[0] == '%' && p[1] == 'w') {
            n += (size_t)snprintf(out + n, cap - n, "%s", worker != NULL ? worker : "x");
            p++;
        } else if (p[0] == '%' && p[1] == 'p') {
            n += (size_t)snprintf(out + n, cap - n, "%d", (int)getpid());
            p++;
        } else {
            out[n++] = *p;
        }
        if (n + 32 >= cap)
            die("path too long");
    }
    out[n] = '\0';
    return out;
}

/* Write text to path through a temporary file and rename(2). */
static void write_file(const char *path, const char *text)
{
    char tmp[4096];
    int fd;
    size_t len = strlen(text);

    snprintf(tmp, sizeof(tmp), "%s.tmp%d", path, (int)getpid());
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        die(tmp);
    if (write(fd, text, len) != (ssize_t)len)
        die("write");
    close(fd);
    if (rename(tmp, path) != 0)
        die("rename");
}

static void write_fds(const char *path)
{
    DIR *d = opendir("/proc/self/fd");
    struct dirent *e;
    char buf[8192];
    size_t n = 0;
    int self;

    if (d == NULL)
        die("opendir /proc/self/fd");
    self = dirfd(d);
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.' || atoi(e->d_name) == self)
            continue;
        if (n + 16 < sizeof(buf))
            n += (size_t)snprintf(buf + n, sizeof(buf) - n, "%s\n", e->d_name);
    }
    buf[n] = '\0';
    closedir(d);
    write_file(path, buf);
}

static void write_env(const char *path)
{
    size_t cap = 1, n = 0;
    char *buf;

    for (char **e = environ; *e != NULL; e++)
        cap += strlen(*e) + 1;
    buf = malloc(cap);
    if (buf == NULL)
        die("malloc");
    for (char **e = environ; *e != NULL; e++)
        n += (size_t)snprintf(buf + n, cap - n, "%s\n", *e);
    buf[n] = '\0';
    write_file(path, buf);
    free(buf);
}

static void signal_cb(int sig)
{
    int saved = errno;

    for (size_t i = 0; i < NSIGNALS; i++) {
        if (signal_names[i].sig != sig)
            continue;
        if (record_fd >= 0) {
            char line[16];
            size_t len = strlen(signal_names[i].name);
            memcpy(line, signal_names[i].name, len);
            line[len++] = '\n';
            /* One write(2) per line on an O_APPEND fd: lines never mix. */
            if (write(record_fd, line, len) < 0) {
                /* nothing to do from a signal handler */
            }
        }
        if (!ignored[i] && sig != SIGUSR1 && sig != SIGUSR2)
            stop_requested = 1;
    }
    errno = saved;
}

/* In a forked child: forget the worker's handlers and mask. */
static void child_reset_signals(int ignore_term)
{
    sigset_t none;

    for (size_t i = 0; i < NSIGNALS; i++)
        signal(signal_names[i].sig, SIG_DFL);
    if (ignore_term)
        signal(SIGTERM, SIG_IGN);
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    if (record_fd >= 0)
        close(record_fd);
}

static void make_family(const char *path, int ignore_term)
{
    int pfd[2];
    pid_t child, grandchild = 0;
    char text[64];

    if (pipe(pfd) != 0)
        die("pipe");
    child = fork();
    if (child < 0)
        die("fork");
    if (child == 0) {
        child_reset_signals(ignore_term);
        close(pfd[0]);
        grandchild = fork();
        if (grandchild == 0) {
            close(pfd[1]);
            for (;;)
                pause();
        }
        if (write(pfd[1], &grandchild, sizeof(grandchild)) != (ssize_t)sizeof(grandchild))
            _exit(1);
        close(pfd[1]);
        for (;;)
            pause();
    }
    close(pfd[1]);
    if (read(pfd[0], &grandchild, sizeof(grandchild)) != (ssize_t)sizeof(grandchild))
        die("read grandchild pid");
    close(pfd[0]);
    snprintf(text, sizeof(text), "%d %d\n", (int)child, (int)grandchild);
    write_file(path, text);
}

static int orphans_setsid, orphans_ignore_term;

static void make_orphans(int n, const char *path)
{
    char go[4096];

    snprintf(go, sizeof(go), "%s.go", path);
    for (int i = 0; i < n; i++) {
        pid_t mid = fork();
        if (mid < 0)
            die("fork");
        if (mid == 0) {
            pid_t orphan, middle = getpid();
            child_reset_signals(orphans_ignore_term);
            if (orphans_setsid && setsid() < 0)
                die("setsid");
            orphan = fork();
            if (orphan == 0) {
                char line[64];
                int fd;
                /* Wait to be orphaned: the middle process exits right away. */
                for (int k = 0; k < 5000 && getppid() == middle; k++)
                    sleep_ms(1);
                snprintf(line, sizeof(line), "%d %d\n", (int)getpid(), (int)getppid());
                fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
                if (fd >= 0) {
                    if (write(fd, line, strlen(line)) < 0)
                        _exit(1);
                    close(fd);
                }
                for (int k = 0; k < 4000 && access(go, F_OK) != 0; k++)
                    sleep_ms(5);
                _exit(0);
            }
            _exit(orphan < 0 ? 1 : 0);
        }
        /* Reap the middle process ourselves: only the orphan goes to droverd. */
        while (waitpid(mid, NULL, 0) < 0 && errno == EINTR)
            ;
    }
}

static int signal_by_name(const char *s)
{
    if (strncmp(s, "SIG", 3) == 0)
        s += 3;
    for (size_t i = 0; i < NSIGNALS; i++)
        if (strcmp(signal_names[i].name, s) == 0)
            return (int)i;
    return -1;
}

static void usage(void)
{
    fprintf(stderr, "usage: probe-worker [--fds F] [--env F] [--info F] [--record F] "
                    "[--ignore SIG] [--term-delay MS] [--exit N] [--exit-if F N] "
                    "[--family F] [--family-ignore-term] [--orphans N F] [--orphans-setsid] "
                    "[--orphans-ignore-term]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    const char *fds = NULL, *env = NULL, *info = NULL, *record = NULL, *family = NULL;
    const char *exit_if = NULL, *orphans_file = NULL;
    int exit_code = -1, exit_if_code = 0, family_ignore_term = 0, orphans = 0;
    long term_delay = 0;
    struct sigaction sa;
    sigset_t block, old;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int more = argc - i - 1;
        if (strcmp(a, "--fds") == 0 && more >= 1)
            fds = argv[++i];
        else if (strcmp(a, "--env") == 0 && more >= 1)
            env = argv[++i];
        else if (strcmp(a, "--info") == 0 && more >= 1)
            info = argv[++i];
        else if (strcmp(a, "--record") == 0 && more >= 1)
            record = argv[++i];
        else if (strcmp(a, "--ignore") == 0 && more >= 1) {
            int k = signal_by_name(argv[++i]);
            if (k < 0)
                usage();
            ignored[k] = 1;
        } else if (strcmp(a, "--term-delay") == 0 && more >= 1)
            term_delay = atol(argv[++i]);
        else if (strcmp(a, "--exit") == 0 && more >= 1)
            exit_code = atoi(argv[++i]);
        else if (strcmp(a, "--exit-if") == 0 && more >= 2) {
            exit_if = argv[++i];
            exit_if_code = atoi(argv[++i]);
        } else if (strcmp(a, "--family") == 0 && more >= 1)
            family = argv[++i];
        else if (strcmp(a, "--family-ignore-term") == 0)
            family_ignore_term = 1;
        else if (strcmp(a, "--orphans-setsid") == 0)
            orphans_setsid = 1;
        else if (strcmp(a, "--orphans-ignore-term") == 0)
            orphans_ignore_term = 1;
        else if (strcmp(a, "--orphans") == 0 && more >= 2) {
            orphans = atoi(argv[++i]);
            orphans_file = argv[++i];
        } else
            usage();
    }

    /* First, before this program opens anything of its own. */
    if (fds != NULL) {
        char *path = expand(fds);
        write_fds(path);
        free(path);
    }
    if (exit_if != NULL) {
        char *path = expand(exit_if);
        if (access(path, F_OK) == 0)
            exit(exit_if_code);
        free(path);
    }

    /* Handlers first, then the records: once a file exists, signals are caught. */
    sigemptyset(&block);
    for (size_t i = 0; i < NSIGNALS; i++)
        sigaddset(&block, signal_names[i].sig);
    sigprocmask(SIG_BLOCK, &block, &old);
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = signal_cb;
    sa.sa_mask = block;
    for (size_t i = 0; i < NSIGNALS; i++)
        sigaction(signal_names[i].sig, &sa, NULL);
    if (record != NULL) {
        char *path = expand(record);
        record_fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        if (record_fd < 0)
            die(path);
        free(path);
    }

    if (env != NULL) {
        char *path = expand(env);
        write_env(path);
        free(path);
    }
    if (family != NULL) {
        char *path = expand(family);
        make_family(path, family_ignore_term);
        free(path);
    }
    if (orphans > 0) {
        char *path = expand(orphans_file);
        make_orphans(orphans, path);
        free(path);
    }
    if (info != NULL) {
        char *path = expand(info), text[64];
        snprintf(text, sizeof(text), "%d %d %d\n", (int)getpid(), (int)getppid(), (int)getpgid(0));
        write_file(path, text);
        free(path);
    }
    if (exit_code >= 0)
        exit(exit_code);

    /* Wait for signals with them unblocked only inside sigsuspend: no lost wake-up. */
    for (size_t i = 0; i < NSIGNALS; i++)
        sigdelset(&old, signal_names[i].sig);
    while (!stop_requested)
        sigsuspend(&old);
    if (term_delay > 0)
        sleep_ms(term_delay);
    return 0;
}
