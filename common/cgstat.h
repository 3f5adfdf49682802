/* SPDX-License-Identifier: ISC */
/*
 * What a worker uses, as the kernel accounts it: a cgroup v2 directory's
 * memory.current, memory.peak (5.19+), cpu.stat (usage_usec) and
 * pids.current, and a process's /proc/PID/status (VmRSS, VmHWM). Reads the
 * files of a directory it is given (fixture trees in tests/data/cgroup/ for
 * the tests) and parses them; a file that is absent (no controller enabled,
 * an older kernel) leaves its figure unset. Never logs, keeps no state.
 */
#ifndef DROVER_CGSTAT_H
#define DROVER_CGSTAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A cgroup's figures; has_* is false for a file that is absent or unreadable. */
struct cg_stat {
    bool has_memory, has_peak, has_cpu, has_pids;
    uint64_t memory_bytes;      /* memory.current */
    uint64_t memory_peak_bytes; /* memory.peak: the highest memory.current since it was created */
    uint64_t cpu_us;            /* cpu.stat usage_usec: every process it ever held */
    uint64_t pids;              /* pids.current */
};

/* Read what the cgroup directory dir has of the four files. */
void cg_stat_read(const char *dir, struct cg_stat *st);
/* cpu.stat's usage_usec alone (what a worker's start is measured from); -1 if unreadable. */
int cg_stat_cpu_us(const char *dir, uint64_t *us);

/* A single-value file's text ("1234\n"): 0 and *out, or -1 ("max", garbage, empty). */
int cg_parse_u64(const char *text, uint64_t *out);
/*
 * The number after key in a keyed file: "usage_usec 123" (cpu.stat, memory.events)
 * or "VmHWM:\t  1234 kB" (/proc/PID/status: the number as written, here kB). 0 and
 * *out, or -1 when the key is not at the start of a line or has no number.
 */
int cg_parse_keyed(const char *text, const char *key, uint64_t *out);

/* A process's resident memory now and at its peak, from /proc/PID/status. */
struct proc_mem {
    bool has_rss, has_peak;
    uint64_t rss_bytes;  /* VmRSS */
    uint64_t peak_bytes; /* VmHWM: the highest VmRSS of the process */
};
/* Parse /proc/PID/status text. -1 when neither figure is there (a kernel thread, garbage). */
int proc_mem_parse(const char *text, struct proc_mem *m);

/*
 * /proc/PID/stat text: utime + stime (clock ticks) and rss (pages, 0 if the
 * kernel writes a negative one). The command name may hold spaces and ')':
 * fields are counted from the last ')'. -1 on anything else.
 */
int proc_stat_parse(const char *text, uint64_t *cpu_ticks, uint64_t *rss_pages);

/*
 * Is a worker using memory bytes over memory_recycle limit (0 = never)? Then
 * why, for status and the log: "memory 130M over memory_recycle 128M" (sizes
 * as parse.h's format_size writes them). Pure.
 */
bool recycle_memory_over(uint64_t memory, uint64_t limit, char *why, size_t whysz);

#endif
