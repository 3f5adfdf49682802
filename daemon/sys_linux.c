/* SPDX-License-Identifier: ISC */
/*
 * Linux system calls used by droverd. Nothing here keeps state.
 */
#include "sys.h"

#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#include "xmalloc.h"

uint64_t mono_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

double wall_of_mono(uint64_t mono_us)
{
    struct timespec ts;
    uint64_t now = mono_now();

    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9 - (double)(now - mono_us) / 1e6;
}

int sys_set_subreaper(void)
{
    return prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
}

void sys_raise_nofile(struct rlimit *orig)
{
    struct rlimit rl;

    if (getrlimit(RLIMIT_NOFILE, &rl) != 0) {
        orig->rlim_cur = orig->rlim_max = 1024;
        return;
    }
    *orig = rl;
    if (rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

unsigned sys_usable_cpus(int **cpus_out)
{
    cpu_set_t set;
    unsigned n = 0;
    int *cpus;

    if (sched_getaffinity(0, sizeof(set), &set) != 0 || CPU_COUNT(&set) == 0) {
        long online = sysconf(_SC_NPROCESSORS_ONLN);
        n = online > 0 ? (unsigned)online : 1;
        cpus = xcalloc(n, sizeof(*cpus));
        for (unsigned i = 0; i < n; i++)
            cpus[i] = (int)i;
        *cpus_out = cpus;
        return n;
    }
    cpus = xcalloc((size_t)CPU_COUNT(&set), sizeof(*cpus));
    for (int c = 0; c < CPU_SETSIZE; c++)
        if (CPU_ISSET(c, &set))
            cpus[n++] = c;
    *cpus_out = cpus;
    return n;
}

int sys_proc_usage(pid_t pid, struct proc_usage *out)
{
    char path[64], buf[1024];
    unsigned long long utime, stime;
    long long rss;
    int fd;
    ssize_t n;
    const char *p;
    static long ticks, page;

    if (ticks == 0) {
        ticks = sysconf(_SC_CLK_TCK);
        page = sysconf(_SC_PAGESIZE);
    }
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0)
        return -1;
    buf[n] = '\0';
    /* The command name may contain spaces and parentheses: skip to the last ')'. */
    p = strrchr(buf, ')');
    if (p == NULL)
        return -1;
    /* Fields after ')': state(3) ... utime(14) stime(15) ... rss(24). */
    if (sscanf(p + 2,
               "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu %*d %*d %*d %*d %*d %*d "
               "%*u %*u %lld",
               &utime, &stime, &rss) != 3)
        return -1;
    out->cpu_us = (utime + stime) * 1000000ULL / (unsigned long long)ticks;
    out->rss_bytes = rss > 0 ? (uint64_t)rss * (uint64_t)page : 0;
    return 0;
}

void sys_close_from(int from, int keep)
{
#ifdef SYS_close_range
    if (keep < from) {
        if (syscall(SYS_close_range, (unsigned)from, ~0U, 0) == 0)
            return;
    } else {
        if ((keep == from ||
             syscall(SYS_close_range, (unsigned)from, (unsigned)keep - 1, 0) == 0) &&
            syscall(SYS_close_range, (unsigned)keep + 1, ~0U, 0) == 0)
            return;
    }
#endif
    /* Old kernels: close one by one up to the limit. */
    long max = sysconf(_SC_OPEN_MAX);
    if (max < 0 || max > 65536)
        max = 65536;
    for (int fd = from; fd < max; fd++)
        if (fd != keep)
            close(fd);
}

int sys_mkdir_p(const char *dir)
{
    char tmp[4096];
    size_t len = strlen(dir);

    if (len == 0 || len >= sizeof(tmp)) {
        errno = ENAMETOOLONG;
        return -1;
    }
    memcpy(tmp, dir, len + 1);
    for (char *p = tmp + 1;; p++) {
        if (*p != '/' && *p != '\0')
            continue;
        char saved = *p;
        *p = '\0';
        if (mkdir(tmp, 0755) != 0 && errno != EEXIST)
            return -1;
        *p = saved;
        if (saved == '\0')
            return 0;
    }
}

int sys_mkdir_parent_of(const char *path)
{
    const char *slash = strrchr(path, '/');
    char dir[4096];

    if (slash == NULL || slash == path)
        return 0;
    if ((size_t)(slash - path) >= sizeof(dir)) {
        errno = ENAMETOOLONG;
        return -1;
    }
    memcpy(dir, path, (size_t)(slash - path));
    dir[slash - path] = '\0';
    return sys_mkdir_p(dir);
}

bool sys_unix_socket_live(const char *path, int type)
{
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    int fd;
    bool live;

    if (strlen(path) >= sizeof(sun.sun_path))
        return false;
    memcpy(sun.sun_path, path, strlen(path) + 1);
    fd = socket(AF_UNIX, type | SOCK_CLOEXEC, 0);
    live = fd >= 0 && connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0;
    if (fd >= 0)
        close(fd);
    return live;
}

int sys_set_nonblock_cloexec(int fd)
{
    int fl = fcntl(fd, F_GETFL);

    if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
        return -1;
    return fcntl(fd, F_SETFD, FD_CLOEXEC);
}

void sys_tune_malloc(void)
{
#ifdef __GLIBC__
    /*
     * Each read from a client or a worker reserves a 64 KiB evbuffer chain
     * (a 128 KiB allocation), freed once its frames are taken. With glibc's
     * defaults the top of the heap then swings across the trim threshold
     * under load: given back with brk() and taken again many times a
     * second, each reused page a new page fault (up to 1.5 faults and 0.1
     * brk() per request measured at 64 clients x 4 KiB, a fifth of the
     * throughput). Keep up to 1 MiB free at the top instead (M_TOP_PAD).
     * Setting it ends glibc's sliding mmap threshold, so fix that above
     * these buffers too, or each one would be mapped and unmapped.
     */
    mallopt(M_MMAP_THRESHOLD, 1 << 20);
    mallopt(M_TOP_PAD, 1 << 20);
#endif
}
