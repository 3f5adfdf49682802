/* SPDX-License-Identifier: ISC */
/*
 * Linux system calls used by droverd. Nothing here keeps state.
 */
#include "sys.h"

#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <dirent.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>
#include <arpa/inet.h>

#include "cgstat.h"
#include "parse.h"
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

unsigned long sys_set_timer_slack(unsigned long ns)
{
    int old = prctl(PR_GET_TIMERSLACK, 0, 0, 0, 0);

    if (old <= 0 || prctl(PR_SET_TIMERSLACK, ns, 0, 0, 0) != 0)
        return 0;
    return (unsigned long)old;
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

int sys_proc_stat_open(pid_t pid)
{
    char path[64];

    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    return open(path, O_RDONLY | O_CLOEXEC);
}

int sys_proc_usage_fd(int fd, struct proc_usage *out)
{
    char buf[1024];
    uint64_t ticks_used, rss_pages;
    ssize_t n;
    static long ticks, page;

    if (ticks == 0) {
        ticks = sysconf(_SC_CLK_TCK);
        page = sysconf(_SC_PAGESIZE);
    }
    n = pread(fd, buf, sizeof(buf) - 1, 0);
    if (n <= 0)
        return -1;
    buf[n] = '\0';
    if (proc_stat_parse(buf, &ticks_used, &rss_pages) != 0)
        return -1;
    out->cpu_us = ticks_used * 1000000ULL / (uint64_t)ticks;
    out->rss_bytes = rss_pages * (uint64_t)page;
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

int sys_unlink_socket(const char *path)
{
    struct stat st;

    if (lstat(path, &st) != 0)
        return errno == ENOENT ? 0 : -1;
    if (!S_ISSOCK(st.st_mode)) {
        errno = EEXIST;
        return -1;
    }
    return unlink(path);
}

int sys_listen_unix(const char *path, int type, mode_t mode, gid_t gid, int backlog, char *err,
                    size_t errsz)
{
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    mode_t old;
    int fd, rc, e;

    if (strlen(path) >= sizeof(sun.sun_path)) {
        errno = ENAMETOOLONG;
        return parse_error(err, errsz, "socket path %s is too long (%zu bytes at most)", path,
                           sizeof(sun.sun_path) - 1);
    }
    memcpy(sun.sun_path, path, strlen(path) + 1);
    if (sys_mkdir_parent_of(path) != 0) {
        e = errno;
        parse_error(err, errsz, "cannot create the directory of %s: %s", path, strerror(e));
        errno = e;
        return -1;
    }
    /* Replace a stale socket, but never one a live process serves, nor anything else. */
    if (sys_unix_socket_live(path, type)) {
        errno = EADDRINUSE;
        return parse_error(err, errsz, "%s is in use by another process", path);
    }
    if (sys_unlink_socket(path) != 0 && errno == EEXIST)
        return parse_error(err, errsz,
                           "%s exists and is not a socket (droverd replaces only a stale socket)",
                           path);
    fd = socket(AF_UNIX, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        e = errno;
        parse_error(err, errsz, "socket: %s", strerror(e));
        errno = e;
        return -1;
    }
    /* Created with no access for anyone, then opened up to exactly the mode asked. */
    old = umask(0777);
    rc = bind(fd, (struct sockaddr *)&sun, sizeof(sun));
    umask(old);
    if (rc != 0) {
        e = errno;
        close(fd);
        parse_error(err, errsz, "bind %s: %s", path, strerror(e));
        errno = e;
        return -1;
    }
    if (gid != (gid_t)-1 && chown(path, (uid_t)-1, gid) != 0)
        rc =
            parse_error(err, errsz, "chown %s to gid %u: %s", path, (unsigned)gid, strerror(errno));
    else if (chmod(path, mode) != 0)
        rc = parse_error(err, errsz, "chmod %s: %s", path, strerror(errno));
    else if (type == SOCK_STREAM && listen(fd, backlog) != 0)
        rc = parse_error(err, errsz, "listen on %s: %s", path, strerror(errno));
    if (rc != 0) {
        e = errno;
        close(fd);
        unlink(path);
        errno = e;
        return -1;
    }
    return fd;
}

int sys_listen_tcp(const char *spec, char *err, size_t errsz)
{
    struct sockaddr_storage ss = {0};
    socklen_t sslen;
    char host[64];
    const char *hp = spec + 4, *colon;
    uint64_t port;
    int fd, one = 1, e;

    if (hp[0] == '[') {
        const char *close_br = strchr(hp, ']');
        snprintf(host, sizeof(host), "%.*s", (int)(close_br - hp - 1), hp + 1);
        colon = close_br + 1;
    } else {
        colon = strrchr(hp, ':');
        snprintf(host, sizeof(host), "%.*s", (int)(colon - hp), hp);
    }
    parse_uint(colon + 1, 1, 65535, &port, NULL, 0);
    if (strchr(host, ':') != NULL) {
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
        s6->sin6_family = AF_INET6;
        s6->sin6_port = htons((uint16_t)port);
        inet_pton(AF_INET6, host, &s6->sin6_addr);
        sslen = sizeof(*s6);
    } else {
        struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
        s4->sin_family = AF_INET;
        s4->sin_port = htons((uint16_t)port);
        inet_pton(AF_INET, host, &s4->sin_addr);
        sslen = sizeof(*s4);
    }
    fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        e = errno;
        parse_error(err, errsz, "socket: %s", strerror(e));
        errno = e;
        return -1;
    }
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(fd, (struct sockaddr *)&ss, sslen) != 0 || listen(fd, SOMAXCONN) != 0) {
        e = errno;
        close(fd);
        parse_error(err, errsz, "listen on %s: %s", spec, strerror(e));
        errno = e;
        return -1;
    }
    return fd;
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

/*
 * Who holds the write lock on fd's file: the kernel's answer (the holder's pid as this
 * process sees it), else the pid the holder wrote into the file, else 0. The file alone is
 * not enough: between a new holder's lock and its write it still names the last holder.
 */
static pid_t lock_holder(int fd)
{
    struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
    char buf[32];
    ssize_t n;
    long v;

    if (fcntl(fd, F_GETLK, &fl) == 0 && fl.l_type != F_UNLCK && fl.l_pid > 0)
        return fl.l_pid;
    n = pread(fd, buf, sizeof(buf) - 1, 0);
    if (n <= 0)
        return 0;
    buf[n] = '\0';
    v = strtol(buf, NULL, 10);
    return v > 0 && v <= INT32_MAX ? (pid_t)v : 0;
}

/* Who holds the flock on fd's file: its line in /proc/locks ("1: FLOCK ADVISORY WRITE PID
 * MAJ:MIN:INO ..."). */
static pid_t flock_holder(int fd)
{
    struct stat st;
    char line[256];
    unsigned maj, min;
    unsigned long ino;
    int pid;
    pid_t holder = 0;
    FILE *f;

    if (fstat(fd, &st) != 0 || (f = fopen("/proc/locks", "re")) == NULL)
        return 0;
    while (holder == 0 && fgets(line, sizeof(line), f) != NULL)
        if (sscanf(line, "%*d: FLOCK %*s WRITE %d %x:%x:%lu", &pid, &maj, &min, &ino) == 4 &&
            maj == major(st.st_dev) && min == minor(st.st_dev) && ino == st.st_ino)
            holder = pid;
    fclose(f);
    return holder;
}

int sys_lock_dir(const char *dir, pid_t *holder, char *err, size_t errsz)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), e;

    *holder = 0;
    if (fd < 0) {
        e = errno;
        parse_error(err, errsz, "open %s: %s", dir, strerror(e));
        errno = e;
        return -1;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        e = errno;
        if (e == EWOULDBLOCK)
            *holder = flock_holder(fd);
        parse_error(err, errsz, "lock %s: %s", dir, strerror(e));
        close(fd);
        errno = e;
        return -1;
    }
    return fd;
}

int sys_lock_file(const char *path, pid_t *holder, char *err, size_t errsz)
{
    char line[32];
    int fd, e, n;

    *holder = 0;
    if (sys_mkdir_parent_of(path) != 0) {
        e = errno;
        parse_error(err, errsz, "cannot create the directory of %s: %s", path, strerror(e));
        errno = e;
        return -1;
    }
    fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK, 0644);
    if (fd < 0) {
        e = errno;
        parse_error(err, errsz, "open %s: %s", path, strerror(e));
        errno = e;
        return -1;
    }
    /*
     * A POSIX record lock, not flock(2): the kernel can say who holds it (F_GETLK), so a
     * second droverd names the right pid even before the holder wrote it. It is not
     * inherited across fork and droverd never opens this file again, so only this fd's
     * close (or droverd's exit) lets it go.
     */
    if (fcntl(fd, F_SETLK, &(struct flock){.l_type = F_WRLCK, .l_whence = SEEK_SET}) != 0) {
        e = errno;
        if (e == EAGAIN || e == EACCES) {
            *holder = lock_holder(fd);
            parse_error(err, errsz, "%s is locked", path);
            e = EWOULDBLOCK;
        } else {
            parse_error(err, errsz, "lock %s: %s", path, strerror(e));
        }
        close(fd);
        errno = e;
        return -1;
    }
    n = snprintf(line, sizeof(line), "%d\n", (int)getpid());
    if (ftruncate(fd, 0) != 0 || pwrite(fd, line, (size_t)n, 0) != n) {
        e = errno;
        parse_error(err, errsz, "write %s: %s", path, strerror(e));
        close(fd);
        errno = e;
        return -1;
    }
    return fd;
}

static void pids_add(pid_t **out, size_t *n, size_t *cap, pid_t pid)
{
    if (*n == *cap) {
        *cap = *cap ? *cap * 2 : 16;
        *out = xreallocarray(*out, *cap, sizeof(**out));
    }
    (*out)[(*n)++] = pid;
}

/* Without /proc/PID/task/TID/children (CONFIG_PROC_CHILDREN): every process's parent. */
static int children_by_scan(pid_t pid, pid_t **out)
{
    DIR *d = opendir("/proc");
    struct dirent *de;
    size_t n = 0, cap = 0;

    *out = NULL;
    if (d == NULL)
        return -1;
    while ((de = readdir(d)) != NULL) {
        char path[300], buf[512], *rp;
        long ppid;
        FILE *fp;

        if (de->d_name[0] < '1' || de->d_name[0] > '9')
            continue;
        snprintf(path, sizeof(path), "/proc/%s/stat", de->d_name);
        fp = fopen(path, "re");
        if (fp == NULL)
            continue;
        buf[0] = '\0';
        if (fgets(buf, sizeof(buf), fp) == NULL)
            buf[0] = '\0';
        fclose(fp);
        /* "pid (comm) state ppid": comm may hold spaces and parentheses. */
        rp = strrchr(buf, ')');
        if (rp != NULL && sscanf(rp + 1, " %*c %ld", &ppid) == 1 && ppid == (long)pid)
            pids_add(out, &n, &cap, (pid_t)atol(de->d_name));
    }
    closedir(d);
    return (int)n;
}

int sys_children(pid_t pid, pid_t **out)
{
    char path[64];
    DIR *d;
    struct dirent *de;
    size_t n = 0, cap = 0;
    bool any = false;

    *out = NULL;
    snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
    d = opendir(path);
    if (d == NULL)
        return -1;
    while ((de = readdir(d)) != NULL) {
        char file[320];
        FILE *fp;
        long v;

        if (de->d_name[0] == '.')
            continue;
        snprintf(file, sizeof(file), "/proc/%d/task/%s/children", (int)pid, de->d_name);
        fp = fopen(file, "re");
        if (fp == NULL)
            continue;
        any = true;
        while (fscanf(fp, "%ld", &v) == 1)
            pids_add(out, &n, &cap, (pid_t)v);
        fclose(fp);
    }
    closedir(d);
    if (!any) {
        free(*out);
        return children_by_scan(pid, out);
    }
    return (int)n;
}
