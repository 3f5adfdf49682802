/* SPDX-License-Identifier: ISC */
#include "confdiff.h"

#include <stdlib.h>
#include <string.h>

#include "keys.h"
#include "xmalloc.h"

static struct change *diff_add(struct config_diff *d, enum change_kind kind, const char *pool)
{
    struct change *c;

    d->v = xreallocarray(d->v, d->n + 1, sizeof(*d->v));
    c = &d->v[d->n++];
    memset(c, 0, sizeof(*c));
    c->kind = kind;
    c->pool = pool;
    return c;
}

/* Append ", key" to a growing list. */
static void keys_append(char **list, const char *key)
{
    char *next;

    if (*list == NULL) {
        *list = xstrdup(key);
        return;
    }
    xasprintf(&next, "%s, %s", *list, key);
    free(*list);
    *list = next;
}

static void diff_pool(const struct pool_config *a, const struct pool_config *b,
                      struct config_diff *d)
{
    char *keys[RELOAD_DAEMON + 1] = {0};

    for (size_t i = 0; i < key_table_len; i++) {
        const struct key *k = &key_table[i];
        if (k->section != KEY_POOL || key_value_equal(k, a, b))
            continue;
        keys_append(&keys[k->reload], k->name);
    }
    /*
     * A relative command resolves against the file it is in: the same text
     * moved to another file (main file to conf.d) is another program.
     */
    if (key_value_equal(key_find(KEY_POOL, "command"), a, b) && a->exec_path != NULL &&
        b->exec_path != NULL && strcmp(a->exec_path, b->exec_path) != 0)
        keys_append(&keys[key_find(KEY_POOL, "command")->reload], "command");
    if (key_value_equal(key_find(KEY_POOL, "check_command"), a, b) && a->check_exec_path != NULL &&
        b->check_exec_path != NULL && strcmp(a->check_exec_path, b->check_exec_path) != 0)
        keys_append(&keys[key_find(KEY_POOL, "check_command")->reload], "check_command");
    /* workers = auto follows the CPU count, which may differ from the last load. */
    if (keys[RELOAD_SCALE] == NULL && a->nworkers != b->nworkers)
        keys_append(&keys[RELOAD_SCALE], "workers");

    if (keys[RELOAD_RECREATE] != NULL) {
        struct change *c = diff_add(d, CHANGE_POOL_RECREATE, b->name);
        c->keys = keys[RELOAD_RECREATE];
        keys[RELOAD_RECREATE] = NULL;
        c->old_workers = a->nworkers;
        c->new_workers = b->nworkers;
        /* Re-creating restarts everything anyway; list the rest under it. */
        for (int r = RELOAD_LIVE; r <= RELOAD_SCALE; r++) {
            if (keys[r] != NULL) {
                keys_append(&c->keys, keys[r]);
                free(keys[r]);
            }
        }
        return;
    }
    if (keys[RELOAD_SCALE] != NULL) {
        struct change *c = diff_add(d, CHANGE_POOL_SCALE, b->name);
        c->keys = keys[RELOAD_SCALE];
        c->old_workers = a->nworkers;
        c->new_workers = b->nworkers;
    }
    if (keys[RELOAD_RESTART] != NULL) {
        struct change *c = diff_add(d, CHANGE_POOL_RESTART, b->name);
        c->keys = keys[RELOAD_RESTART];
        c->old_workers = a->nworkers;
        c->new_workers = b->nworkers;
    }
    if (keys[RELOAD_LIVE] != NULL) {
        struct change *c = diff_add(d, CHANGE_POOL_LIVE, b->name);
        c->keys = keys[RELOAD_LIVE];
    }
}

void config_diff(const struct config *old, const struct config *new, struct config_diff *out)
{
    const struct pool_config *a, *b;
    char *live = NULL, *restart = NULL;

    memset(out, 0, sizeof(*out));
    TAILQ_FOREACH(a, &old->pools, entry) {
        if (config_find_pool(new, a->name) == NULL) {
            struct change *c = diff_add(out, CHANGE_POOL_REMOVED, a->name);
            c->old_workers = a->nworkers;
        }
    }
    TAILQ_FOREACH(b, &new->pools, entry) {
        a = config_find_pool(old, b->name);
        if (a == NULL) {
            struct change *c = diff_add(out, CHANGE_POOL_ADDED, b->name);
            c->new_workers = b->nworkers;
            continue;
        }
        diff_pool(a, b, out);
    }
    for (size_t i = 0; i < key_table_len; i++) {
        const struct key *k = &key_table[i];
        if (k->section != KEY_DAEMON || key_value_equal(k, &old->daemon, &new->daemon))
            continue;
        keys_append(k->reload == RELOAD_DAEMON ? &restart : &live, k->name);
    }
    if (live != NULL)
        diff_add(out, CHANGE_DAEMON_LIVE, NULL)->keys = live;
    if (restart != NULL)
        diff_add(out, CHANGE_DAEMON_RESTART, NULL)->keys = restart;
}

void config_diff_free(struct config_diff *d)
{
    for (size_t i = 0; i < d->n; i++)
        free(d->v[i].keys);
    free(d->v);
    memset(d, 0, sizeof(*d));
}

void config_diff_pool(const struct pool_config *running, const struct pool_config *new,
                      struct config_diff *d)
{
    config_diff_drop_pool(d, new->name);
    diff_pool(running, new, d);
}

void config_diff_drop_pool(struct config_diff *d, const char *pool)
{
    size_t kept = 0;

    for (size_t i = 0; i < d->n; i++) {
        if (d->v[i].pool != NULL && strcmp(d->v[i].pool, pool) == 0)
            free(d->v[i].keys);
        else
            d->v[kept++] = d->v[i];
    }
    d->n = kept;
}

const struct change *config_diff_find(const struct config_diff *d, const char *pool,
                                      enum change_kind kind)
{
    for (size_t i = 0; i < d->n; i++)
        if (d->v[i].kind == kind && d->v[i].pool != NULL && strcmp(d->v[i].pool, pool) == 0)
            return &d->v[i];
    return NULL;
}

char *config_diff_describe(const struct config_diff *d)
{
    char *out, *next, *line = NULL;

    if (d->n == 0)
        return xstrdup("no changes\n");
    out = xstrdup("");
    for (size_t i = 0; i < d->n; i++) {
        const struct change *c = &d->v[i];
        switch (c->kind) {
        case CHANGE_POOL_ADDED:
            xasprintf(&line, "pool %s: added (%u worker%s)", c->pool, c->new_workers,
                      c->new_workers == 1 ? "" : "s");
            break;
        case CHANGE_POOL_REMOVED:
            xasprintf(&line, "pool %s: removed (%u worker%s stopping)", c->pool, c->old_workers,
                      c->old_workers == 1 ? "" : "s");
            break;
        case CHANGE_POOL_RECREATE:
            xasprintf(&line, "pool %s: %s changed: pool stopped and started again", c->pool,
                      c->keys);
            break;
        case CHANGE_POOL_RESTART:
            xasprintf(&line, "pool %s: %s changed: restarting workers one at a time", c->pool,
                      c->keys);
            break;
        case CHANGE_POOL_SCALE:
            xasprintf(&line, "pool %s: workers %u -> %u", c->pool, c->old_workers, c->new_workers);
            break;
        case CHANGE_POOL_LIVE:
            xasprintf(&line, "pool %s: %s changed: applied", c->pool, c->keys);
            break;
        case CHANGE_DAEMON_LIVE:
            xasprintf(&line, "daemon: %s changed: applied", c->keys);
            break;
        case CHANGE_DAEMON_RESTART:
            xasprintf(&line, "daemon: %s changed: takes effect when droverd restarts", c->keys);
            break;
        }
        xasprintf(&next, "%s%s\n", out, line);
        free(line);
        free(out);
        out = next;
    }
    return out;
}
