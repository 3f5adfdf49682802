/* SPDX-License-Identifier: ISC */
/*
 * What a worker uses: memory (now and at its peak), CPU time, processes.
 * From the slot's cgroup when containment is on and the kernel accounts
 * the figure there (memory.current and memory.peak need the memory
 * controller, pids.current the pids controller; cpu.stat is always there),
 * else from /proc for the worker's main process. Read only when status,
 * metrics or memory_recycle ask: no timer here. Reads the slot, writes
 * nothing but its own figures, the slot's CPU baseline and its /proc fd
 * (a worker's /proc/PID/stat stays open from its first read until it ends,
 * so status for a thousand workers is one read each, not open, read, close).
 */
#ifndef DROVER_USAGE_H
#define DROVER_USAGE_H

#include <stdbool.h>
#include <stdint.h>

struct slot;

/* Where a figure came from. */
enum usage_source {
    USAGE_NONE,   /* not known */
    USAGE_CGROUP, /* the slot's cgroup: every process of the worker */
    USAGE_PROC,   /* /proc/PID of the worker's main process */
};

struct worker_usage {
    enum usage_source memory_source, cpu_source, pids_source;
    uint64_t memory_bytes;      /* memory.current, or the main process's RSS */
    bool has_peak;              /* memory_peak_bytes is known (same source as memory) */
    uint64_t memory_peak_bytes; /* memory.peak (since the slot's cgroup was made), or VmHWM */
    uint64_t cpu_us;            /* CPU time of this worker since it started */
    uint64_t pids;              /* processes in the cgroup */
    bool has_rss;
    uint64_t rss_bytes; /* the main process's RSS (/proc), whatever memory_source says */
};

/*
 * The figures of the slot's current worker; all USAGE_NONE without a process.
 * Without containment the peak is the process's VmHWM, one more /proc file
 * (/proc/PID/status, which costs as much as the rest): read only if peak.
 */
void usage_read(struct slot *s, struct worker_usage *u, bool peak);
/* The one figure memory_recycle compares, as cheaply as it can be had. -1 if unknown. */
int usage_memory(struct slot *s, uint64_t *bytes, enum usage_source *source);
/* A worker is about to start in the slot: its cgroup's CPU time so far is not its own. */
void usage_worker_starting(struct slot *s);
/* The slot's worker has ended (reaped) or the slot goes: close its /proc fd. */
void usage_worker_gone(struct slot *s);
/* "cgroup", "proc" or NULL, for status and metrics. */
const char *usage_source_name(enum usage_source src);

#endif
