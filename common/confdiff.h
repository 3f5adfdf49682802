/* SPDX-License-Identifier: ISC */
/*
 * The difference between the running configuration and a newly loaded one,
 * as a list of changes: which pools are added, removed, scaled, restarted
 * one worker at a time, re-created, or changed in place, and which daemon
 * keys changed. Pure: it compares two structs and decides, nothing more.
 */
#ifndef DROVER_CONFDIFF_H
#define DROVER_CONFDIFF_H

#include <stdbool.h>
#include <stddef.h>

#include "config.h"

enum change_kind {
    CHANGE_POOL_ADDED,
    CHANGE_POOL_REMOVED,
    CHANGE_POOL_RECREATE, /* routing socket changed: stop, rebind, start */
    CHANGE_POOL_RESTART,  /* worker settings changed: rolling restart */
    CHANGE_POOL_SCALE,    /* only the worker count changed (may go with RESTART) */
    CHANGE_POOL_LIVE,     /* settings applied in place */
    CHANGE_DAEMON_LIVE,
    CHANGE_DAEMON_RESTART, /* key needs droverd to restart; kept at the old value */
};

struct change {
    enum change_kind kind;
    const char *pool; /* name, for pool changes */
    char *keys;       /* "command, environment": keys behind this change */
    unsigned old_workers, new_workers;
};

struct config_diff {
    struct change *v;
    size_t n;
};

/* Compare; the diff borrows pool names from the configs, so keep both alive while using it. */
void config_diff(const struct config *old, const struct config *new, struct config_diff *out);
void config_diff_free(struct config_diff *d);

/* Find the change of a given kind for a pool, or NULL. */
const struct change *config_diff_find(const struct config_diff *d, const char *pool,
                                      enum change_kind kind);

/* Forget every change of a pool (one a reload could not make, so the pool stays as it was). */
void config_diff_drop_pool(struct config_diff *d, const char *pool);
/* Its changes again, from the settings it runs (running) to new: they replace the pool's own. */
void config_diff_pool(const struct pool_config *running, const struct pool_config *new,
                      struct config_diff *d);

/* One line per change, as `drover reload` prints them ("no changes" if none). */
char *config_diff_describe(const struct config_diff *d);

#endif
