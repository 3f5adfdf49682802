/* SPDX-License-Identifier: ISC */
/*
 * A cgroup's accounting files and /proc/PID/status, read and parsed (see
 * cgstat.h). One read per file; absent files are the normal case on a
 * hierarchy without the memory or pids controller.
 */
#include "cgstat.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "cgroupfs.h"
#include "parse.h"

/* The decimal number at *pp into *out, *pp past it; -1 without a digit or past UINT64_MAX. */
static int parse_digits(const char **pp, uint64_t *out)
{
    uint64_t v = 0;
    const char *p = *pp;

    if (!isdigit((unsigned char)*p))
        return -1;
    for (; isdigit((unsigned char)*p); p++) {
        if (v > (UINT64_MAX - (uint64_t)(*p - '0')) / 10)
            return -1;
        v = v * 10 + (uint64_t)(*p - '0');
    }
    *pp = p;
    *out = v;
    return 0;
}

int cg_parse_u64(const char *text, uint64_t *out)
{
    uint64_t v;
    const char *p = text;

    if (parse_digits(&p, &v) != 0 || (*p != '\0' && *p != '\n'))
        return -1;
    *out = v;
    return 0;
}

int cg_parse_keyed(const char *text, const char *key, uint64_t *out)
{
    size_t klen = strlen(key);

    for (const char *line = text; line != NULL && *line != '\0';) {
        const char *next = strchr(line, '\n');
        if (strncmp(line, key, klen) == 0 &&
            (line[klen] == ' ' || line[klen] == '\t' || line[klen] == ':')) {
            const char *p = line + klen + (line[klen] == ':');
            while (*p == ' ' || *p == '\t')
                p++;
            return parse_digits(&p, out);
        }
        line = next != NULL ? next + 1 : NULL;
    }
    return -1;
}

/* A single-value file of dir: 0 and *out, or -1. */
static int read_u64(const char *dir, const char *file, uint64_t *out)
{
    char path[CG_PATH_MAX + 32], buf[64];

    snprintf(path, sizeof(path), "%s/%s", dir, file);
    if (cg_read_text(path, buf, sizeof(buf)) != 0)
        return -1;
    return cg_parse_u64(buf, out);
}

int cg_stat_cpu_us(const char *dir, uint64_t *us)
{
    char path[CG_PATH_MAX + 32], buf[512];

    snprintf(path, sizeof(path), "%s/cpu.stat", dir);
    if (cg_read_text(path, buf, sizeof(buf)) != 0)
        return -1;
    return cg_parse_keyed(buf, "usage_usec", us);
}

void cg_stat_read(const char *dir, struct cg_stat *st)
{
    memset(st, 0, sizeof(*st));
    st->has_memory = read_u64(dir, "memory.current", &st->memory_bytes) == 0;
    st->has_peak = read_u64(dir, "memory.peak", &st->memory_peak_bytes) == 0;
    st->has_cpu = cg_stat_cpu_us(dir, &st->cpu_us) == 0;
    st->has_pids = read_u64(dir, "pids.current", &st->pids) == 0;
}

int proc_mem_parse(const char *text, struct proc_mem *m)
{
    uint64_t kb;

    memset(m, 0, sizeof(*m));
    if (cg_parse_keyed(text, "VmRSS", &kb) == 0) {
        m->has_rss = true;
        m->rss_bytes = kb * 1024;
    }
    if (cg_parse_keyed(text, "VmHWM", &kb) == 0) {
        m->has_peak = true;
        m->peak_bytes = kb * 1024;
    }
    return m->has_rss || m->has_peak ? 0 : -1;
}

int proc_stat_parse(const char *text, uint64_t *cpu_ticks, uint64_t *rss_pages)
{
    /* After ") ": state(3) ... utime(14) stime(15) ... rss(24), one space apart. */
    const char *p = strrchr(text, ')');
    uint64_t v, utime = 0, stime = 0;

    if (p == NULL || p[1] != ' ' || p[2] == '\0' || p[2] == ' ')
        return -1;
    p += 3; /* past the state letter */
    for (int field = 4; field <= 24; field++) {
        bool neg;
        if (*p++ != ' ')
            return -1;
        neg = *p == '-';
        p += neg;
        if (!isdigit((unsigned char)*p))
            return -1;
        for (v = 0; isdigit((unsigned char)*p); p++) {
            if (v > (UINT64_MAX - 9) / 10)
                return -1;
            v = v * 10 + (uint64_t)(*p - '0');
        }
        if (field == 14)
            utime = v;
        else if (field == 15)
            stime = v;
        else if (field == 24)
            *rss_pages = neg ? 0 : v;
    }
    *cpu_ticks = utime + stime;
    return 0;
}

bool recycle_memory_over(uint64_t memory, uint64_t limit, char *why, size_t whysz)
{
    char have[32], max[32];

    if (limit == 0 || memory <= limit)
        return false;
    format_size(memory, have, sizeof(have));
    format_size(limit, max, sizeof(max));
    /* Just over, both may round to one figure: then the exact bytes say why. */
    if (strcmp(have, max) == 0)
        snprintf(why, whysz, "memory %" PRIu64 " bytes over memory_recycle %s (%" PRIu64 ")",
                 memory, max, limit);
    else
        snprintf(why, whysz, "memory %s over memory_recycle %s", have, max);
    return true;
}
