/* SPDX-License-Identifier: ISC */
/*
 * A worker's usage (see usage.h): the slot's cgroup files through
 * common/cgstat.c, /proc through sys_proc_usage_fd() and /proc/PID/status.
 * A slot keeps one cgroup across its workers, so the cgroup's CPU time is
 * counted from the figure read when the current worker started
 * (usage_worker_starting); memory.peak is the cgroup's (every worker the
 * slot ran), the kernel has no per-process reset for it.
 */
#include "usage.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cgroup.h"
#include "cgroupfs.h"
#include "cgstat.h"
#include "droverd.h"
#include "sys.h"

const char *usage_source_name(enum usage_source src)
{
    switch (src) {
    case USAGE_CGROUP:
        return "cgroup";
    case USAGE_PROC:
        return "proc";
    case USAGE_NONE:
        break;
    }
    return NULL;
}

/* The slot's cgroup directory, once created; NULL without containment. */
static const char *slot_cgroup_dir(const struct slot *s)
{
    return s->cg != NULL ? cgroup_slot_dir(s->cg) : NULL;
}

void usage_worker_starting(struct slot *s)
{
    const char *dir = slot_cgroup_dir(s);
    uint64_t us;

    /* A new cgroup (not made yet) starts at 0. */
    s->cg_cpu_base_us = dir != NULL && cg_stat_cpu_us(dir, &us) == 0 ? us : 0;
}

void usage_worker_gone(struct slot *s)
{
    if (s->stat_fd >= 0) {
        close(s->stat_fd);
        s->stat_fd = -1;
    }
}

/*
 * The worker's CPU time and RSS from /proc/PID/stat, through the fd kept for
 * it. droverd reaps its workers itself, so while s->pid is set the pid is
 * this worker's (a zombie at worst) and opening it late is safe. Out of fds
 * the figures are unknown until a later call can open it.
 */
static int proc_usage(struct slot *s, struct proc_usage *pu)
{
    if (s->stat_fd < 0)
        s->stat_fd = sys_proc_stat_open(s->pid);
    return s->stat_fd >= 0 ? sys_proc_usage_fd(s->stat_fd, pu) : -1;
}

/* VmRSS and VmHWM of a process. */
static int proc_mem(pid_t pid, struct proc_mem *m)
{
    char path[64], buf[2048];

    snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
    if (cg_read_text(path, buf, sizeof(buf)) != 0)
        return -1;
    return proc_mem_parse(buf, m);
}

/* What the slot's cgroup accounts replaces the main process's figures. */
static void usage_read_cgroup(const struct slot *s, const char *dir, struct worker_usage *u)
{
    struct cg_stat st;

    cg_stat_read(dir, &st);
    if (st.has_memory) {
        u->memory_source = USAGE_CGROUP;
        u->memory_bytes = st.memory_bytes;
        u->has_peak = st.has_peak;
        u->memory_peak_bytes = st.memory_peak_bytes;
    }
    if (st.has_cpu) {
        u->cpu_source = USAGE_CGROUP;
        u->cpu_us = st.cpu_us > s->cg_cpu_base_us ? st.cpu_us - s->cg_cpu_base_us : 0;
    }
    if (st.has_pids) {
        u->pids_source = USAGE_CGROUP;
        u->pids = st.pids;
    }
}

void usage_read(struct slot *s, struct worker_usage *u, bool peak)
{
    const char *dir = slot_cgroup_dir(s);
    struct proc_usage pu;
    struct proc_mem pm;

    memset(u, 0, sizeof(*u));
    if (s->pid <= 0)
        return;
    if (proc_usage(s, &pu) == 0) {
        u->has_rss = true;
        u->rss_bytes = pu.rss_bytes;
        u->cpu_us = pu.cpu_us;
        u->cpu_source = USAGE_PROC;
        u->memory_bytes = pu.rss_bytes;
        u->memory_source = USAGE_PROC;
    }
    if (dir != NULL)
        usage_read_cgroup(s, dir, u);
    /* A peak from the other source would not be comparable: the cgroup's, else VmHWM. */
    if (peak && u->memory_source == USAGE_PROC && proc_mem(s->pid, &pm) == 0 && pm.has_peak) {
        u->has_peak = true;
        u->memory_peak_bytes = pm.peak_bytes;
    }
}

int usage_memory(struct slot *s, uint64_t *bytes, enum usage_source *source)
{
    const char *dir = slot_cgroup_dir(s);
    char path[CG_PATH_MAX + 32], buf[64];
    struct proc_usage pu;

    if (s->pid <= 0)
        return -1;
    if (dir != NULL) {
        snprintf(path, sizeof(path), "%s/memory.current", dir);
        if (cg_read_text(path, buf, sizeof(buf)) == 0 && cg_parse_u64(buf, bytes) == 0) {
            *source = USAGE_CGROUP;
            return 0;
        }
    }
    if (proc_usage(s, &pu) != 0)
        return -1;
    *bytes = pu.rss_bytes;
    *source = USAGE_PROC;
    return 0;
}
