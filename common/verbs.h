/* SPDX-License-Identifier: ISC */
/*
 * THE table of control verbs, and the one parser of their arguments. The
 * CLI uses it to check a command line and print help; the daemon uses the
 * same parser again on what it receives, and dispatches by verb id.
 */
#ifndef DROVER_VERBS_H
#define DROVER_VERBS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

enum verb_id {
    VERB_STATUS,
    VERB_START,
    VERB_STOP,
    VERB_RESTART,
    VERB_RELOAD,
    VERB_SCALE,
    VERB_SIGNAL,
    VERB_LOGS,
    VERB_CALL,
    VERB_CHECK,
    VERB_METRICS,
    VERB_SHUTDOWN,
    VERB_HEALTH,
    VERB_EVENTS,
    VERB_TOP,
    VERB_VERSION,
    VERB__COUNT
};

#define VERB_READONLY 0x01  /* changes nothing: status, logs, metrics, call */
#define VERB_LOCAL    0x02  /* runs in the CLI alone (check) */
#define VERB_WAIT     0x04  /* waits until done; accepts --no-wait */
#define VERB_JSON     0x08  /* accepts --json */
#define VERB_LINES    0x10  /* accepts -n N */
#define VERB_FOLLOW   0x20  /* accepts -f */
#define VERB_CONFIG   0x40  /* accepts -c FILE */
#define VERB_SIG_TO   0x80  /* accepts --main and --group (signal) */
#define VERB_TIMEOUT  0x100 /* accepts --timeout DURATION */
#define VERB_TLS                                                                                   \
    0x200 /* accepts --tls, --tls-ca FILE, --tls-cert FILE, --tls-key FILE, --tls-name NAME (call) \
           */
#define VERB_OWN_OPTS 0x400 /* every argument is positional: the verb parses its own (top) */
#define VERB_WIDTH    0x800 /* accepts --wide, --width N and --pools (status) */

struct verb {
    enum verb_id id;
    const char *name;
    const char *usage; /* arguments after the verb */
    int min_args, max_args;
    unsigned flags;
    const char *summary;
};

extern const struct verb verb_table[VERB__COUNT];

const struct verb *verb_find(const char *name);

/* A command line after parsing: positional arguments and options. */
#define VERB_MAX_POS 64
struct verb_args {
    const struct verb *verb;
    const char *pos[VERB_MAX_POS]; /* point into the argv given to verb_parse */
    int npos;
    bool json;
    bool no_wait;
    bool follow;
    unsigned lines; /* -n N; default 20 */
    const char *config_file;
    bool main_only;      /* --main: the worker process only */
    bool group;          /* --group: the worker's process group */
    uint64_t timeout_us; /* --timeout; 0 = none */
    bool tls;            /* --tls or any --tls-*: speak TLS even if droverd does not say so */
    const char *tls_ca, *tls_cert, *tls_key, *tls_name;
    unsigned width;  /* --width N: cut text rows to N columns; 0 = no limit (--wide) */
    bool wide;       /* --wide: full rows whatever the width */
    bool pools_only; /* --pools: the pool summary alone */
};

/*
 * Parse argv (argv[0] is the verb's name). Returns 0, or -1 with a usage
 * message for the user in err.
 */
int verb_parse(int argc, char *const argv[], struct verb_args *out, char *err, size_t errsz);

/*
 * A target "POOL", "POOL:SLOT" or "all". *slot is -1 when no slot is named;
 * pool is empty for "all". -1 with a reason if malformed.
 */
int verb_parse_target(const char *s, char *pool, size_t poolsz, long *slot, char *err,
                      size_t errsz);

/* The full help text listing every verb. */
void verbs_print_help(FILE *fp);

#endif
