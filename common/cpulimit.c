/* SPDX-License-Identifier: ISC */
/*
 * CPU limits for workers = auto (see cpulimit.h). The cgroup a process is in
 * is found as the kernel states it: /proc/self/cgroup gives the path inside
 * each hierarchy, /proc/self/mountinfo where that hierarchy is mounted and
 * which part of it the mount shows (a container's bind mount shows only its
 * own subtree, with its path as the mount's root).
 */
#include "cpulimit.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define LIMIT_PATH_MAX 4096

/* One cgroup hierarchy this process is in: where its own directory is. */
struct hierarchy {
    bool found;
    char dir[LIMIT_PATH_MAX]; /* root + mount point + path below the mount's root */
    size_t mount_len;         /* length of root + mount point in dir: walk up to here */
};

const char *cpu_limit_source_name(enum cpu_limit_source s)
{
    switch (s) {
    case CPU_LIMIT_CPUSET:
        return "cpuset";
    case CPU_LIMIT_QUOTA:
        return "quota";
    case CPU_LIMIT_AFFINITY:
        break;
    }
    return "affinity";
}

int cpu_list_count(const char *s, unsigned *out)
{
    unsigned n = 0;
    const char *p = s;

    while (*p == ' ' || *p == '\t')
        p++;
    if (*p == '\n' || *p == '\0') {
        *out = 0;
        return 0;
    }
    for (;;) {
        char *end;
        unsigned long lo, hi;

        if (*p < '0' || *p > '9')
            return -1;
        errno = 0;
        lo = strtoul(p, &end, 10);
        if (errno != 0 || lo > 65535)
            return -1;
        hi = lo;
        p = end;
        if (*p == '-') {
            p++;
            if (*p < '0' || *p > '9')
                return -1;
            hi = strtoul(p, &end, 10);
            if (errno != 0 || hi > 65535 || hi < lo)
                return -1;
            p = end;
        }
        n += (unsigned)(hi - lo + 1);
        if (*p == ',') {
            p++;
            continue;
        }
        while (*p == ' ' || *p == '\t' || *p == '\n')
            p++;
        if (*p != '\0')
            return -1;
        *out = n;
        return 0;
    }
}

int cpu_max_parse(const char *s, uint64_t *quota_us, uint64_t *period_us)
{
    unsigned long long q = 0, per;
    char *end;

    while (*s == ' ')
        s++;
    if (strncmp(s, "max", 3) == 0 && (s[3] == ' ' || s[3] == '\n' || s[3] == '\0')) {
        s += 3;
    } else {
        if (*s < '0' || *s > '9')
            return -1;
        errno = 0;
        q = strtoull(s, &end, 10);
        if (errno != 0 || q == 0)
            return -1;
        s = end;
    }
    per = 100000; /* the kernel's default when only the quota is given */
    while (*s == ' ')
        s++;
    if (*s >= '0' && *s <= '9') {
        errno = 0;
        per = strtoull(s, &end, 10);
        if (errno != 0 || per == 0)
            return -1;
        s = end;
    }
    while (*s == ' ' || *s == '\n')
        s++;
    if (*s != '\0')
        return -1;
    *quota_us = q;
    *period_us = per;
    return 0;
}

/* The first line of a small file under root, without its newline; -1 if unreadable. */
static int read_line(const char *path, char *buf, size_t bufsz)
{
    /* O_NONBLOCK: a FIFO in a fixture (or a strange mount) must not hang start-up. */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    ssize_t n;

    if (fd < 0)
        return -1;
    n = read(fd, buf, bufsz - 1);
    close(fd);
    if (n <= 0)
        return -1;
    buf[n] = '\0';
    buf[strcspn(buf, "\n")] = '\0';
    return 0;
}

/* Undo mountinfo's octal escapes (\040 for a space) in place. */
static void unescape(char *s)
{
    char *w = s;

    for (char *r = s; *r != '\0'; r++) {
        if (r[0] == '\\' && r[1] >= '0' && r[1] <= '7' && r[2] >= '0' && r[2] <= '7' &&
            r[3] >= '0' && r[3] <= '7') {
            *w++ = (char)((r[1] - '0') * 64 + (r[2] - '0') * 8 + (r[3] - '0'));
            r += 3;
        } else {
            *w++ = *r;
        }
    }
    *w = '\0';
}

/* Does the comma-separated list contain word? */
static bool list_has(const char *list, const char *word)
{
    size_t len = strlen(word);

    for (const char *p = list; p != NULL && *p != '\0';) {
        const char *comma = strchr(p, ',');
        size_t n = comma != NULL ? (size_t)(comma - p) : strlen(p);
        if (n == len && strncmp(p, word, len) == 0)
            return true;
        p = comma != NULL ? comma + 1 : NULL;
    }
    return false;
}

/*
 * Find the mount of a hierarchy in mountinfo: cgroup2 when controller is
 * NULL, else the v1 mount whose options name the controller. Fills the
 * mount's root and mount point.
 */
static bool find_mount(FILE *mi, const char *controller, char *mroot, char *mpoint, size_t sz)
{
    char line[LIMIT_PATH_MAX * 2 + 512];

    rewind(mi);
    while (fgets(line, sizeof(line), mi) != NULL) {
        char *fields[6], *save = NULL, *sep, *fstype, *opts;
        unsigned nf = 0;

        line[strcspn(line, "\n")] = '\0';
        sep = strstr(line, " - ");
        if (sep == NULL)
            continue;
        *sep = '\0';
        for (char *t = strtok_r(line, " ", &save); t != NULL && nf < 6;
             t = strtok_r(NULL, " ", &save))
            fields[nf++] = t;
        if (nf < 5)
            continue;
        save = NULL;
        fstype = strtok_r(sep + 3, " ", &save);
        (void)strtok_r(NULL, " ", &save); /* the source */
        opts = strtok_r(NULL, " ", &save);
        if (fstype == NULL)
            continue;
        if (controller == NULL
                ? strcmp(fstype, "cgroup2") != 0
                : strcmp(fstype, "cgroup") != 0 || opts == NULL || !list_has(opts, controller))
            continue;
        if (strlen(fields[3]) >= sz || strlen(fields[4]) >= sz)
            continue;
        strcpy(mroot, fields[3]);
        strcpy(mpoint, fields[4]);
        unescape(mroot);
        unescape(mpoint);
        return true;
    }
    return false;
}

/* This process's path in a hierarchy, from /proc/self/cgroup. */
static bool find_path(FILE *cg, const char *controller, char *path, size_t sz)
{
    char line[LIMIT_PATH_MAX + 256];

    rewind(cg);
    while (fgets(line, sizeof(line), cg) != NULL) {
        char *c1 = strchr(line, ':'), *c2;

        line[strcspn(line, "\n")] = '\0';
        if (c1 == NULL || (c2 = strchr(c1 + 1, ':')) == NULL)
            continue;
        *c2 = '\0';
        if (controller == NULL ? strncmp(line, "0:", 2) != 0 || c1[1] != '\0'
                               : !list_has(c1 + 1, controller))
            continue;
        if (strlen(c2 + 1) >= sz)
            return false;
        strcpy(path, c2 + 1);
        return true;
    }
    return false;
}

static void find_hierarchy(const char *root, FILE *mi, FILE *cg, const char *controller,
                           struct hierarchy *h)
{
    char mroot[LIMIT_PATH_MAX], mpoint[LIMIT_PATH_MAX], path[LIMIT_PATH_MAX];
    const char *rel = "";
    size_t rlen;
    int n;

    h->found = false;
    if (mi == NULL || cg == NULL || !find_mount(mi, controller, mroot, mpoint, sizeof(mroot)) ||
        !find_path(cg, controller, path, sizeof(path)))
        return;
    /*
     * The mount shows the hierarchy from mroot down. A path outside it (a
     * container without its own cgroup namespace sees the host's path of a
     * cgroup bind-mounted as its root) is read at the mount point itself.
     */
    rlen = strlen(mroot);
    if (strcmp(mroot, "/") == 0)
        rel = path;
    else if (strncmp(path, mroot, rlen) == 0 && (path[rlen] == '/' || path[rlen] == '\0'))
        rel = path + rlen;
    if (strcmp(rel, "/") == 0)
        rel = "";
    n = snprintf(h->dir, sizeof(h->dir), "%s%s", root, mpoint);
    if (n < 0 || (size_t)n >= sizeof(h->dir))
        return;
    h->mount_len = (size_t)n;
    n = snprintf(h->dir + h->mount_len, sizeof(h->dir) - h->mount_len, "%s", rel);
    if (n < 0 || (size_t)n >= sizeof(h->dir) - h->mount_len)
        return;
    /* A path never climbs out of its mount. */
    if (strstr(h->dir + h->mount_len, "/..") != NULL)
        h->dir[h->mount_len] = '\0';
    h->found = true;
}

/* Keep the tighter of the quota found so far and quota/period read in dir. */
static void take_quota(struct cpu_limit *l, uint64_t quota, uint64_t period, const char *dir,
                       size_t root_len)
{
    /* Compare quota/period with l->quota_us/l->period_us without dividing. */
    if (quota == 0 || period == 0)
        return;
    if (l->quota_us != 0 &&
        (unsigned __int128)quota * l->period_us >= (unsigned __int128)l->quota_us * period)
        return;
    l->quota_us = quota;
    l->period_us = period;
    snprintf(l->quota_dir, sizeof(l->quota_dir), "%s", dir + root_len);
}

/* Walk from the hierarchy's directory up to its mount, reading the CPU quota at each level. */
static void walk_quota(const struct hierarchy *h, bool v2, struct cpu_limit *l, size_t root_len)
{
    char dir[LIMIT_PATH_MAX], file[LIMIT_PATH_MAX + 32], buf[128];

    snprintf(dir, sizeof(dir), "%s", h->dir);
    for (;;) {
        uint64_t quota = 0, period = 0;

        if (v2) {
            snprintf(file, sizeof(file), "%s/cpu.max", dir);
            if (read_line(file, buf, sizeof(buf)) == 0 && cpu_max_parse(buf, &quota, &period) != 0)
                quota = 0;
        } else {
            snprintf(file, sizeof(file), "%s/cpu.cfs_quota_us", dir);
            if (read_line(file, buf, sizeof(buf)) == 0 && buf[0] >= '1' && buf[0] <= '9') {
                quota = strtoull(buf, NULL, 10);
                snprintf(file, sizeof(file), "%s/cpu.cfs_period_us", dir);
                period = read_line(file, buf, sizeof(buf)) == 0 ? strtoull(buf, NULL, 10) : 0;
            }
        }
        take_quota(l, quota, period, dir, root_len);
        if (strlen(dir) <= h->mount_len)
            break;
        *strrchr(dir, '/') = '\0';
        if (strlen(dir) < h->mount_len)
            break;
    }
}

/* The effective cpuset at the process's own cgroup (it already reflects the ancestors). */
static void read_cpuset(const struct hierarchy *h, const char *name, struct cpu_limit *l,
                        size_t root_len)
{
    char file[LIMIT_PATH_MAX + 32], buf[1024];
    unsigned n;

    snprintf(file, sizeof(file), "%s/%s", h->dir, name);
    if (read_line(file, buf, sizeof(buf)) != 0 || cpu_list_count(buf, &n) != 0 || n == 0)
        return;
    if (l->cpuset == 0 || n < l->cpuset) {
        l->cpuset = n;
        snprintf(l->cpuset_dir, sizeof(l->cpuset_dir), "%s", h->dir + root_len);
    }
}

static FILE *open_under(const char *root, const char *path)
{
    char full[LIMIT_PATH_MAX];
    int fd;

    snprintf(full, sizeof(full), "%s%s", root, path);
    fd = open(full, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    return fd < 0 ? NULL : fdopen(fd, "r");
}

void cpu_limit_read(const char *root, unsigned affinity, struct cpu_limit *out)
{
    FILE *mi = open_under(root, "/proc/self/mountinfo");
    FILE *cg = open_under(root, "/proc/self/cgroup");
    size_t root_len = strlen(root);
    struct hierarchy h;

    memset(out, 0, sizeof(*out));
    out->affinity = affinity > 0 ? affinity : 1;

    find_hierarchy(root, mi, cg, NULL, &h);
    if (h.found) {
        walk_quota(&h, true, out, root_len);
        read_cpuset(&h, "cpuset.cpus.effective", out, root_len);
    }
    find_hierarchy(root, mi, cg, "cpu", &h);
    if (h.found)
        walk_quota(&h, false, out, root_len);
    find_hierarchy(root, mi, cg, "cpuset", &h);
    if (h.found)
        read_cpuset(&h, "cpuset.effective_cpus", out, root_len);
    if (mi != NULL)
        fclose(mi);
    if (cg != NULL)
        fclose(cg);

    out->ncpu = out->affinity;
    out->source = CPU_LIMIT_AFFINITY;
    if (out->cpuset != 0 && out->cpuset < out->ncpu) {
        out->ncpu = out->cpuset;
        out->source = CPU_LIMIT_CPUSET;
    }
    if (out->quota_us != 0) {
        /* Rounded up: a quota of 1.5 CPUs keeps two workers busy, not one. */
        uint64_t q = out->quota_us / out->period_us + (out->quota_us % out->period_us != 0);
        if (q < out->ncpu) {
            out->ncpu = q > 0 ? (unsigned)q : 1;
            out->source = CPU_LIMIT_QUOTA;
        }
    }
}

void cpu_limit_describe(const struct cpu_limit *l, char *buf, size_t bufsz)
{
    switch (l->source) {
    case CPU_LIMIT_QUOTA:
        snprintf(buf, bufsz, "CPU quota %.2f (%llu us per %llu us in %s)",
                 (double)l->quota_us / (double)l->period_us, (unsigned long long)l->quota_us,
                 (unsigned long long)l->period_us, l->quota_dir);
        break;
    case CPU_LIMIT_CPUSET:
        snprintf(buf, bufsz, "cpuset of %u CPU%s in %s", l->cpuset, l->cpuset == 1 ? "" : "s",
                 l->cpuset_dir);
        break;
    case CPU_LIMIT_AFFINITY:
        snprintf(buf, bufsz, "affinity mask of %u CPU%s", l->affinity, l->affinity == 1 ? "" : "s");
        break;
    }
}
