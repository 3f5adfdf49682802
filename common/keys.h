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

/* How a value is stored in struct daemon_config / struct pool_config. */
enum key_type {
    KT_STRING, /* char * (NULL = unset) */
    KT_STRV,   /* char ** */
    KT_U64,    /* uint64_t */
    KT_UINT,   /* unsigned */
    KT_INT,    /* int (enums, signals, log level) */
    KT_MODE,   /* mode_t */
    KT_WORKERS,
    KT_CRASH,
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

struct key;
typedef int (*key_parser)(const struct key *k, struct key_ctx *ctx, const char *value, void *field);

struct key {
    enum key_section section;
    const char *name;
    enum key_type type;
    key_parser parse;
    size_t offset;
    const char *default_value; /* parsed at start-up; NULL = unset */
    const char *default_doc;   /* shown in docs instead, when the default is computed */
    enum key_reload reload;
    const char *const *choices; /* for enumerations */
    uint64_t min, max;          /* for numbers */
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

#endif
