/* SPDX-License-Identifier: ISC */
/*
 * stamp-collect: starts droverd over a pool of stamp-workers and measures
 *
 *   start-up:  from just before it forks droverd to the moment the last of
 *              the N workers read its clock (each worker's own CLOCK_MONOTONIC);
 *   restart:   with --kills K, SIGKILLs the workers slot by slot, round-robin,
 *              and for each kill measures from just before kill() to the
 *              replacement's first clock reading. A victim is killed only
 *              once it has run at least --min-age-ms, so droverd sees a
 *              healthy worker crash (which it restarts at once) and not a
 *              crash loop (which it backs off).
 *
 *   stamp-collect --socket PATH --workers N [--kills K] [--min-age-ms MS]
 *                 [--gap-ms MS] [--timeout-ms MS] [--hold] [--pidfile FILE]
 *                 -- droverd -c CONFIG
 *   stamp-collect --self --socket PATH --workers N [--kills K] -- stamp-worker
 *
 * The config must give the pool STAMP_SOCKET=PATH in its environment.
 * With --self there is no droverd: stamp-collect forks the N workers itself
 * and, after each kill, waits for the victim and forks its replacement at
 * once. That is the floor any supervisor on this machine pays (kill, exit,
 * reap, fork, exec), against which droverd's numbers can be read.
 * Prints one JSON line on stdout. Without --hold it then stops droverd
 * (SIGTERM, SIGKILL after 10 s); with --hold it leaves droverd running for
 * other measurements, waits for it to exit, and forwards SIGTERM/SIGINT.
 * Its only children are that droverd and, through it, the workers.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench_time.h"
#include "stamp.h"
#include "stats.h"

static pid_t droverd_pid;
static int droverd_status = -1; /* set once it has been reaped */
static char **worker_argv;      /* --self */

/* --self: fork and exec one worker for slot. */
static pid_t spawn_worker(unsigned slot)
{
    pid_t pid = fork();

    if (pid == 0) {
        char num[16];
        snprintf(num, sizeof(num), "%u", slot);
        setenv("DROVER_WORKER", num, 1);
        execvp(worker_argv[0], worker_argv);
        _exit(127);
    }
    return pid;
}

/* One stamp, waiting until the deadline. Returns 1, or 0 on timeout. */
static int recv_stamp(int fd, uint64_t deadline, struct stamp_msg *m)
{
    for (;;) {
        uint64_t now = now_ns();
        if (now >= deadline)
            return 0;
        struct pollfd p = {.fd = fd, .events = POLLIN};
        int ms = (int)((deadline - now) / 1000000u) + 1;
        if (ms > 100)
            ms = 100;
        if (poll(&p, 1, ms) <= 0) {
            /* droverd gone (a bad config, say): nothing more will come. */
            if (droverd_pid > 0 && droverd_status < 0 &&
                waitpid(droverd_pid, &droverd_status, WNOHANG) == droverd_pid) {
                fprintf(stderr, "stamp-collect: %s exited\n", "droverd");
                return 0;
            }
            if (droverd_status >= 0)
                return 0;
            continue;
        }
        ssize_t n = recv(fd, m, sizeof(*m), MSG_DONTWAIT);
        if (n == (ssize_t)sizeof(*m))
            return 1;
    }
}

static void forward_signal(int sig)
{
    if (droverd_pid > 0)
        kill(droverd_pid, sig);
}

static void usage(void)
{
    fprintf(stderr,
            "usage: stamp-collect --socket PATH --workers N [--kills K] [--min-age-ms MS]\n"
            "                     [--gap-ms MS] [--timeout-ms MS] [--hold] [--pidfile FILE]\n"
            "                     -- COMMAND [ARG...]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"socket", required_argument, NULL, 's'}, {"workers", required_argument, NULL, 'w'},
        {"kills", required_argument, NULL, 'k'},  {"min-age-ms", required_argument, NULL, 'a'},
        {"gap-ms", required_argument, NULL, 'g'}, {"timeout-ms", required_argument, NULL, 't'},
        {"hold", no_argument, NULL, 'H'},         {"pidfile", required_argument, NULL, 'p'},
        {"self", no_argument, NULL, 'S'},         {NULL, 0, NULL, 0},
    };
    const char *path = NULL, *pidfile = NULL;
    unsigned workers = 0, kills = 0;
    uint64_t min_age_ns = 0, gap_ns = 0, timeout_ns = 2000000000u;
    bool hold = false, self = false;
    int ch;

    while ((ch = getopt_long(argc, argv, "+", longopts, NULL)) != -1) {
        switch (ch) {
        case 's':
            path = optarg;
            break;
        case 'w':
            workers = (unsigned)strtoul(optarg, NULL, 10);
            break;
        case 'k':
            kills = (unsigned)strtoul(optarg, NULL, 10);
            break;
        case 'a':
            min_age_ns = strtoull(optarg, NULL, 10) * 1000000u;
            break;
        case 'g':
            gap_ns = strtoull(optarg, NULL, 10) * 1000000u;
            break;
        case 't':
            timeout_ns = strtoull(optarg, NULL, 10) * 1000000u;
            break;
        case 'H':
            hold = true;
            break;
        case 'p':
            pidfile = optarg;
            break;
        case 'S':
            self = true;
            break;
        default:
            usage();
        }
    }
    if (path == NULL || workers == 0 || optind >= argc)
        usage();

    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    int rcvbuf = 4 << 20;
    if (strlen(path) >= sizeof(sun.sun_path)) {
        fprintf(stderr, "stamp-collect: socket path too long\n");
        return 2;
    }
    snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
    unlink(path);
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
    if (fd < 0 || bind(fd, (struct sockaddr *)&sun, sizeof(sun)) != 0) {
        perror(path);
        return 2;
    }

    int32_t *slot_pid = calloc(workers, sizeof(int32_t));
    uint64_t *slot_born = calloc(workers, sizeof(uint64_t));
    uint64_t *lat = calloc(kills + 1, sizeof(uint64_t));
    unsigned seen = 0, nlat = 0, missed = 0, strays = 0;
    uint64_t first = 0, last = 0;
    struct stamp_msg m;

    /* Start-up: the clock starts just before droverd (or the first worker) is forked. */
    uint64_t t0 = now_ns();
    if (self) {
        worker_argv = argv + optind;
        setenv("STAMP_SOCKET", path, 1);
        for (unsigned i = 0; i < workers; i++)
            spawn_worker(i);
        hold = false;
    } else {
        droverd_pid = fork();
        if (droverd_pid < 0) {
            perror("fork");
            return 2;
        }
        if (droverd_pid == 0) {
            int devnull = open("/dev/null", O_RDONLY);
            dup2(devnull, 0);
            execvp(argv[optind], argv + optind);
            perror(argv[optind]);
            _exit(127);
        }
        signal(SIGTERM, forward_signal);
        signal(SIGINT, forward_signal);
        if (pidfile != NULL) {
            FILE *f = fopen(pidfile, "w");
            if (f != NULL) {
                fprintf(f, "%d\n", (int)droverd_pid);
                fclose(f);
            }
        }
    }
    uint64_t deadline = t0 + 60000000000ull;
    while (seen < workers && recv_stamp(fd, deadline, &m)) {
        if (m.slot < 0 || (unsigned)m.slot >= workers) {
            strays++;
            continue;
        }
        if (slot_pid[m.slot] == 0)
            seen++;
        slot_pid[m.slot] = m.pid;
        slot_born[m.slot] = m.mono_ns;
        if (first == 0 || m.mono_ns < first)
            first = m.mono_ns;
        if (m.mono_ns > last)
            last = m.mono_ns;
    }
    if (seen < workers)
        fprintf(stderr, "stamp-collect: only %u of %u workers reported within 60 s\n", seen,
                workers);

    /* Restarts: kill slot k % N once it is old enough, wait for its replacement. */
    for (unsigned k = 0; k < kills && seen == workers; k++) {
        unsigned slot = k % workers;
        int32_t victim = slot_pid[slot];
        uint64_t now = now_ns();

        if (slot_born[slot] + min_age_ns > now)
            sleep_ns(slot_born[slot] + min_age_ns - now);
        if (gap_ns > 0)
            sleep_ns(gap_ns);
        uint64_t t_kill = now_ns();
        if (kill(victim, SIGKILL) != 0) {
            missed++;
            continue;
        }
        if (self) {
            /* The minimal supervisor: reap, fork the replacement, nothing else. */
            waitpid(victim, NULL, 0);
            spawn_worker(slot);
        }
        bool got = false;
        while (recv_stamp(fd, t_kill + timeout_ns, &m)) {
            if (m.slot < 0 || (unsigned)m.slot >= workers) {
                strays++;
                continue;
            }
            slot_pid[m.slot] = m.pid;
            slot_born[m.slot] = m.mono_ns;
            if ((unsigned)m.slot == slot && m.pid != victim) {
                lat[nlat++] = m.mono_ns > t_kill ? m.mono_ns - t_kill : 0;
                got = true;
                break;
            }
            strays++; /* another slot restarted: not expected */
        }
        if (!got) {
            missed++;
            /* Its replacement may still come (backoff); pick it up before its next turn. */
            slot_born[slot] = now_ns();
        }
    }

    qsort(lat, nlat, sizeof(*lat), cmp_u64);
    double mean = 0;
    for (unsigned i = 0; i < nlat; i++)
        mean += (double)lat[i];
    mean = nlat ? mean / nlat : 0;
    printf("{\"workers\":%u,\"reported\":%u,\"startup_ms\":%.3f,\"first_worker_ms\":%.3f,"
           "\"droverd_pid\":%d,\"kills\":%u,\"restarts_measured\":%u,\"missed\":%u,\"strays\":%u",
           workers, seen, seen ? (double)(last - t0) / 1e6 : -1.0,
           seen ? (double)(first - t0) / 1e6 : -1.0, (int)droverd_pid, kills, nlat, missed, strays);
    if (nlat > 0)
        printf(",\"restart_us\":{\"min\":%.1f,\"p50\":%.1f,\"p90\":%.1f,\"p99\":%.1f,"
               "\"max\":%.1f,\"mean\":%.1f}",
               (double)lat[0] / 1e3, (double)pct(lat, nlat, 50) / 1e3,
               (double)pct(lat, nlat, 90) / 1e3, (double)pct(lat, nlat, 99) / 1e3,
               (double)lat[nlat - 1] / 1e3, mean / 1e3);
    printf("}\n");
    fflush(stdout);

    int status = droverd_status;
    if (droverd_status >= 0) {
        /* already reaped */
    } else if (self) {
        for (unsigned i = 0; i < workers; i++)
            if (slot_pid[i] > 0)
                kill(slot_pid[i], SIGKILL);
        while (wait(NULL) > 0 || errno == EINTR)
            ;
    } else if (!hold) {
        kill(droverd_pid, SIGTERM);
        for (int i = 0; i < 1000 && waitpid(droverd_pid, &status, WNOHANG) == 0; i++)
            sleep_ns(10000000u);
        if (waitpid(droverd_pid, &status, WNOHANG) == 0) {
            kill(droverd_pid, SIGKILL);
            waitpid(droverd_pid, &status, 0);
        }
    } else {
        while (waitpid(droverd_pid, &status, 0) < 0 && errno == EINTR)
            ;
    }
    close(fd);
    unlink(path);
    if (pidfile != NULL)
        unlink(pidfile);
    return seen == workers && missed == 0 ? 0 : 1;
}
