/* SPDX-License-Identifier: ISC */
/*
 * Containment with cgroup v2 (see cgroup.h). The decision is pure
 * (common/cgroupfs.c: cg_decide); this file gathers the facts it needs,
 * creates and removes the directories, signals and kills cgroups, and owns
 * the one inotify fd that watches every slot's cgroup.events. It follows
 * systemd's delegation rules: it writes only below a cgroup delegated to it
 * (or given to it), and keeps no process in a cgroup that has children.
 */
#include "cgroup.h"

#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "cgroupfs.h"
#include "list.h"
#include "log.h"
#include "parse.h"
#include "xmalloc.h"

#ifndef CGROUP2_SUPER_MAGIC
#define CGROUP2_SUPER_MAGIC 0x63677270
#endif

#define WD_BUCKETS 256

struct cgroup_slot {
    char *dir;      /* the absolute directory */
    char *pool_dir; /* its parent, BASE/pool-NAME */
    size_t rel_off; /* where the hierarchy's path starts in dir */
    int wd;         /* inotify watch on cgroup.events, or -1 before it exists */
    void *owner;
    SLIST_ENTRY(cgroup_slot) wd_link;
};

static struct {
    bool on;
    char base[CG_PATH_MAX]; /* absolute directory */
    size_t rel_off;         /* mount point length in base: the hierarchy's path follows */
    char reason[512];
    int inotify_fd;
    struct event *inotify_ev;
    void (*empty_hook)(void *owner);
} cg = {.inotify_fd = -1};

static SLIST_HEAD(, cgroup_slot) wd_map[WD_BUCKETS];

bool cgroup_enabled(void)
{
    return cg.on;
}

const char *cgroup_base(void)
{
    if (!cg.on)
        return NULL;
    return cg.base[cg.rel_off] != '\0' ? cg.base + cg.rel_off : "/";
}

const char *cgroup_reason(void)
{
    return cg.reason;
}

void cgroup_set_empty_hook(void (*fn)(void *owner))
{
    cg.empty_hook = fn;
}

/* Write a short string to a cgroup file. */
static int write_file(const char *path, const char *text)
{
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    ssize_t n;
    int saved;

    if (fd < 0)
        return -1;
    n = write(fd, text, strlen(text));
    saved = errno;
    close(fd);
    errno = saved;
    return n == (ssize_t)strlen(text) ? 0 : -1;
}

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

/* Move droverd into BASE/droverd: v2 keeps processes out of a cgroup that has children. */
static int move_self(char *err, size_t errsz)
{
    char leaf[CG_PATH_MAX + 16], procs[CG_PATH_MAX + 32];

    snprintf(leaf, sizeof(leaf), "%s/droverd", cg.base);
    if (mkdir(leaf, 0755) != 0 && errno != EEXIST)
        return parse_error(err, errsz, "mkdir %s: %s", leaf, strerror(errno));
    snprintf(procs, sizeof(procs), "%s/cgroup.procs", leaf);
    if (write_file(procs, "0") != 0)
        return parse_error(err, errsz, "move droverd to %s: %s", leaf, strerror(errno));
    return 0;
}

static void inotify_cb(evutil_socket_t fd, short what, void *arg);

/*
 * Let the cgroups below dir account memory and pids (memory.current, memory.peak,
 * pids.current for status, metrics and memory_recycle), where dir's parent offers
 * those controllers; one write each, since one missing controller fails a write of
 * both. Best effort: without them the figures come from /proc (usage.c).
 */
static void enable_accounting(const char *dir)
{
    char path[CG_PATH_MAX + 32];

    snprintf(path, sizeof(path), "%s/cgroup.subtree_control", dir);
    (void)write_file(path, "+memory");
    (void)write_file(path, "+pids");
}

int cgroup_setup(const char *setting, struct event_base *base, char *err, size_t errsz)
{
    struct cg_facts f = {0};
    struct cg_hierarchy self;
    char given[PATH_MAX], why[400];
    enum cg_decision d;

    cg.on = false;
    if (setting == NULL || strcmp(setting, "auto") == 0)
        f.mode = CG_MODE_AUTO;
    else if (strcmp(setting, "off") == 0)
        f.mode = CG_MODE_OFF;
    else
        f.mode = CG_MODE_PATH;

    cg_find_self("", NULL, &self);
    f.v2_found = self.found;
    if (f.mode == CG_MODE_PATH) {
        struct statfs sfs;
        f.path_is_cg2 = realpath(setting, given) != NULL && statfs(given, &sfs) == 0 &&
                        sfs.f_type == CGROUP2_SUPER_MAGIC;
        f.writable = f.path_is_cg2 && writable(given);
        f.path_is_self = self.found && f.path_is_cg2 && strcmp(given, self.dir) == 0;
    } else if (self.found) {
        f.at_root = self.dir[self.mount_len] == '\0';
        f.only_ours = f.at_root && holds_only_us(self.dir);
        f.delegated =
            xattr_is_one(self.dir, "trusted.delegate") || xattr_is_one(self.dir, "user.delegate");
        f.writable = writable(self.dir);
    }
    d = cg_decide(&f, why, sizeof(why));
    if (d == CG_ERROR)
        return parse_error(err, errsz, "cgroup = %s: %s", setting, why);
    if (d == CG_OFF) {
        snprintf(cg.reason, sizeof(cg.reason), "%s", why);
        log_info("containment off: %s", why);
        return 0;
    }
    if (d == CG_ON_GIVEN) {
        snprintf(cg.base, sizeof(cg.base), "%s", given);
        /* Where the hierarchy's path starts: the v2 mount droverd sees, when it holds the path. */
        cg.rel_off = self.found && strncmp(given, self.dir, self.mount_len) == 0 ? self.mount_len
                                                                                 : strlen(given);
    } else {
        snprintf(cg.base, sizeof(cg.base), "%s", self.dir);
        cg.rel_off = self.mount_len;
        if (move_self(err, errsz) != 0) {
            if (f.mode == CG_MODE_PATH)
                return -1;
            snprintf(cg.reason, sizeof(cg.reason), "%s", err);
            log_warnx("containment off: %s", err);
            return 0;
        }
    }
    cg.inotify_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (cg.inotify_fd < 0) {
        snprintf(cg.reason, sizeof(cg.reason), "inotify_init1: %s", strerror(errno));
        if (f.mode == CG_MODE_PATH)
            return parse_error(err, errsz, "cgroup = %s: %s", setting, cg.reason);
        log_warnx("containment off: %s", cg.reason);
        return 0;
    }
    cg.inotify_ev = event_new(base, cg.inotify_fd, EV_READ | EV_PERSIST, inotify_cb, NULL);
    event_add(cg.inotify_ev, NULL);
    cg.on = true;
    enable_accounting(cg.base);
    snprintf(cg.reason, sizeof(cg.reason), "%s", why);
    log_info("containment on: workers in cgroups below %s (%s)", cgroup_base(), why);
    return 0;
}

void cgroup_teardown(void)
{
    if (cg.inotify_ev != NULL)
        event_free(cg.inotify_ev);
    cg.inotify_ev = NULL;
    if (cg.inotify_fd >= 0)
        close(cg.inotify_fd);
    cg.inotify_fd = -1;
    cg.on = false;
}

static unsigned wd_bucket(int wd)
{
    return (unsigned)wd % WD_BUCKETS;
}

static struct cgroup_slot *wd_find(int wd)
{
    struct cgroup_slot *c;

    SLIST_FOREACH(c, &wd_map[wd_bucket(wd)], wd_link)
        if (c->wd == wd)
            return c;
    return NULL;
}

struct cgroup_slot *cgroup_slot_new(const char *pool, unsigned index, void *owner)
{
    struct cgroup_slot *c;

    if (!cg.on)
        return NULL;
    c = xcalloc(1, sizeof(*c));
    /* "pool-" and "slot-": no pool name (letters, digits, _ . -) can meet an interface file. */
    xasprintf(&c->pool_dir, "%s/pool-%s", cg.base, pool);
    xasprintf(&c->dir, "%s/slot-%u", c->pool_dir, index);
    c->rel_off = cg.rel_off;
    c->wd = -1;
    c->owner = owner;
    return c;
}

const char *cgroup_slot_path(const struct cgroup_slot *c)
{
    return c->dir + c->rel_off;
}

const char *cgroup_slot_dir(const struct cgroup_slot *c)
{
    return c->wd >= 0 ? c->dir : NULL;
}

/* Remove a cgroup directory once it is empty; a cgroup still populated stays (logged). */
static void remove_dir(const char *dir)
{
    if (rmdir(dir) != 0 && errno != ENOENT && errno != ENOTEMPTY)
        log_warn("cgroup %s: rmdir", dir);
}

void cgroup_slot_free(struct cgroup_slot *c)
{
    if (c == NULL)
        return;
    if (c->wd >= 0) {
        SLIST_REMOVE(&wd_map[wd_bucket(c->wd)], c, cgroup_slot, wd_link);
        inotify_rm_watch(cg.inotify_fd, c->wd);
    }
    remove_dir(c->dir);
    /* The pool's directory goes with its last slot (rmdir fails while others remain). */
    if (rmdir(c->pool_dir) != 0 && errno != ENOENT && errno != ENOTEMPTY && errno != EBUSY)
        log_warn("cgroup %s: rmdir", c->pool_dir);
    free(c->dir);
    free(c->pool_dir);
    free(c);
}

int cgroup_slot_open_procs(struct cgroup_slot *c, char *err, size_t errsz)
{
    char path[CG_PATH_MAX + 32];
    int fd;

    if (c->wd < 0) {
        if (mkdir(c->pool_dir, 0755) != 0 && errno != EEXIST)
            return parse_error(err, errsz, "cgroup: mkdir %s: %s", c->pool_dir, strerror(errno));
        enable_accounting(c->pool_dir);
        if (mkdir(c->dir, 0755) != 0 && errno != EEXIST)
            return parse_error(err, errsz, "cgroup: mkdir %s: %s", c->dir, strerror(errno));
        snprintf(path, sizeof(path), "%s/cgroup.events", c->dir);
        c->wd = inotify_add_watch(cg.inotify_fd, path, IN_MODIFY);
        if (c->wd < 0)
            return parse_error(err, errsz, "cgroup: watch %s: %s", path, strerror(errno));
        SLIST_INSERT_HEAD(&wd_map[wd_bucket(c->wd)], c, wd_link);
        /* Left over from an earlier droverd (a slot never shares its cgroup): kill it. */
        if (cgroup_slot_populated(c) == 1) {
            log_warnx("cgroup %s: processes left from before; killing them", cgroup_slot_path(c));
            cgroup_slot_signal(c, SIGKILL, 0);
        }
    }
    snprintf(path, sizeof(path), "%s/cgroup.procs", c->dir);
    fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return parse_error(err, errsz, "cgroup: open %s: %s", path, strerror(errno));
    return fd;
}

/* kill() every pid listed in the cgroup's cgroup.procs. */
static int signal_procs(const struct cgroup_slot *c, int sig, pid_t skip_pgid)
{
    char path[CG_PATH_MAX + 32];
    FILE *f;
    int pid, n = 0;

    snprintf(path, sizeof(path), "%s/cgroup.procs", c->dir);
    f = fopen(path, "re");
    if (f == NULL)
        return -1;
    while (fscanf(f, "%d", &pid) == 1)
        if (pid > 0 && (skip_pgid <= 0 || getpgid(pid) != skip_pgid) && kill(pid, sig) == 0)
            n++;
    fclose(f);
    return n;
}

int cgroup_slot_signal(struct cgroup_slot *c, int sig, pid_t skip_pgid)
{
    char path[CG_PATH_MAX + 32];

    if (c == NULL || c->wd < 0)
        return 0;
    if (sig == SIGKILL) {
        snprintf(path, sizeof(path), "%s/cgroup.kill", c->dir);
        if (write_file(path, "1") == 0)
            return 1;
        /* Before 5.14 there is no cgroup.kill. A process forking meanwhile is caught on the next
         * round: the slot is down only once cgroup.events says the cgroup is empty. */
    }
    return signal_procs(c, sig, sig == SIGKILL ? 0 : skip_pgid);
}

int cgroup_slot_populated(const struct cgroup_slot *c)
{
    char path[CG_PATH_MAX + 32], buf[256];

    if (c == NULL || c->wd < 0)
        return 0;
    snprintf(path, sizeof(path), "%s/cgroup.events", c->dir);
    if (cg_read_text(path, buf, sizeof(buf)) != 0)
        return -1;
    return cg_events_populated(buf);
}

/* Events were lost (the inotify queue overflowed): look at every watched cgroup once. */
static void check_all(void)
{
    struct cgroup_slot *c, *next;

    for (unsigned b = 0; b < WD_BUCKETS; b++)
        SLIST_FOREACH_SAFE(c, &wd_map[b], wd_link, next)
            if (cgroup_slot_populated(c) == 0 && cg.empty_hook != NULL)
                cg.empty_hook(c->owner);
}

/* cgroup.events changed in some slot's cgroup: tell its owner when it is empty. */
static void inotify_cb(evutil_socket_t fd, short what, void *arg)
{
    char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
    ssize_t n;

    (void)what;
    (void)arg;
    while ((n = read(fd, buf, sizeof(buf))) > 0) {
        for (char *p = buf; p < buf + n;) {
            const struct inotify_event *ev = (const struct inotify_event *)p;
            struct cgroup_slot *c = wd_find(ev->wd);
            p += sizeof(*ev) + ev->len;
            if (ev->mask & IN_Q_OVERFLOW) {
                log_warnx("cgroup: inotify queue overflowed; checking every slot's cgroup");
                check_all();
                continue;
            }
            if (c == NULL)
                continue;
            if (ev->mask & IN_IGNORED) {
                /* The directory went away under us. */
                SLIST_REMOVE(&wd_map[wd_bucket(c->wd)], c, cgroup_slot, wd_link);
                c->wd = -1;
                continue;
            }
            if (cgroup_slot_populated(c) == 0 && cg.empty_hook != NULL)
                cg.empty_hook(c->owner);
        }
    }
}
