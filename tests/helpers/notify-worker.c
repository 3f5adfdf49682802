/* SPDX-License-Identifier: ISC */
/*
 * notify-worker: a test worker that speaks the sd_notify protocol to droverd
 * (ready = notify): datagrams to the path in $NOTIFY_SOCKET, as
 * sd_notify(3) sends them. Steps, in this order:
 *
 *   --status-first TEXT  send STATUS=TEXT at once
 *   --trigger FILE       wait until FILE exists
 *   --forge              a forked child (another pid) sends
 *                        "READY=1\nSTATUS=forged" and exits; then this
 *                        process sends STATUS=after-forge itself
 *   --hold FILE          wait until FILE exists
 *   --ready-after MS     wait MS milliseconds (default 0)
 *   --never-ready        stop here: never send READY=1
 *   --mark FILE          create FILE, then send READY=1 (with STATUS=TEXT
 *                        when --status TEXT is given)
 *   --watchdog-for MS    send WATCHDOG=1 every WATCHDOG_USEC/4 for MS
 *                        milliseconds, then create the --stopped FILE and
 *                        send nothing more; when the --stopped FILE exists
 *                        already (this is the replacement), ping forever
 *
 * Files made by --mark and --stopped hold the worker's pid.
 *
 * Then it waits for a signal. It exits 9 when WATCHDOG_PID is set but is
 * not its own pid, or when --watchdog-for is given without WATCHDOG_USEC.
 */
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void usage(void)
{
    fprintf(stderr,
            "usage: notify-worker [--status-first TEXT] [--trigger FILE] [--forge] "
            "[--hold FILE] [--ready-after MS] [--never-ready] [--mark FILE] [--status TEXT] "
            "[--watchdog-for MS] [--stopped FILE]\n");
    exit(2);
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

static long now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* One datagram to $NOTIFY_SOCKET, like sd_notify(0, msg). Exits on failure. */
static void notify(const char *msg)
{
    const char *path = getenv("NOTIFY_SOCKET");
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    socklen_t len;
    int fd;

    if (path == NULL || (path[0] != '/' && path[0] != '@') ||
        strlen(path) >= sizeof(sun.sun_path)) {
        fprintf(stderr, "notify-worker: NOTIFY_SOCKET is %s\n", path != NULL ? path : "unset");
        exit(9);
    }
    memcpy(sun.sun_path, path, strlen(path));
    if (path[0] == '@')
        sun.sun_path[0] = '\0';
    len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(path));
    fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || sendto(fd, msg, strlen(msg), MSG_NOSIGNAL, (struct sockaddr *)&sun, len) < 0) {
        fprintf(stderr, "notify-worker: sending to %s: %s\n", path, strerror(errno));
        exit(9);
    }
    close(fd);
}

/* Create path holding this process's pid, so a test knows which worker made it. */
static void mark(const char *path)
{
    FILE *fp = fopen(path, "we");

    if (fp == NULL || fprintf(fp, "%ld\n", (long)getpid()) < 0 || fclose(fp) != 0) {
        fprintf(stderr, "notify-worker: create %s: %s\n", path, strerror(errno));
        exit(9);
    }
}

/* Poll until path exists (nothing to wait for when it is NULL). */
static void wait_for_file(const char *path)
{
    struct stat st;

    while (path != NULL && stat(path, &st) != 0)
        sleep_ms(10);
}

int main(int argc, char **argv)
{
    const char *status_first = NULL, *trigger = NULL, *hold = NULL, *mark_path = NULL,
               *status = NULL;
    const char *stopped = NULL, *wd_pid = getenv("WATCHDOG_PID");
    const char *wd_usec = getenv("WATCHDOG_USEC");
    long ready_after = 0, watchdog_for = -1;
    int forge = 0, never_ready = 0;
    char msg[512];

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--forge") == 0) {
            forge = 1;
            continue;
        }
        if (strcmp(argv[i], "--never-ready") == 0) {
            never_ready = 1;
            continue;
        }
        if (i + 1 >= argc)
            usage();
        if (strcmp(argv[i], "--status-first") == 0)
            status_first = argv[++i];
        else if (strcmp(argv[i], "--trigger") == 0)
            trigger = argv[++i];
        else if (strcmp(argv[i], "--hold") == 0)
            hold = argv[++i];
        else if (strcmp(argv[i], "--ready-after") == 0)
            ready_after = atol(argv[++i]);
        else if (strcmp(argv[i], "--mark") == 0)
            mark_path = argv[++i];
        else if (strcmp(argv[i], "--status") == 0)
            status = argv[++i];
        else if (strcmp(argv[i], "--watchdog-for") == 0)
            watchdog_for = atol(argv[++i]);
        else if (strcmp(argv[i], "--stopped") == 0)
            stopped = argv[++i];
        else
            usage();
    }
    /* sd_watchdog_enabled(3): WATCHDOG_PID, when set, must name this very process. */
    if (wd_pid != NULL && atol(wd_pid) != (long)getpid()) {
        fprintf(stderr, "notify-worker: WATCHDOG_PID=%s but my pid is %ld\n", wd_pid,
                (long)getpid());
        return 9;
    }
    if (watchdog_for >= 0 && (wd_usec == NULL || atol(wd_usec) <= 0)) {
        fprintf(stderr, "notify-worker: --watchdog-for needs WATCHDOG_USEC (got %s)\n",
                wd_usec != NULL ? wd_usec : "nothing");
        return 9;
    }

    if (status_first != NULL) {
        snprintf(msg, sizeof(msg), "STATUS=%s", status_first);
        notify(msg);
    }
    wait_for_file(trigger);
    if (forge) {
        pid_t child = fork();
        if (child == 0) {
            notify("READY=1\nSTATUS=forged");
            _exit(0);
        }
        if (child < 0 || waitpid(child, NULL, 0) != child)
            return 9;
        /* Sent after the forged datagram: once droverd shows it, the forgery was read. */
        notify("STATUS=after-forge");
    }
    wait_for_file(hold);
    sleep_ms(ready_after);
    if (!never_ready) {
        if (mark_path != NULL)
            mark(mark_path);
        if (status != NULL)
            snprintf(msg, sizeof(msg), "READY=1\nSTATUS=%s", status);
        else
            snprintf(msg, sizeof(msg), "READY=1");
        notify(msg);
    }
    if (watchdog_for >= 0) {
        long interval = atol(wd_usec) / 4000, end = now_ms() + watchdog_for;
        struct stat st;
        bool forever = stopped != NULL && stat(stopped, &st) == 0;
        while (forever || now_ms() < end) {
            notify("WATCHDOG=1");
            sleep_ms(interval > 0 ? interval : 1);
        }
        if (stopped != NULL)
            mark(stopped);
    }
    for (;;)
        pause();
}
