/* SPDX-License-Identifier: ISC */
/*
 * killer: the fault in "faults under load". Every --every-ms (100) for
 * --seconds S it SIGKILLs one child of the given parent process(es), taking
 * the children in turn (always the oldest, so with two workers each dies
 * every 200 ms, whatever pids the replacements get). The
 * parents are whatever restarts the workers (droverd, pm2-runtime); only
 * their direct children are touched. Ticks are on a fixed schedule, whatever
 * a tick costs. Prints {"kills":N} on stdout.
 *
 *   killer [--every-ms MS] --seconds S PARENT_PID...
 */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench_time.h"

static int children(int pid, int *out, int max)
{
    char path[64];
    int n = 0, c;
    DIR *d;
    struct dirent *e;

    snprintf(path, sizeof(path), "/proc/%d/task", pid);
    if ((d = opendir(path)) == NULL)
        return 0;
    while ((e = readdir(d)) != NULL && n < max) {
        char file[320];
        FILE *f;
        if (e->d_name[0] == '.')
            continue;
        snprintf(file, sizeof(file), "/proc/%d/task/%s/children", pid, e->d_name);
        if ((f = fopen(file, "r")) == NULL)
            continue;
        while (n < max && fscanf(f, "%d", &c) == 1)
            out[n++] = c;
        fclose(f);
    }
    closedir(d);
    return n;
}

/* When the process started, in clock ticks since boot (field 22 of /proc/PID/stat). */
static unsigned long long start_time(int pid)
{
    char path[64], buf[1024], *p;
    unsigned long long t = ~0ull;
    FILE *f;

    snprintf(path, sizeof(path), "/proc/%d/stat", pid);
    if ((f = fopen(path, "r")) == NULL)
        return t;
    if (fgets(buf, sizeof(buf), f) != NULL && (p = strrchr(buf, ')')) != NULL) {
        /* after ") ": state is field 3; starttime is field 22 */
        int field = 2;
        for (p++; *p != '\0' && field < 22; p++)
            if (*p == ' ')
                field++;
        t = strtoull(p, NULL, 10);
    }
    fclose(f);
    return t;
}

int main(int argc, char **argv)
{
    double every_ms = 100, seconds = 0;
    int parents[16], nparents = 0;
    unsigned long kills = 0, tick = 0;

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--every-ms") == 0 && i + 1 < argc)
            every_ms = atof(argv[++i]);
        else if (strcmp(argv[i], "--seconds") == 0 && i + 1 < argc)
            seconds = atof(argv[++i]);
        else if (nparents < 16)
            parents[nparents++] = atoi(argv[i]);
    }
    if (nparents == 0 || seconds <= 0) {
        fprintf(stderr, "usage: killer [--every-ms MS] --seconds S PARENT_PID...\n");
        return 2;
    }
    uint64_t step = (uint64_t)(every_ms * 1e6), start = now_ns(), next = start + step;
    uint64_t end = start + (uint64_t)(seconds * 1e9);
    while (next <= end) {
        struct timespec ts;
        uint64_t now = now_ns();
        if (next > now) {
            ts.tv_sec = (time_t)((next - now) / 1000000000u);
            ts.tv_nsec = (long)((next - now) % 1000000000u);
            while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
                ;
        }
        int kids[256], n = 0;
        for (int p = 0; p < nparents; p++)
            n += children(parents[p], kids + n, 256 - n);
        if (n > 0) {
            int victim = kids[0];
            unsigned long long oldest = start_time(victim);
            for (int i = 1; i < n; i++) {
                unsigned long long t = start_time(kids[i]);
                if (t < oldest || (t == oldest && kids[i] < victim)) {
                    oldest = t;
                    victim = kids[i];
                }
            }
            if (kill(victim, SIGKILL) == 0)
                kills++;
        }
        tick++;
        next += step;
    }
    printf("{\"kills\":%lu,\"ticks\":%lu}\n", kills, tick);
    return 0;
}
