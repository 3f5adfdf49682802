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

#include <dirent.h>
#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cgroupfs.h"
#include "config.h"
#include "keys.h"
#include "list.h"
#include "log.h"
#include "parse.h"
#include "sys.h"
#include "xmalloc.h"

#define WD_BUCKETS 256

struct cgroup_slot {
    char *dir;           /* the absolute directory */
    char *pool_dir;      /* its parent, BASE/pool-NAME */
    size_t rel_off;      /* where the hierarchy's path starts in dir */
    int wd;              /* inotify watch on cgroup.events, or -1 before it exists */
    int oom_wd;          /* inotify watch on memory.events, or -1 (no memory controller) */
    uint64_t oom_kills;  /* memory.events oom_kill as last read */
    uint64_t oom_taken;  /* ... as cgroup_slot_take_oom last reported it */
    bool limits_written; /* limits holds what the slot's files say (the dir outlives workers) */
    struct cg_limits limits;
    void *owner;
    SLIST_ENTRY(cgroup_slot) wd_link;
    SLIST_ENTRY(cgroup_slot) oom_link;
};

static struct {
    bool on;
    char base[CG_PATH_MAX]; /* absolute directory */
    size_t rel_off;         /* mount point length in base: the hierarchy's path follows */
    char reason[512];
    int lock_fd; /* flock on base, held while containment is on */
    int inotify_fd;
    struct event *inotify_ev;
    void (*empty_hook)(void *owner);
    void (*oom_hook)(void *owner);
} cg = {.lock_fd = -1, .inotify_fd = -1};

static SLIST_HEAD(, cgroup_slot) wd_map[WD_BUCKETS];
static SLIST_HEAD(, cgroup_slot) oom_map[WD_BUCKETS];

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

void cgroup_set_oom_hook(void (*fn)(void *owner))
{
    cg.oom_hook = fn;
}

void cgroup_probe(struct cg_probe *p)
{
    memset(p, 0, sizeof(*p));
    p->on = cg.on;
    snprintf(p->reason, sizeof(p->reason), "%s", cg.reason);
    if (!cg.on)
        return;
    snprintf(p->base, sizeof(p->base), "%s", cg.base);
    cg_probe_controllers(p);
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

/*
 * One droverd per base: a second one would take the first one's workers for leftovers of a
 * crash and kill them, then run its own in the same cgroups. The lock dies with droverd.
 */
static int lock_base(char *err, size_t errsz)
{
    char why[PARSE_ERR_MAX];
    pid_t holder;

    cg.lock_fd = sys_lock_dir(cg.base, &holder, why, sizeof(why));
    if (cg.lock_fd >= 0)
        return 0;
    if (errno != EWOULDBLOCK)
        return parse_error(err, errsz, "%s", why);
    if (holder > 0)
        return parse_error(err, errsz, "another droverd (pid %d) uses %s", (int)holder, cg.base);
    return parse_error(err, errsz, "another droverd uses %s", cg.base);
}

static void unlock_base(void)
{
    if (cg.lock_fd >= 0)
        close(cg.lock_fd);
    cg.lock_fd = -1;
}

/* Wait (at most timeout_ms) until none of the n cgroup directories is populated. */
static void wait_empty(char *const *dirs, size_t n, int timeout_ms)
{
    char path[CG_PATH_MAX + 32],
        buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
    uint64_t deadline = mono_now() + (uint64_t)timeout_ms * 1000;
    int fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);

    if (fd < 0)
        return;
    for (size_t i = 0; i < n; i++) {
        snprintf(path, sizeof(path), "%s/cgroup.events", dirs[i]);
        inotify_add_watch(fd, path, IN_MODIFY);
    }
    for (;;) {
        size_t left = 0;
        uint64_t now = mono_now();
        for (size_t i = 0; i < n; i++) {
            snprintf(path, sizeof(path), "%s/cgroup.events", dirs[i]);
            if (cg_read_text(path, buf, sizeof(buf)) == 0 && cg_events_populated(buf) == 1)
                left++;
        }
        if (left == 0 || now >= deadline ||
            poll(&(struct pollfd){.fd = fd, .events = POLLIN}, 1,
                 (int)((deadline - now) / 1000) + 1) <= 0)
            break;
        while (read(fd, buf, sizeof(buf)) > 0)
            ;
    }
    close(fd);
}

/*
 * A droverd that was killed (SIGKILL, a crash) leaves its slots' cgroups behind, holding what
 * its workers forked that did not die with them (PR_SET_PDEATHSIG reaches the workers only).
 * The base's lock says no droverd uses them now: kill what they hold, saying so, and remove
 * them, also those of slots and pools this droverd does not have. A slot it has is made again
 * when its worker starts.
 */
static void kill_leftovers(void)
{
    char **dirs = NULL, **pools = NULL, buf[256];
    size_t ndirs = 0, npools = 0;
    struct dirent *pe, *se;
    DIR *base = opendir(cg.base), *pool;

    if (base == NULL)
        return;
    while ((pe = readdir(base)) != NULL) {
        if (strncmp(pe->d_name, "pool-", 5) != 0 || pe->d_type != DT_DIR)
            continue;
        pools = xreallocarray(pools, npools + 1, sizeof(*pools));
        xasprintf(&pools[npools], "%s/%s", cg.base, pe->d_name);
        if ((pool = opendir(pools[npools++])) == NULL)
            continue;
        while ((se = readdir(pool)) != NULL) {
            char *dir, path[CG_PATH_MAX + 32];
            if (strncmp(se->d_name, "slot-", 5) != 0 || se->d_type != DT_DIR)
                continue;
            xasprintf(&dir, "%s/%s", pools[npools - 1], se->d_name);
            dirs = xreallocarray(dirs, ndirs + 1, sizeof(*dirs));
            dirs[ndirs++] = dir;
            snprintf(path, sizeof(path), "%s/cgroup.events", dir);
            if (cg_read_text(path, buf, sizeof(buf)) != 0 || cg_events_populated(buf) != 1)
                continue;
            log_warnx("cgroup %s: processes left by an earlier droverd; killing them",
                      dir + cg.rel_off);
            snprintf(path, sizeof(path), "%s/cgroup.kill", dir);
            if (write_file(path, "1") != 0)
                log_warn("cgroup %s: kill", dir + cg.rel_off);
        }
        closedir(pool);
    }
    closedir(base);
    wait_empty(dirs, ndirs, 1000);
    /* A cgroup still populated stays (rmdir says EBUSY); its slot's start kills it again. */
    for (size_t i = 0; i < ndirs; i++) {
        if (rmdir(dirs[i]) != 0 && errno != ENOENT)
            log_warn("cgroup %s: rmdir", dirs[i] + cg.rel_off);
        free(dirs[i]);
    }
    for (size_t i = 0; i < npools; i++) {
        if (rmdir(pools[i]) != 0 && errno != ENOENT && errno != ENOTEMPTY && errno != EBUSY)
            log_warn("cgroup %s: rmdir", pools[i] + cg.rel_off);
        free(pools[i]);
    }
    free(dirs);
    free(pools);
}

static void inotify_cb(evutil_socket_t fd, short what, void *arg);

static int enable_controllers(const char *dir, unsigned need, char *err, size_t errsz);

/*
 * Let the cgroups below dir account memory and pids (memory.current, memory.peak,
 * pids.current for status, metrics and memory_recycle), where dir's parent offers
 * those controllers; one at a time, since one missing controller fails a write of
 * both. Best effort: without them the figures come from /proc (usage.c).
 */
static void enable_accounting(const char *dir)
{
    char ignored[PARSE_ERR_MAX];

    (void)enable_controllers(dir, CG_CTRL_MEMORY, ignored, sizeof(ignored));
    (void)enable_controllers(dir, CG_CTRL_PIDS, ignored, sizeof(ignored));
}

int cgroup_setup(const char *setting, struct event_base *base, char *err, size_t errsz)
{
    struct cg_facts f = {0};
    struct cg_hierarchy self;
    char given[PATH_MAX], why[400], locked[PARSE_ERR_MAX];
    enum cg_decision d;

    cg.on = false;
    cg_gather_facts(setting, &f, &self, given);
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
    }
    if (lock_base(locked, sizeof(locked)) != 0) {
        if (f.mode == CG_MODE_PATH)
            return parse_error(err, errsz, "cgroup = %s: %s", setting, locked);
        snprintf(cg.reason, sizeof(cg.reason), "%s", locked);
        log_warnx("containment off: %s", locked);
        return 0;
    }
    if (d != CG_ON_GIVEN && move_self(err, errsz) != 0) {
        unlock_base();
        if (f.mode == CG_MODE_PATH)
            return -1;
        snprintf(cg.reason, sizeof(cg.reason), "%s", err);
        log_warnx("containment off: %s", err);
        return 0;
    }
    cg.inotify_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (cg.inotify_fd < 0) {
        snprintf(cg.reason, sizeof(cg.reason), "inotify_init1: %s", strerror(errno));
        unlock_base();
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
    kill_leftovers();
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
    unlock_base();
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

static struct cgroup_slot *oom_find(int wd)
{
    struct cgroup_slot *c;

    SLIST_FOREACH(c, &oom_map[wd_bucket(wd)], oom_link)
        if (c->oom_wd == wd)
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
    c->oom_wd = -1;
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
    if (c->oom_wd >= 0) {
        SLIST_REMOVE(&oom_map[wd_bucket(c->oom_wd)], c, cgroup_slot, oom_link);
        inotify_rm_watch(cg.inotify_fd, c->oom_wd);
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
        c->limits_written = false; /* a new directory has the kernel's defaults */
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

/* The oom_kill count of a slot's memory.events; false when unreadable. */
static bool read_oom_kills(const struct cgroup_slot *c, uint64_t *n)
{
    char path[CG_PATH_MAX + 32], buf[512];

    snprintf(path, sizeof(path), "%s/memory.events", c->dir);
    if (cg_read_text(path, buf, sizeof(buf)) != 0)
        return false;
    *n = cg_memory_events_oom_kills(buf);
    return true;
}

/* memory.events changed: tell the owner when the OOM killer struck (once per new kill). */
static void oom_event(struct cgroup_slot *c, uint32_t mask)
{
    uint64_t n;

    if (mask & IN_IGNORED) {
        SLIST_REMOVE(&oom_map[wd_bucket(c->oom_wd)], c, cgroup_slot, oom_link);
        c->oom_wd = -1;
        return;
    }
    if (read_oom_kills(c, &n) && n > c->oom_kills) {
        c->oom_kills = n;
        if (cg.oom_hook != NULL)
            cg.oom_hook(c->owner);
    }
}

bool cgroup_slot_take_oom(struct cgroup_slot *c)
{
    uint64_t n;
    bool struck;

    if (c == NULL || c->oom_wd < 0)
        return false;
    /* Read again: the worker's exit may be handled before memory.events' inotify event. */
    if (read_oom_kills(c, &n) && n > c->oom_kills)
        c->oom_kills = n;
    struck = c->oom_kills > c->oom_taken;
    c->oom_taken = c->oom_kills;
    return struck;
}

/* Turn on the controllers in need in dir's cgroup.subtree_control that are not on yet. */
static int enable_controllers(const char *dir, unsigned need, char *err, size_t errsz)
{
    char path[CG_PATH_MAX + 32], have[256] = "", word[32];

    snprintf(path, sizeof(path), "%s/cgroup.subtree_control", dir);
    if (cg_read_line(path, have, sizeof(have)) != 0)
        have[0] = '\0';
    for (unsigned bit = 1; bit <= CG_CTRL_CPU; bit <<= 1) {
        const char *name = cg_controller_name((enum cg_controller)bit);
        if (!(need & bit) || cg_controllers_have(have, name))
            continue;
        snprintf(word, sizeof(word), "+%s", name);
        if (write_file(path, word) != 0)
            return parse_error(err, errsz, "cgroup: enable %s in %s: %s", name, path,
                               strerror(errno));
    }
    return 0;
}

int cgroup_accept_limits(const struct config *cfg, struct config_errors *errs)
{
    const struct pool_config *pc;
    struct cg_probe probe;
    unsigned need = 0;
    char err[PARSE_ERR_MAX + CG_PATH_MAX];

    cgroup_probe(&probe);
    if (config_check_limits(cfg, &probe, errs) != 0)
        return -1;
    TAILQ_FOREACH(pc, &cfg->pools, entry)
        need |= cg_limits_controllers(&pc->limits);
    if (!cg.on || need == 0)
        return 0;
    if (enable_controllers(cg.base, need, err, sizeof(err)) != 0) {
        /* Named at the first limit that needs it (a given PATH that holds processes, say). */
        TAILQ_FOREACH(pc, &cfg->pools, entry) {
            for (int k = 0; k < CG_KEY__COUNT; k++) {
                const char *name = cg_limit_key_name((enum cg_limit_key)k);
                const struct key_origin *o =
                    &pc->origin[key_section_index(key_find(KEY_POOL, name))];
                if (!cg_limit_key_set(&pc->limits, (enum cg_limit_key)k))
                    continue;
                config_errors_add(errs, o->file, o->line, "%s: cannot be applied: %s", name, err);
                return -1;
            }
        }
        return -1;
    }
    return 0;
}

/* Write one interface file of the slot's cgroup. */
static int slot_write(const struct cgroup_slot *c, const char *file, const char *text, char *err,
                      size_t errsz)
{
    char path[CG_PATH_MAX + 32];

    snprintf(path, sizeof(path), "%s/%s", c->dir, file);
    if (write_file(path, text) != 0)
        return parse_error(err, errsz, "cgroup: write '%s' to %s: %s", text, path, strerror(errno));
    return 0;
}

static bool same_limits(const struct cg_limits *a, const struct cg_limits *b)
{
    return a->memory_max == b->memory_max && a->memory_high == b->memory_high &&
           a->pids_max == b->pids_max && a->cpu_quota == b->cpu_quota &&
           a->cpu_weight == b->cpu_weight;
}

int cgroup_slot_apply_limits(struct cgroup_slot *c, const struct cg_limits *l, char *err,
                             size_t errsz)
{
    char path[CG_PATH_MAX + 32], have[256] = "", text[64];
    unsigned need = cg_limits_controllers(l);

    if (c == NULL || c->wd < 0)
        return 0;
    /* The slot's cgroup keeps its files from one worker to the next: write them when they change.
     */
    if (c->limits_written && same_limits(&c->limits, l))
        return 0;
    /* The base's first (start or reload did it; again here in case someone undid it). */
    if (enable_controllers(cg.base, need, err, errsz) != 0 ||
        enable_controllers(c->pool_dir, need, err, errsz) != 0)
        return -1;
    /* What the slot has: a limit set earlier and removed since is lifted again ("max"). */
    snprintf(path, sizeof(path), "%s/cgroup.subtree_control", c->pool_dir);
    if (cg_read_line(path, have, sizeof(have)) != 0)
        have[0] = '\0';
    if (cg_controllers_have(have, "memory")) {
        cg_limit_file_text(l->memory_max, text, sizeof(text));
        if (slot_write(c, "memory.max", text, err, errsz) != 0)
            return -1;
        cg_limit_file_text(l->memory_high, text, sizeof(text));
        if (slot_write(c, "memory.high", text, err, errsz) != 0)
            return -1;
        /* An OOM kill ends the whole worker, never half of it. */
        if (slot_write(c, "memory.oom.group", "1", err, errsz) != 0)
            return -1;
        if (c->oom_wd < 0) {
            snprintf(path, sizeof(path), "%s/memory.events", c->dir);
            c->oom_wd = inotify_add_watch(cg.inotify_fd, path, IN_MODIFY);
            if (c->oom_wd < 0)
                return parse_error(err, errsz, "cgroup: watch %s: %s", path, strerror(errno));
            SLIST_INSERT_HEAD(&oom_map[wd_bucket(c->oom_wd)], c, oom_link);
            if (!read_oom_kills(c, &c->oom_kills))
                c->oom_kills = 0;
            c->oom_taken = c->oom_kills;
        }
    }
    if (cg_controllers_have(have, "pids")) {
        cg_limit_file_text(l->pids_max, text, sizeof(text));
        if (slot_write(c, "pids.max", text, err, errsz) != 0)
            return -1;
    }
    if (cg_controllers_have(have, "cpu")) {
        cg_cpu_max_text(l->cpu_quota, text, sizeof(text));
        if (slot_write(c, "cpu.max", text, err, errsz) != 0)
            return -1;
        snprintf(text, sizeof(text), "%u", l->cpu_weight != 0 ? l->cpu_weight : 100);
        if (slot_write(c, "cpu.weight", text, err, errsz) != 0)
            return -1;
    }
    c->limits = *l;
    c->limits_written = true;
    return 0;
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
            if (c == NULL) {
                if ((c = oom_find(ev->wd)) != NULL)
                    oom_event(c, ev->mask);
                continue;
            }
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
