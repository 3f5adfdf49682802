/* SPDX-License-Identifier: ISC */
/*
 * THE table of configuration keys. One entry per key drives parsing,
 * defaults, "did you mean", what a reload does when the value changes, and
 * the generated reference (`droverd --keys`, README, drover.ini(5)).
 */
#ifndef DROVER_KEYS_H
#define DROVER_KEYS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "config.h"

enum key_section { KEY_DAEMON, KEY_POOL };

/*
 * What a value means. The kind alone decides how a value is parsed, checked,
 * formatted and stored: a row never names a parser.
 */
enum key_kind {
    KT_STRING,      /* char *: any non-empty text (a user or group name) */
    KT_PATH,        /* char *: a path, relative to the file that sets it */
    KT_SOCKET_PATH, /* char *: a Unix socket path (fits in sun_path) */
    KT_COMMAND,     /* char *: a command line, split like a shell would */
    KT_LISTEN,      /* char *: a socket path or tcp:HOST:PORT */
    KT_HTTP_LISTEN, /* char *: [tcp:]HOST:PORT, stored with tcp: */
    KT_GLOBS,       /* char **: globs, relative to the file that sets them */
    KT_ENVIRONMENT, /* char **: NAME=VALUE words */
    KT_CHOICE,      /* int: index into .choices */
    KT_DURATION,    /* uint64_t microseconds, within [min, max] (max 0 = none) */
    KT_SIZE,        /* uint64_t bytes, within [min, max] (max 0 = none) */
    KT_COUNT,       /* unsigned, within [min, max] (max 0 = UINT_MAX) */
    KT_COUNT64,     /* uint64_t, within [min, max] (max 0 = UINT64_MAX) */
    KT_FILE_MODE,   /* mode_t, octal */
    KT_SIGNAL,      /* int signal number; TERM, SIGTERM or 15 */
    KT_WORKERS,     /* struct workers_spec: N, auto or auto*K */
    KT_CRASH_LIMIT, /* struct crash_limit: COUNT/WINDOW or none */
    KT_LIMIT_SIZE,  /* uint64_t bytes, or max (cglimits.h); 0 = unset */
    KT_LIMIT_COUNT, /* uint64_t count, or max (cglimits.h); 0 = unset */
    KT_CPU_QUOTA,   /* unsigned percent of one CPU; 0 = unset */
    KT__COUNT
};

/* How a kind is stored in its field: what equal, copy and free look at. */
enum key_storage {
    KS_STRING,  /* char *, NULL = unset */
    KS_STRV,    /* char **, NULL = unset */
    KS_U64,     /* uint64_t */
    KS_UINT,    /* unsigned */
    KS_INT,     /* int */
    KS_MODE,    /* mode_t */
    KS_WORKERS, /* struct workers_spec */
    KS_CRASH,   /* struct crash_limit */
};

/* What `drover reload` does when the value of the key changes. */
enum key_reload {
    RELOAD_LIVE,     /* applied in place */
    RELOAD_RESTART,  /* workers restart one at a time to pick it up */
    RELOAD_SCALE,    /* worker count changes live */
    RELOAD_RECREATE, /* the pool is stopped and started again (its socket changes) */
    RELOAD_DAEMON,   /* needs droverd itself to restart */
};

struct key_ctx {
    const char *file;     /* file being read */
    const char *base_dir; /* its directory, for relative paths */
    const struct config_env *env;
    char *err;
    size_t errsz;
};

/* One row of the table; rows are written with designated initializers. */
struct key {
    enum key_section section;
    const char *name;
    enum key_kind kind;
    size_t offset;             /* of the field in struct daemon_config or pool_config */
    const char *default_value; /* parsed at start-up; NULL = unset */
    const char *default_doc;   /* shown in docs instead, when the default is computed */
    enum key_reload reload;
    const char *const *choices; /* KT_CHOICE: the names, NULL-terminated */
    uint64_t min, max;          /* KT_DURATION, KT_SIZE, KT_COUNT, KT_COUNT64 */
    const char *help;
};

extern const struct key key_table[];
extern const size_t key_table_len;

/* The key called name in section, or NULL. */
const struct key *key_find(enum key_section section, const char *name);
/* Index among the keys of its own section (for origin arrays). */
size_t key_section_index(const struct key *k);
/* A plausible spelling among the section's keys, or NULL. */
const char *key_suggest(enum key_section section, const char *name);

/* Field of key k inside a daemon_config or pool_config. */
void *key_field(const struct key *k, void *base);
const void *key_field_const(const struct key *k, const void *base);
enum key_storage key_storage(const struct key *k);
/*
 * Parse value into k's field of base (a daemon_config or pool_config). On a
 * bad value returns -1 with the reason in ctx->err.
 */
int key_value_parse(const struct key *k, struct key_ctx *ctx, const char *value, void *base);
int key_value_equal(const struct key *k, const void *a, const void *b);
void key_value_free(const struct key *k, void *base);
void key_value_copy(const struct key *k, void *dst_base, const void *src_base);
/* Canonical text of a value (for diffs and docs); caller frees. */
char *key_value_format(const struct key *k, const void *base);

/* Set every key of a section to its default. Returns -1 if a default fails to parse. */
int keys_apply_defaults(enum key_section section, void *base, const struct config_env *env,
                        char *err, size_t errsz);

/* Print the reference of every key as a Markdown table or as man(7) source. */
void keys_print_markdown(FILE *fp);
void keys_print_man(FILE *fp);

/* Names of the values of the KT_CHOICE keys whose enums live in config.h. */
const char *restart_policy_name(int v); /* enum restart_policy */
const char *route_mode_name(int v);     /* enum route_mode */
const char *framing_name(int v);        /* enum framing */

#endif
