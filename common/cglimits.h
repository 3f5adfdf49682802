/* SPDX-License-Identifier: ISC */
/*
 * Per-worker limits, named after systemd's (memory_max, memory_high,
 * pids_max, cpu_quota, cpu_weight): their values as the keys read them, the
 * text droverd writes to a slot's cgroup files, the controllers they need,
 * and the pure decision whether a probed cgroup can take them. Reads and
 * writes nothing; daemon/cgroup.c applies them, `drover check` and droverd
 * refuse a config whose limits cannot be applied (config_check_limits).
 */
#ifndef DROVER_CGLIMITS_H
#define DROVER_CGLIMITS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A size or count limit: 0 = not set, CG_LIMIT_MAX = `max` (no limit, written as "max"). */
#define CG_LIMIT_MAX UINT64_MAX

struct cg_limits {
    uint64_t memory_max;  /* bytes */
    uint64_t memory_high; /* bytes */
    uint64_t pids_max;    /* processes and threads */
    unsigned cpu_quota;   /* percent of one CPU; 0 = not set */
    unsigned cpu_weight;  /* 1..10000; 0 = not set */
};

/* The cgroup v2 controllers limits need, as a bit set. */
enum cg_controller {
    CG_CTRL_MEMORY = 1u << 0,
    CG_CTRL_PIDS = 1u << 1,
    CG_CTRL_CPU = 1u << 2,
};

/* The limit keys, in key-table order, with the controller each needs. */
enum cg_limit_key {
    CG_KEY_MEMORY_MAX,
    CG_KEY_MEMORY_HIGH,
    CG_KEY_PIDS_MAX,
    CG_KEY_CPU_QUOTA,
    CG_KEY_CPU_WEIGHT,
    CG_KEY__COUNT
};
const char *cg_limit_key_name(enum cg_limit_key k);
enum cg_controller cg_limit_key_controller(enum cg_limit_key k);
/* "memory", "pids", "cpu" */
const char *cg_controller_name(enum cg_controller c);
/* Does the key ask for a limit? (`max` asks for none: it needs no controller.) */
bool cg_limit_key_set(const struct cg_limits *l, enum cg_limit_key k);
/* Every controller the set limits need. */
unsigned cg_limits_controllers(const struct cg_limits *l);

/* `512M`, `1G`, bytes, or `max`; at least one page (4K). */
int cg_parse_limit_size(const char *s, uint64_t *out, char *err, size_t errsz);
/* A count of at least 1, or `max`. */
int cg_parse_limit_count(const char *s, uint64_t *out, char *err, size_t errsz);
/* `50%`, `150%`: percent of one CPU, 1% to 100000% (1000 CPUs). */
int cg_parse_cpu_quota(const char *s, unsigned *out, char *err, size_t errsz);

/* A size or count as the operator wrote it: "512M", "100", "max"; "" when not set. */
void cg_format_limit(uint64_t v, bool is_size, char *buf, size_t bufsz);
/* The text for memory.max, memory.high, pids.max: decimal, or "max" (also when not set). */
void cg_limit_file_text(uint64_t v, char *buf, size_t bufsz);
/* The text for cpu.max: "50000 100000", or "max 100000" when not set. */
void cg_cpu_max_text(unsigned quota_percent, char *buf, size_t bufsz);

/*
 * What droverd finds (or would find) where it puts its workers: is
 * containment on, and which controllers its base cgroup may enable for its
 * children (BASE/cgroup.controllers).
 */
struct cg_probe {
    bool on;
    char reason[512];      /* why containment is on or off */
    char base[4096];       /* the base directory, when on */
    char controllers[256]; /* BASE/cgroup.controllers, space-separated */
};

/* Is controller listed in a cgroup.controllers text? */
bool cg_controllers_have(const char *list, const char *controller);
/*
 * Can key k's limit be applied where p says? 0 if yes (or the key is not
 * set); -1 with the reason in why ("the memory controller is not available
 * in ...", "containment is off: ...").
 */
int cg_limit_check(const struct cg_probe *p, const struct cg_limits *l, enum cg_limit_key k,
                   char *why, size_t whysz);

/* memory.events text: the oom_kill count; 0 when absent. */
uint64_t cg_memory_events_oom_kills(const char *text);

#endif
