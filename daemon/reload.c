/* SPDX-License-Identifier: ISC */
/* Reloading the configuration (see reload.h). */
#include "reload.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cgroup.h"
#include "droverd.h"
#include "events.h"
#include "keys.h"
#include "listen.h"
#include "log.h"
#include "notify.h"
#include "parse.h"
#include "pool.h"
#include "route.h"
#include "sys.h"
#include "xmalloc.h"

/* Old configs stay alive while a stopping pool still points into them. */
static struct config **retired;
static size_t nretired;

static bool config_in_use(const struct config *cfg)
{
    struct pool *p;
    const struct pool_config *pc;

    TAILQ_FOREACH(p, &droverd.pools, entry)
        TAILQ_FOREACH(pc, &cfg->pools, entry)
            if (p->cfg == pc || p->rollback_cfg == pc || p->recreate_cfg == pc)
                return true;
    return false;
}

static void free_retired(bool all)
{
    size_t kept = 0;

    for (size_t i = 0; i < nretired; i++) {
        if (!all && config_in_use(retired[i]))
            retired[kept++] = retired[i];
        else
            config_free(retired[i]);
    }
    nretired = kept;
    if (nretired == 0) {
        free(retired);
        retired = NULL;
    }
}

void reload_free_unused(void)
{
    free_retired(false);
}

void reload_free_all(void)
{
    free_retired(true);
}

/*
 * Freed at the end of this loop pass at the earliest: the report's diff
 * borrows pool names from the old config.
 */
static void retire(struct config *cfg)
{
    retired = xreallocarray(retired, nretired + 1, sizeof(*retired));
    retired[nretired++] = cfg;
    droverd_state_changed();
}

/* Keep the running values of keys that only a restart of droverd can change. */
static void keep_daemon_restart_keys(struct config *new, const struct config *old)
{
    for (size_t i = 0; i < key_table_len; i++) {
        const struct key *k = &key_table[i];
        if (k->section != KEY_DAEMON || k->reload != RELOAD_DAEMON)
            continue;
        key_value_free(k, &new->daemon);
        key_value_copy(k, &new->daemon, &old->daemon);
    }
    new->daemon.control_gid = old->daemon.control_gid;
}

static void add_problem(struct reload_report *r, const char *pool, const char *error, bool kept)
{
    r->problems = xreallocarray(r->problems, r->nproblems + 1, sizeof(*r->problems));
    r->problems[r->nproblems].pool = xstrdup(pool);
    r->problems[r->nproblems].error = xstrdup(error);
    r->problems[r->nproblems].kept = kept;
    r->nproblems++;
    log_warnx("reload: pool %s: %s", pool, error);
}

/* The listen value a pool serves on now (NULL: not routed). */
static const char *pool_listen_now(const struct pool *p)
{
    return p->route != NULL ? route_listen(p->route) : NULL;
}

/* A pool of droverd other than `except` serving on listen (stopping or not, as asked). */
static struct pool *pool_on_listen(const char *listen, const struct pool *except, bool stopping)
{
    struct pool *p;

    TAILQ_FOREACH(p, &droverd.pools, entry) {
        const char *now = pool_listen_now(p);
        if (p != except && (!stopping || p->removing) && now != NULL && strcmp(now, listen) == 0)
            return p;
    }
    return NULL;
}

/* The config puts the pool on another listen value than it serves on. */
static bool listen_moves(const struct pool *p, const struct pool_config *pc)
{
    const char *now = pool_listen_now(p);

    if (pc->listen == NULL || now == NULL)
        return (pc->listen == NULL) != (now == NULL);
    return strcmp(now, pc->listen) != 0;
}

/*
 * A pool re-created on another listen value gets its socket now, before
 * the pool serving today stops: an address it cannot have (another
 * program holds it) leaves that pool running as it is, reported, and the
 * next reload tries again. One another pool of droverd holds is freed
 * when that pool stops, so it is left to the re-creation.
 */
static bool recreate_may_listen(struct pool *p, const struct pool_config *pc,
                                struct reload_report *out)
{
    char err[PARSE_ERR_MAX], why[PARSE_ERR_MAX + 200];
    const char *now = pool_listen_now(p);

    if (!listen_moves(p, pc))
        return true;
    if (listen_activated(pc->name)) {
        /* systemd's socket stays this pool's: a new listen would be a lie in status. */
        snprintf(err, sizeof(err),
                 "listen cannot change: the pool serves the socket systemd passed "
                 "(FileDescriptorName=%s); change ListenStream= in the .socket unit and "
                 "restart droverd",
                 pc->name);
    } else if (pc->listen == NULL || pool_on_listen(pc->listen, p, false) != NULL ||
               listener_reserve(pc, pc->name, err, sizeof(err)) == 0) {
        return true;
    }
    /* It keeps running as it was; the next reload counts its changes from that. */
    snprintf(why, sizeof(why), "%s; it keeps running as it was%s%s", err,
             now != NULL ? ", on " : "", now != NULL ? now : "");
    add_problem(out, pc->name, why, true);
    config_diff_drop_pool(&out->diff, pc->name);
    p->listen_kept = true;
    return false;
}

static void add_rollout(struct reload_report *r, const struct pool *p)
{
    r->rollouts = xreallocarray(r->rollouts, r->nrollouts + 1, sizeof(*r->rollouts));
    r->rollouts[r->nrollouts].pool = xstrdup(p->name);
    r->rollouts[r->nrollouts].gen = p->rollout_gen;
    r->rollouts[r->nrollouts].halt_reason = NULL;
    r->nrollouts++;
}

/* One log line per change, for the journal. */
static void log_changes(const struct config_diff *diff)
{
    char *text = config_diff_describe(diff), *save = NULL;

    log_info("reload: %s", diff->n == 0 ? "no changes" : "applied");
    if (diff->n > 0)
        for (char *line = strtok_r(text, "\n", &save); line != NULL;
             line = strtok_r(NULL, "\n", &save))
            log_info("reload: %s", line);
    free(text);
}

int reload_config(struct reload_report *out)
{
    struct config_env env;
    struct config *new;

    memset(out, 0, sizeof(*out));
    /* Before the start-up's READY=1 systemd is still waiting for it: a reload is no news to it. */
    if (droverd.ready_sent)
        sd_notify_send("RELOADING=1\nMONOTONIC_USEC=%llu", (unsigned long long)mono_now());
    config_env_default(&env);
    new = config_load(droverd.config_path, &env, &out->errors);
    /* Limits that cannot be applied refuse the config as any other error does. */
    if (new != NULL &&
        (cgroup_accept_limits(new, &out->errors) != 0 || pools_accept_fds(new, &out->errors) != 0 ||
         listen_activation_accept(new, droverd.config_path, &out->errors) != 0)) {
        config_free(new);
        new = NULL;
    }
    if (new == NULL) {
        char *text = config_errors_format(&out->errors);
        log_warnx("reload: %s has errors; keeping the running configuration", droverd.config_path);
        log_warnx("%s", text);
        free(text);
        droverd.reload_failures++;
        if (droverd.ready_sent)
            sd_notify_send("READY=1\nSTATUS=reload failed: configuration has errors");
        return -1;
    }
    return reload_apply(new, out);
}

int reload_apply(struct config *new, struct reload_report *out)
{
    struct config *old = droverd.config;
    struct pool_config *pc;
    struct pool *stopping;
    char err[PARSE_ERR_MAX];

    out->loaded = true;
    config_diff(old, new, &out->diff);
    /*
     * A pool an earlier reload left as it was (its listen could not move) runs other
     * settings than that reload's file: its changes are from what it runs, so going back
     * to them is no change, not a restart. (A halted rollout's pool also runs other
     * settings, on purpose: the same file again must not roll it out again.)
     */
    TAILQ_FOREACH(pc, &new->pools, entry) {
        struct pool *p = pool_find(pc->name);
        if (p != NULL && p->listen_kept) {
            config_diff_pool(p->cfg, pc, &out->diff);
            p->listen_kept = false; /* set again below if it still cannot move */
        }
    }
    keep_daemon_restart_keys(new, old);
    droverd.config = new;
    log_set_level(new->daemon.log_level);
    if (out->diff.n > 0) {
        /* In the event ring before the changes it causes. */
        char what[64];
        snprintf(what, sizeof(what), "applied: %zu change%s", out->diff.n,
                 out->diff.n == 1 ? "" : "s");
        events_record(NULL, -1, 0, NULL, NULL, EVC_RELOAD, what);
    }

    /*
     * A pool still stopping from an earlier change starts again only if this
     * config has it (set below): one the new config dropped stays removed.
     */
    TAILQ_FOREACH(stopping, &droverd.pools, entry)
        if (stopping->removing)
            stopping->recreate_cfg = NULL;
    /* Pools that left the config stop; the rest follow their new settings. */
    for (size_t i = 0; i < out->diff.n; i++) {
        if (out->diff.v[i].kind == CHANGE_POOL_REMOVED) {
            struct pool *p = pool_find(out->diff.v[i].pool);
            if (p != NULL)
                pool_stop(p, true);
        }
    }
    TAILQ_FOREACH(pc, &new->pools, entry) {
        struct pool *p = pool_find(pc->name);
        if (p == NULL && (p = pool_find_removing(pc->name)) != NULL) {
            /* Still stopping from an earlier change: start it with these settings once down. */
            p->recreate_cfg = pc;
            continue;
        }
        if (p == NULL && pc->listen != NULL &&
            (stopping = pool_on_listen(pc->listen, NULL, true)) != NULL &&
            stopping->recreate_cfg == NULL) {
            /* Renamed, same listen: it starts on that pool's socket once that pool is down. */
            stopping->recreate_cfg = pc;
            continue;
        }
        if (p == NULL) {
            p = pool_create(pc, err, sizeof(err));
            if (p == NULL) {
                add_problem(out, pc->name, err, false);
                continue;
            }
            pool_start(p);
        } else if (config_diff_find(&out->diff, pc->name, CHANGE_POOL_RECREATE) != NULL ||
                   listen_moves(p, pc)) {
            /* (listen_moves alone: an earlier reload could not move it.) */
            if (recreate_may_listen(p, pc, out))
                pool_recreate(p, pc);
        } else {
            bool restart = config_diff_find(&out->diff, pc->name, CHANGE_POOL_RESTART) != NULL;
            pool_set_config(p, pc, restart);
            if (restart)
                add_rollout(out, p);
            if (config_diff_find(&out->diff, pc->name, CHANGE_POOL_SCALE) != NULL)
                pool_scale(p, pc->nworkers);
        }
    }
    /* A socket kept or bound for a re-creation this config no longer wants is let go. */
    listen_release_unwanted(pool_listen_wanted);
    retire(old);
    droverd.reloads++;
    log_changes(&out->diff);
    if (droverd.ready_sent)
        sd_notify_send("READY=1\nSTATUS=running (reloaded)");
    return out->nproblems == 0 ? 0 : -1;
}

void reload_report_free(struct reload_report *r)
{
    config_errors_clear(&r->errors);
    if (r->names != NULL)
        for (size_t i = 0; i < r->diff.n; i++)
            free(r->names[i]);
    free(r->names);
    if (r->loaded)
        config_diff_free(&r->diff);
    for (size_t i = 0; i < r->nproblems; i++) {
        free(r->problems[i].pool);
        free(r->problems[i].error);
    }
    free(r->problems);
    for (size_t i = 0; i < r->nrollouts; i++) {
        free(r->rollouts[i].pool);
        free(r->rollouts[i].halt_reason);
    }
    free(r->rollouts);
    memset(r, 0, sizeof(*r));
}

void reload_report_keep(struct reload_report *r)
{
    if (!r->loaded || r->names != NULL)
        return;
    r->names = xcalloc(r->diff.n ? r->diff.n : 1, sizeof(*r->names));
    for (size_t i = 0; i < r->diff.n; i++)
        if (r->diff.v[i].pool != NULL)
            r->diff.v[i].pool = r->names[i] = xstrdup(r->diff.v[i].pool);
}
