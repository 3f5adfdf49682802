/* SPDX-License-Identifier: ISC */
/* Per-worker limits: values, cgroup file texts, the pure check (see cglimits.h). */
#include "cglimits.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "parse.h"

/* cpu.max's period: systemd's default too (CPUQuotaPeriodSec=100ms). */
#define CPU_PERIOD_US 100000u
#define CPU_QUOTA_MAX 100000u /* percent: 1000 CPUs */
#define PAGE_MIN      4096u

static const struct {
    const char *name;
    enum cg_controller ctrl;
} limit_keys[CG_KEY__COUNT] = {
    [CG_KEY_MEMORY_MAX] = {"memory_max", CG_CTRL_MEMORY},
    [CG_KEY_MEMORY_HIGH] = {"memory_high", CG_CTRL_MEMORY},
    [CG_KEY_PIDS_MAX] = {"pids_max", CG_CTRL_PIDS},
    [CG_KEY_CPU_QUOTA] = {"cpu_quota", CG_CTRL_CPU},
    [CG_KEY_CPU_WEIGHT] = {"cpu_weight", CG_CTRL_CPU},
};

const char *cg_limit_key_name(enum cg_limit_key k)
{
    return limit_keys[k].name;
}

enum cg_controller cg_limit_key_controller(enum cg_limit_key k)
{
    return limit_keys[k].ctrl;
}

const char *cg_controller_name(enum cg_controller c)
{
    switch (c) {
    case CG_CTRL_MEMORY:
        return "memory";
    case CG_CTRL_PIDS:
        return "pids";
    case CG_CTRL_CPU:
        return "cpu";
    }
    return "?";
}

bool cg_limit_key_set(const struct cg_limits *l, enum cg_limit_key k)
{
    switch (k) {
    case CG_KEY_MEMORY_MAX:
        return l->memory_max != 0 && l->memory_max != CG_LIMIT_MAX;
    case CG_KEY_MEMORY_HIGH:
        return l->memory_high != 0 && l->memory_high != CG_LIMIT_MAX;
    case CG_KEY_PIDS_MAX:
        return l->pids_max != 0 && l->pids_max != CG_LIMIT_MAX;
    case CG_KEY_CPU_QUOTA:
        return l->cpu_quota != 0;
    case CG_KEY_CPU_WEIGHT:
        return l->cpu_weight != 0;
    case CG_KEY__COUNT:
        break;
    }
    return false;
}

unsigned cg_limits_controllers(const struct cg_limits *l)
{
    unsigned need = 0;

    for (int k = 0; k < CG_KEY__COUNT; k++)
        if (cg_limit_key_set(l, (enum cg_limit_key)k))
            need |= cg_limit_key_controller((enum cg_limit_key)k);
    return need;
}

int cg_parse_limit_size(const char *s, uint64_t *out, char *err, size_t errsz)
{
    uint64_t v;

    if (strcmp(s, "max") == 0) {
        *out = CG_LIMIT_MAX;
        return 0;
    }
    if (parse_size(s, &v, err, errsz) != 0)
        return -1;
    if (v < PAGE_MIN)
        return parse_error(err, errsz, "size '%s' is too small (at least 4K, or max for no limit)",
                           s);
    if (v == CG_LIMIT_MAX)
        return parse_error(err, errsz, "size '%s' is too large", s);
    *out = v;
    return 0;
}

int cg_parse_limit_count(const char *s, uint64_t *out, char *err, size_t errsz)
{
    uint64_t v;

    if (strcmp(s, "max") == 0) {
        *out = CG_LIMIT_MAX;
        return 0;
    }
    if (parse_uint(s, 1, UINT64_MAX - 1, &v, err, errsz) != 0)
        return -1;
    *out = v;
    return 0;
}

int cg_parse_cpu_quota(const char *s, unsigned *out, char *err, size_t errsz)
{
    size_t len = strlen(s);
    char num[32];
    uint64_t v;

    if (len < 2 || s[len - 1] != '%')
        return parse_error(err, errsz,
                           "invalid CPU quota '%s' (expected a percentage: 50%%, 200%%)", s);
    if (len - 1 >= sizeof(num))
        return parse_error(err, errsz, "CPU quota '%s' is out of range (1%% to %u%%)", s,
                           CPU_QUOTA_MAX);
    memcpy(num, s, len - 1);
    num[len - 1] = '\0';
    if (parse_uint(num, 1, CPU_QUOTA_MAX, &v, err, errsz) != 0)
        return parse_error(err, errsz, "CPU quota '%s' is out of range (1%% to %u%%)", s,
                           CPU_QUOTA_MAX);
    *out = (unsigned)v;
    return 0;
}

void cg_format_limit(uint64_t v, bool is_size, char *buf, size_t bufsz)
{
    if (v == 0)
        snprintf(buf, bufsz, "%s", "");
    else if (v == CG_LIMIT_MAX)
        snprintf(buf, bufsz, "max");
    else if (is_size)
        format_size(v, buf, bufsz);
    else
        snprintf(buf, bufsz, "%" PRIu64, v);
}

void cg_limit_file_text(uint64_t v, char *buf, size_t bufsz)
{
    if (v == 0 || v == CG_LIMIT_MAX)
        snprintf(buf, bufsz, "max");
    else
        snprintf(buf, bufsz, "%" PRIu64, v);
}

void cg_cpu_max_text(unsigned quota_percent, char *buf, size_t bufsz)
{
    if (quota_percent == 0)
        snprintf(buf, bufsz, "max %u", CPU_PERIOD_US);
    else
        snprintf(buf, bufsz, "%llu %u", (unsigned long long)quota_percent * (CPU_PERIOD_US / 100),
                 CPU_PERIOD_US);
}

bool cg_controllers_have(const char *list, const char *controller)
{
    size_t n = strlen(controller);

    for (const char *p = list; *p != '\0';) {
        size_t w;
        p += strspn(p, " \t\n");
        w = strcspn(p, " \t\n");
        if (w == n && strncmp(p, controller, n) == 0)
            return true;
        p += w;
    }
    return false;
}

int cg_limit_check(const struct cg_probe *p, const struct cg_limits *l, enum cg_limit_key k,
                   char *why, size_t whysz)
{
    const char *ctrl = cg_controller_name(cg_limit_key_controller(k));

    if (!cg_limit_key_set(l, k))
        return 0;
    if (!p->on)
        return parse_error(why, whysz,
                           "cannot be applied: containment is off (%s); limits need a cgroup per "
                           "worker",
                           p->reason);
    if (!cg_controllers_have(p->controllers, ctrl))
        return parse_error(why, whysz,
                           "cannot be applied: the %s controller is not available in %s "
                           "(cgroup.controllers: %s)",
                           ctrl, p->base, p->controllers[0] != '\0' ? p->controllers : "none");
    return 0;
}

uint64_t cg_memory_events_oom_kills(const char *text)
{
    for (const char *p = text; p != NULL && *p != '\0';) {
        if (strncmp(p, "oom_kill ", 9) == 0)
            return strtoull(p + 9, NULL, 10);
        p = strchr(p, '\n');
        if (p != NULL)
            p++;
    }
    return 0;
}
