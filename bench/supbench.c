/* SPDX-License-Identifier: ISC */
/*
 * supbench: measures one supervisor (droverd, supervisord, runsvdir, s6-svscan,
 * pm2-runtime, ...) over a set of bench/stamp-worker processes, the same way
 * for every supervisor:
 *
 *   start    from just before it forks the supervisor to the last of N
 *            workers' first CLOCK_MONOTONIC reading (the worker's own stamp);
 *            also to the first worker, so the supervisor's own boot
 *            (Python, Node) can be told apart from starting the workers
 *   restart  with --kills K: SIGKILL slot k % N (once its worker is older
 *            than --min-age-ms, so the supervisor sees a healthy worker die)
 *            and time the kill to the replacement's stamp; every sample is
 *            appended to --samples FILE (µs, one per line) for the plots
 *   memory   after --settle-ms: VmRSS and Pss summed over every supervisor
 *            process (all descendants that are not workers)
 *   idle     with --idle-s S: context switches of all supervisor threads over
 *            S seconds with nothing happening (each one is a wake-up)
 *   loop     with --observe-s S: the workers exit at once (bench/'s
 *            crash-worker); every start of slot 0 is recorded for S seconds
 *   stop     sends --stop-signal SIG to the supervisor, or runs --stop-cmd CMD
 *            (sh -c), and times it until every worker has exited, and until
 *            every supervisor process has exited too
 *
 *   supbench --socket PATH --workers N [--kills K --min-age-ms MS --samples FILE]
 *            [--settle-ms MS] [--idle-s S] [--observe-s S]
 *            [--stop-signal SIG | --stop-cmd CMD] [--label TEXT] [--log FILE]
 *            -- SUPERVISOR ARGS...
 *
 * Workers report their slot: $DROVER_WORKER, or for run-directory supervisors
 * the number in their service directory's name (see bench/stamp-worker.c).
 * supbench is a child subreaper, so whatever the supervisor leaves behind
 * is reparented to it; it ends everything still alive at the end, by PID.
 * The supervisor's stdout and stderr go to --log FILE (default /dev/null).
 * One JSON line on stdout.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench_time.h"
#include "stamp.h"
#include "stats.h"

#define MAX_PROCS 8192

static struct {
    const char *socket, *samples, *stop_cmd, *label, *log;
    unsigned workers, kills;
    uint64_t min_age_ns, kill_timeout_ns, settle_ns;
    double idle_s, observe_s;
    int stop_signal;
    char **argv;
} opt = {.kill_timeout_ns = 3000000000ull,
         .settle_ns = 1000000000ull,
         .stop_signal = SIGTERM,
         .label = ""};

static pid_t sup_pid;
static bool sup_exited; /* the supervisor itself has exited (and was reaped) */
static int stamp_fd;

/* Reap whatever has exited: the supervisor, or orphans reparented to us. */
static void reap(void)
{
    pid_t pid;

    while ((pid = waitpid(-1, NULL, WNOHANG)) > 0)
        if (pid == sup_pid)
            sup_exited = true;
}

/* One stamp before the deadline: 1, or 0 on timeout. */
static int recv_stamp(uint64_t deadline, struct stamp_msg *m)
{
    for (;;) {
        uint64_t now = now_ns();
        if (now >= deadline)
            return 0;
        struct pollfd p = {.fd = stamp_fd, .events = POLLIN};
        int ms = (int)((deadline - now) / 1000000u) + 1;
        if (poll(&p, 1, ms > 50 ? 50 : ms) <= 0) {
            reap();
            if (sup_exited)
                return 0; /* nothing more will come */
            continue;
        }
        if (recv(stamp_fd, m, sizeof(*m), MSG_DONTWAIT) == (ssize_t)sizeof(*m))
            return 1;
    }
}

/* ---------------------------------------------------------------------------------------- */
/* The process tree under supbench                                                          */

static int proc_children(pid_t pid, pid_t *out, int max)
{
    char path[64];
    int n = 0;
    DIR *d;
    struct dirent *e;

    snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
    if ((d = opendir(path)) == NULL)
        return 0;
    while ((e = readdir(d)) != NULL && n < max) {
        char file[320];
        FILE *f;
        int c;
        if (e->d_name[0] == '.')
            continue;
        snprintf(file, sizeof(file), "/proc/%d/task/%s/children", (int)pid, e->d_name);
        if ((f = fopen(file, "r")) == NULL)
            continue;
        while (n < max && fscanf(f, "%d", &c) == 1)
            out[n++] = c;
        fclose(f);
    }
    closedir(d);
    return n;
}

/* Every descendant of supbench (breadth first). */
static int descendants(pid_t *out, int max)
{
    int n = proc_children(getpid(), out, max);

    for (int i = 0; i < n && n < max; i++)
        n += proc_children(out[i], out + n, max - n);
    return n;
}

static bool is_worker(pid_t pid, const int32_t *slot_pid)
{
    for (unsigned i = 0; i < opt.workers; i++)
        if (slot_pid[i] == pid)
            return true;
    return false;
}

/* The supervisor's own processes: descendants that are not workers (nor zombies). */
static int supervisor_procs(const int32_t *slot_pid, pid_t *out, int max)
{
    static pid_t all[MAX_PROCS];
    int n = descendants(all, MAX_PROCS), k = 0;

    for (int i = 0; i < n && k < max; i++) {
        char path[64], state = 0;
        FILE *f;
        snprintf(path, sizeof(path), "/proc/%d/stat", (int)all[i]);
        if ((f = fopen(path, "r")) != NULL) {
            if (fscanf(f, "%*d (%*[^)]) %c", &state) != 1)
                state = 0;
            fclose(f);
        }
        if (state != 0 && state != 'Z' && !is_worker(all[i], slot_pid))
            out[k++] = all[i];
    }
    return k;
}

static long status_field(pid_t pid, const char *task, const char *key)
{
    char path[320], line[256];
    size_t klen = strlen(key);
    long v = 0;
    FILE *f;

    if (task != NULL)
        snprintf(path, sizeof(path), "/proc/%d/task/%s/status", (int)pid, task);
    else
        snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
    if ((f = fopen(path, "r")) == NULL)
        return 0;
    while (fgets(line, sizeof(line), f) != NULL)
        if (strncmp(line, key, klen) == 0 && line[klen] == ':') {
            v = strtol(line + klen + 1, NULL, 10);
            break;
        }
    fclose(f);
    return v;
}

static long pss_kb(pid_t pid)
{
    char path[64], line[256];
    long v = 0;
    FILE *f;

    snprintf(path, sizeof(path), "/proc/%d/smaps_rollup", (int)pid);
    if ((f = fopen(path, "r")) == NULL)
        return 0;
    while (fgets(line, sizeof(line), f) != NULL)
        if (strncmp(line, "Pss:", 4) == 0) {
            v = strtol(line + 4, NULL, 10);
            break;
        }
    fclose(f);
    return v;
}

/* Context switches of every thread of pid: each one is a wake-up of a sleeping thread. */
static long ctxt_switches(pid_t pid, int *threads)
{
    char path[64];
    long total = 0;
    DIR *d;
    struct dirent *e;

    snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
    if ((d = opendir(path)) == NULL)
        return 0;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        total += status_field(pid, e->d_name, "voluntary_ctxt_switches");
        total += status_field(pid, e->d_name, "nonvoluntary_ctxt_switches");
        if (threads != NULL)
            (*threads)++;
    }
    closedir(d);
    return total;
}

/* ---------------------------------------------------------------------------------------- */
/* Waiting for processes to end                                                             */

static int pidfd_open_(pid_t pid)
{
    return (int)syscall(SYS_pidfd_open, pid, 0);
}

/* Wait until every pid has exited (or the deadline): returns when the last one did, or 0. */
static uint64_t wait_all_exit(const pid_t *pids, int n, uint64_t deadline)
{
    struct pollfd *p = calloc((size_t)n + 1, sizeof(*p));
    int open_n = 0;
    uint64_t last = now_ns();

    for (int i = 0; i < n; i++) {
        int fd = pidfd_open_(pids[i]);
        if (fd >= 0)
            p[open_n++] = (struct pollfd){.fd = fd, .events = POLLIN};
    }
    while (open_n > 0) {
        uint64_t now = now_ns();
        if (now >= deadline) {
            last = 0;
            break;
        }
        int r = poll(p, (nfds_t)open_n, 10);
        now = now_ns();
        reap();
        if (r <= 0)
            continue;
        for (int i = 0; i < open_n;) {
            if (p[i].revents != 0) {
                close(p[i].fd);
                p[i] = p[--open_n];
                last = now;
            } else {
                i++;
            }
        }
    }
    for (int i = 0; i < open_n; i++)
        close(p[i].fd);
    free(p);
    return last;
}

/* End everything still under supbench, by PID. */
static void kill_everything(void)
{
    static pid_t all[MAX_PROCS];

    for (int round = 0; round < 50; round++) {
        int n = descendants(all, MAX_PROCS);
        if (n == 0)
            break;
        for (int i = 0; i < n; i++)
            kill(all[i], SIGKILL);
        sleep_ns(20000000);
        reap();
    }
}

static void on_signal(int sig)
{
    (void)sig;
    kill_everything();
    _exit(130);
}

/* ---------------------------------------------------------------------------------------- */

static int parse_signal(const char *s)
{
    static const struct {
        const char *name;
        int sig;
    } names[] = {{"TERM", SIGTERM}, {"INT", SIGINT},   {"HUP", SIGHUP},  {"QUIT", SIGQUIT},
                 {"KILL", SIGKILL}, {"USR1", SIGUSR1}, {"USR2", SIGUSR2}};

    if (strncmp(s, "SIG", 3) == 0)
        s += 3;
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (strcmp(s, names[i].name) == 0)
            return names[i].sig;
    return atoi(s);
}

static void usage(void)
{
    fprintf(stderr,
            "usage: supbench --socket PATH --workers N [--kills K --min-age-ms MS]\n"
            "                [--kill-timeout-ms MS] [--samples FILE] [--settle-ms MS]\n"
            "                [--idle-s S] [--observe-s S] [--stop-signal SIG | --stop-cmd CMD]\n"
            "                [--label TEXT] [--log FILE] -- SUPERVISOR [ARG...]\n");
    exit(2);
}

static void parse_args(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"socket", required_argument, NULL, 's'},
        {"workers", required_argument, NULL, 'w'},
        {"kills", required_argument, NULL, 'k'},
        {"min-age-ms", required_argument, NULL, 'a'},
        {"kill-timeout-ms", required_argument, NULL, 't'},
        {"samples", required_argument, NULL, 'S'},
        {"settle-ms", required_argument, NULL, 'e'},
        {"idle-s", required_argument, NULL, 'i'},
        {"observe-s", required_argument, NULL, 'o'},
        {"stop-signal", required_argument, NULL, 'g'},
        {"stop-cmd", required_argument, NULL, 'c'},
        {"label", required_argument, NULL, 'l'},
        {"log", required_argument, NULL, 'L'},
        {NULL, 0, NULL, 0},
    };
    int ch;

    while ((ch = getopt_long(argc, argv, "+", longopts, NULL)) != -1) {
        switch (ch) {
        case 's':
            opt.socket = optarg;
            break;
        case 'w':
            opt.workers = (unsigned)strtoul(optarg, NULL, 10);
            break;
        case 'k':
            opt.kills = (unsigned)strtoul(optarg, NULL, 10);
            break;
        case 'a':
            opt.min_age_ns = strtoull(optarg, NULL, 10) * 1000000u;
            break;
        case 't':
            opt.kill_timeout_ns = strtoull(optarg, NULL, 10) * 1000000u;
            break;
        case 'S':
            opt.samples = optarg;
            break;
        case 'e':
            opt.settle_ns = strtoull(optarg, NULL, 10) * 1000000u;
            break;
        case 'i':
            opt.idle_s = atof(optarg);
            break;
        case 'o':
            opt.observe_s = atof(optarg);
            break;
        case 'g':
            opt.stop_signal = parse_signal(optarg);
            break;
        case 'c':
            opt.stop_cmd = optarg;
            break;
        case 'l':
            opt.label = optarg;
            break;
        case 'L':
            opt.log = optarg;
            break;
        default:
            usage();
        }
    }
    if (opt.socket == NULL || opt.workers == 0 || optind >= argc)
        usage();
    opt.argv = argv + optind;
}

int main(int argc, char **argv)
{
    parse_args(argc, argv);
    prctl(PR_SET_CHILD_SUBREAPER, 1);
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    signal(SIGPIPE, SIG_IGN);

    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    int rcvbuf = 4 << 20;
    if (strlen(opt.socket) >= sizeof(sun.sun_path)) {
        fprintf(stderr, "supbench: socket path too long\n");
        return 2;
    }
    snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", opt.socket);
    unlink(opt.socket);
    stamp_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    setsockopt(stamp_fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
    if (stamp_fd < 0 || bind(stamp_fd, (struct sockaddr *)&sun, sizeof(sun)) != 0) {
        perror(opt.socket);
        return 2;
    }

    int32_t *slot_pid = calloc(opt.workers, sizeof(int32_t));
    uint64_t *slot_born = calloc(opt.workers, sizeof(uint64_t));
    uint64_t *lat = calloc(opt.kills + 1, sizeof(uint64_t));
    unsigned seen = 0, nlat = 0, missed = 0, strays = 0;
    uint64_t first = 0, last = 0;
    struct stamp_msg m;

    /* start: the clock runs from just before the supervisor is forked */
    uint64_t t0 = now_ns();
    sup_pid = fork();
    if (sup_pid < 0) {
        perror("fork");
        return 2;
    }
    if (sup_pid == 0) {
        int devnull = open("/dev/null", O_RDONLY);
        int log =
            open(opt.log != NULL ? opt.log : "/dev/null", O_WRONLY | O_CREAT | O_APPEND, 0644);
        dup2(devnull, 0);
        dup2(log, 1);
        dup2(log, 2);
        setpgid(0, 0); /* its own group: a terminal's ^C reaches supbench only */
        execvp(opt.argv[0], opt.argv);
        perror(opt.argv[0]);
        _exit(127);
    }
    uint64_t deadline = t0 + 120000000000ull;
    while (seen < opt.workers && recv_stamp(deadline, &m)) {
        if (m.slot < 0 || (unsigned)m.slot >= opt.workers) {
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
    if (seen < opt.workers)
        fprintf(stderr, "supbench %s: only %u of %u workers reported%s\n", opt.label, seen,
                opt.workers, sup_exited ? " before the supervisor exited" : " within 120 s");

    /* loop: the worker exits at once; record every start for observe_s */
    uint64_t *starts = NULL;
    unsigned nstarts = 0;
    if (opt.observe_s > 0 && seen > 0) {
        size_t cap = 1024;
        starts = malloc(cap * sizeof(*starts));
        starts[nstarts++] = 0;
        uint64_t end = first + (uint64_t)(opt.observe_s * 1e9);
        while (recv_stamp(end, &m)) {
            if (nstarts == cap)
                starts = realloc(starts, (cap *= 2) * sizeof(*starts));
            starts[nstarts++] = m.mono_ns - first;
        }
    }

    /* restart: kill slot k % N once it is old enough; wait for its replacement */
    for (unsigned k = 0; k < opt.kills && seen == opt.workers; k++) {
        unsigned slot = k % opt.workers;
        int32_t victim = slot_pid[slot];
        uint64_t now = now_ns();

        if (slot_born[slot] + opt.min_age_ns > now)
            sleep_ns(slot_born[slot] + opt.min_age_ns - now);
        uint64_t t_kill = now_ns();
        if (kill(victim, SIGKILL) != 0) {
            missed++;
            continue;
        }
        bool got = false;
        while (recv_stamp(t_kill + opt.kill_timeout_ns, &m)) {
            if (m.slot < 0 || (unsigned)m.slot >= opt.workers) {
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
            strays++;
        }
        if (!got) {
            missed++;
            slot_born[slot] = now_ns();
        }
    }
    if (opt.samples != NULL && nlat > 0) {
        FILE *f = fopen(opt.samples, "a");
        if (f != NULL) {
            for (unsigned i = 0; i < nlat; i++)
                fprintf(f, "%.1f\n", (double)lat[i] / 1e3);
            fclose(f);
        }
    }

    /* memory, then idle wake-ups, of the supervisor's own processes */
    static pid_t sup[MAX_PROCS];
    int nsup = 0, threads = 0;
    long rss = 0, pss = 0, ctxt0 = 0, ctxt1 = 0;
    sleep_ns(opt.settle_ns);
    reap();
    nsup = supervisor_procs(slot_pid, sup, MAX_PROCS);
    for (int i = 0; i < nsup; i++) {
        rss += status_field(sup[i], NULL, "VmRSS");
        pss += pss_kb(sup[i]);
    }
    if (opt.idle_s > 0) {
        for (int i = 0; i < nsup; i++)
            ctxt0 += ctxt_switches(sup[i], &threads);
        sleep_ns((uint64_t)(opt.idle_s * 1e9));
        for (int i = 0; i < nsup; i++)
            ctxt1 += ctxt_switches(sup[i], NULL);
    }

    /* stop: signal (or command) to every worker gone, then every supervisor process gone */
    static pid_t workers_alive[MAX_PROCS];
    int nw = 0;
    for (unsigned i = 0; i < opt.workers && nw < MAX_PROCS; i++)
        if (slot_pid[i] > 0 && kill(slot_pid[i], 0) == 0)
            workers_alive[nw++] = slot_pid[i];
    nsup = supervisor_procs(slot_pid, sup, MAX_PROCS);
    uint64_t t_stop = now_ns(), t_workers, t_all;
    if (opt.stop_cmd != NULL) {
        pid_t c = fork();
        if (c == 0) {
            execl("/bin/sh", "sh", "-c", opt.stop_cmd, (char *)NULL);
            _exit(127);
        }
    } else {
        kill(sup_pid, opt.stop_signal);
    }
    t_workers = wait_all_exit(workers_alive, nw, t_stop + 30000000000ull);
    t_all = wait_all_exit(sup, nsup, t_stop + 30000000000ull);
    kill_everything();
    close(stamp_fd);
    unlink(opt.socket);

    printf("{\"label\":\"%s\",\"workers\":%u,\"reported\":%u,\"startup_ms\":%.3f,"
           "\"first_worker_ms\":%.3f,\"spread_ms\":%.3f",
           opt.label, opt.workers, seen, seen ? (double)(last - t0) / 1e6 : -1.0,
           seen ? (double)(first - t0) / 1e6 : -1.0, seen ? (double)(last - first) / 1e6 : -1.0);
    if (opt.kills > 0) {
        qsort(lat, nlat, sizeof(*lat), cmp_u64);
        double mean = 0;
        for (unsigned i = 0; i < nlat; i++)
            mean += (double)lat[i];
        mean = nlat ? mean / nlat : 0;
        printf(",\"kills\":%u,\"restarts_measured\":%u,\"missed\":%u,\"strays\":%u", opt.kills,
               nlat, missed, strays);
        if (nlat > 0)
            printf(",\"restart_us\":{\"min\":%.1f,\"p50\":%.1f,\"p90\":%.1f,\"p99\":%.1f,"
                   "\"max\":%.1f,\"mean\":%.1f}",
                   (double)lat[0] / 1e3, (double)pct(lat, nlat, 50) / 1e3,
                   (double)pct(lat, nlat, 90) / 1e3, (double)pct(lat, nlat, 99) / 1e3,
                   (double)lat[nlat - 1] / 1e3, mean / 1e3);
    }
    if (starts != NULL) {
        printf(",\"observe_s\":%.1f,\"starts\":%u,\"last_start_ms\":%.1f,\"start_ms\":[",
               opt.observe_s, nstarts, (double)starts[nstarts - 1] / 1e6);
        for (unsigned i = 0; i < nstarts; i++)
            printf("%s%.1f", i ? "," : "", (double)starts[i] / 1e6);
        printf("]");
    }
    printf(",\"sup_procs\":%d,\"sup_threads\":%d,\"rss_kb\":%ld,\"pss_kb\":%ld", nsup, threads, rss,
           pss);
    if (opt.idle_s > 0)
        printf(",\"idle_s\":%.1f,\"idle_ctxt\":%ld,\"wakeups_per_s\":%.2f", opt.idle_s,
               ctxt1 - ctxt0, (double)(ctxt1 - ctxt0) / opt.idle_s);
    printf(",\"stop_workers_ms\":%.3f,\"stop_all_ms\":%.3f}\n",
           t_workers ? (double)(t_workers - t_stop) / 1e6 : -1.0,
           t_all ? (double)(t_all - t_stop) / 1e6 : -1.0);
    fflush(stdout);
    return seen == opt.workers && missed == 0 ? 0 : 1;
}
