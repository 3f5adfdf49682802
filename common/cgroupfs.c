/* SPDX-License-Identifier: ISC */
/*
 * Finding cgroups from mountinfo and /proc/self/cgroup, and the pure
 * containment decisions (see cgroupfs.h). A container's bind mount shows
 * only its own subtree, with its path as the mount's root; a cgroup
 * namespace shows its root as "/".
 */
#include "cgroupfs.h"

#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statfs.h>
#include <sys/xattr.h>
#include <unistd.h>

#ifndef CGROUP2_SUPER_MAGIC
#define CGROUP2_SUPER_MAGIC 0x63677270
#endif

int cg_read_text(const char *path, char *buf, size_t bufsz)
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
    return 0;
}

/* The first line of a small file, without its newline; -1 if unreadable. */
int cg_read_line(const char *path, char *buf, size_t bufsz)
{
    if (cg_read_text(path, buf, bufsz) != 0)
        return -1;
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
    char line[CG_PATH_MAX * 2 + 512];

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
    char line[CG_PATH_MAX + 256];

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

void cg_find_hierarchy(const char *root, FILE *mi, FILE *cg, const char *controller,
                       struct cg_hierarchy *h)
{
    char mroot[CG_PATH_MAX], mpoint[CG_PATH_MAX], path[CG_PATH_MAX];
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

FILE *cg_open_under(const char *root, const char *path)
{
    char full[CG_PATH_MAX];
    int fd;

    snprintf(full, sizeof(full), "%s%s", root, path);
    fd = open(full, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    return fd < 0 ? NULL : fdopen(fd, "r");
}

void cg_find_self(const char *root, const char *controller, struct cg_hierarchy *h)
{
    FILE *mi = cg_open_under(root, "/proc/self/mountinfo");
    FILE *cg = cg_open_under(root, "/proc/self/cgroup");

    cg_find_hierarchy(root, mi, cg, controller, h);
    if (mi != NULL)
        fclose(mi);
    if (cg != NULL)
        fclose(cg);
}

int cg_events_populated(const char *text)
{
    for (const char *p = text; p != NULL && *p != '\0';) {
        if (strncmp(p, "populated ", 10) == 0) {
            if ((p[10] == '0' || p[10] == '1') && (p[11] == '\n' || p[11] == '\0'))
                return p[10] - '0';
            return -1;
        }
        p = strchr(p, '\n');
        if (p != NULL)
            p++;
    }
    return -1;
}

enum cg_decision cg_decide(const struct cg_facts *f, char *why, size_t whysz)
{
    switch (f->mode) {
    case CG_MODE_OFF:
        snprintf(why, whysz, "cgroup = off");
        return CG_OFF;
    case CG_MODE_PATH:
        if (!f->path_is_cg2) {
            snprintf(why, whysz, "not a directory of a cgroup v2 file system");
            return CG_ERROR;
        }
        if (!f->writable) {
            snprintf(why, whysz, "droverd may not create cgroups there (not writable)");
            return CG_ERROR;
        }
        snprintf(why, whysz, "given by cgroup = PATH");
        return f->path_is_self ? CG_ON : CG_ON_GIVEN;
    case CG_MODE_AUTO:
        break;
    }
    if (!f->v2_found) {
        snprintf(why, whysz, "no cgroup v2 hierarchy holding droverd is mounted");
        return CG_OFF;
    }
    if (f->delegated) {
        if (!f->writable) {
            snprintf(why, whysz, "droverd's cgroup is delegated but not writable by droverd");
            return CG_OFF;
        }
        snprintf(why, whysz, "droverd's cgroup is delegated to it (Delegate=yes)");
        return CG_ON;
    }
    if (f->at_root) {
        if (!f->only_ours) {
            snprintf(why, whysz,
                     "droverd's cgroup is the root of its hierarchy and holds other processes "
                     "(not a container of droverd's own); set cgroup = PATH to give it one");
            return CG_OFF;
        }
        if (!f->writable) {
            snprintf(why, whysz,
                     "droverd's cgroup namespace root is not writable (read-only "
                     "cgroup mount?)");
            return CG_OFF;
        }
        snprintf(why, whysz, "droverd's cgroup is the root of its cgroup namespace (a container)");
        return CG_ON;
    }
    snprintf(why, whysz,
             "droverd's cgroup is not delegated to it (no Delegate=yes, not a container's root); "
             "set cgroup = PATH to give it one");
    return CG_OFF;
}

/* The facts cg_decide() takes, gathered from the running system. */
static bool xattr_is_one(const char *dir, const char *name)
{
    char v[8];
    ssize_t n = getxattr(dir, name, v, sizeof(v) - 1);

    if (n <= 0)
        return false;
    v[n] = '\0';
    return strcmp(v, "1") == 0;
}

/* The parent of a pid, from /proc/PID/stat; 0 when unknown. */
static pid_t parent_of(pid_t pid)
{
    char path[64], buf[512], *p;
    int ppid = 0;

    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    if (cg_read_line(path, buf, sizeof(buf)) != 0 || (p = strrchr(buf, ')')) == NULL)
        return 0;
    if (sscanf(p + 1, " %*c %d", &ppid) != 1)
        return 0;
    return ppid;
}

/* Is every process in dir droverd itself or one of its ancestors (a container's init)? */
static bool holds_only_us(const char *dir)
{
    pid_t chain[64];
    size_t nchain = 0;
    char path[CG_PATH_MAX + 32];
    FILE *f;
    int pid;
    bool ok = true;

    for (pid_t p = getpid(); p > 0 && nchain < 64; p = parent_of(p))
        chain[nchain++] = p;
    snprintf(path, sizeof(path), "%s/cgroup.procs", dir);
    f = fopen(path, "re");
    if (f == NULL)
        return false;
    while (ok && fscanf(f, "%d", &pid) == 1) {
        bool found = false;
        for (size_t i = 0; i < nchain && !found; i++)
            found = chain[i] == pid;
        ok = found;
    }
    fclose(f);
    return ok;
}

static bool writable(const char *dir)
{
    char procs[CG_PATH_MAX + 32];

    snprintf(procs, sizeof(procs), "%s/cgroup.procs", dir);
    return access(dir, W_OK) == 0 && access(procs, W_OK) == 0;
}

void cg_gather_facts(const char *setting, struct cg_facts *f, struct cg_hierarchy *self,
                     char given[PATH_MAX])
{
    memset(f, 0, sizeof(*f));
    given[0] = '\0';
    if (setting == NULL || strcmp(setting, "auto") == 0)
        f->mode = CG_MODE_AUTO;
    else if (strcmp(setting, "off") == 0)
        f->mode = CG_MODE_OFF;
    else
        f->mode = CG_MODE_PATH;

    cg_find_self("", NULL, self);
    f->v2_found = self->found;
    if (f->mode == CG_MODE_PATH) {
        struct statfs sfs;
        f->path_is_cg2 = realpath(setting, given) != NULL && statfs(given, &sfs) == 0 &&
                         sfs.f_type == CGROUP2_SUPER_MAGIC;
        f->writable = f->path_is_cg2 && writable(given);
        f->path_is_self = self->found && f->path_is_cg2 && strcmp(given, self->dir) == 0;
    } else if (self->found) {
        f->at_root = self->dir[self->mount_len] == '\0';
        f->only_ours = f->at_root && holds_only_us(self->dir);
        f->delegated =
            xattr_is_one(self->dir, "trusted.delegate") || xattr_is_one(self->dir, "user.delegate");
        f->writable = writable(self->dir);
    }
}

void cg_probe_setting(const char *setting, struct cg_probe *p)
{
    struct cg_facts f;
    struct cg_hierarchy self;
    char given[PATH_MAX];
    enum cg_decision d;

    memset(p, 0, sizeof(*p));
    cg_gather_facts(setting, &f, &self, given);
    d = cg_decide(&f, p->reason, sizeof(p->reason));
    if (d != CG_ON && d != CG_ON_GIVEN)
        return;
    p->on = true;
    snprintf(p->base, sizeof(p->base), "%s", d == CG_ON_GIVEN ? given : self.dir);
    cg_probe_controllers(p);
}

void cg_probe_controllers(struct cg_probe *p)
{
    char path[sizeof(p->base) + 32];

    snprintf(path, sizeof(path), "%s/cgroup.controllers", p->base);
    if (cg_read_line(path, p->controllers, sizeof(p->controllers)) != 0)
        p->controllers[0] = '\0';
}
