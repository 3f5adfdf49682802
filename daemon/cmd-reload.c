/* SPDX-License-Identifier: ISC */
/*
 * drover reload (and SIGHUP): load the configuration again and apply only
 * the difference. A config with errors changes nothing. Pools are added,
 * removed, scaled, re-created, or rolled one worker at a time (confdiff.c
 * decides which); everything else is applied in place.
 */
#include <event2/buffer.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "confdiff.h"
#include "control.h"
#include "droverd.h"
#include "keys.h"
#include "log.h"
#include "notify.h"
#include "out.h"
#include "parse.h"
#include "pool.h"
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
    if (p->cfg == pc)
        return true;
    return false;
}

void reload_free_retired(bool all)
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

static void retire(struct config *cfg)
{
    retired = xreallocarray(retired, nretired + 1, sizeof(*retired));
    retired[nretired++] = cfg;
    reload_free_retired(false);
}

static void errors_json(struct evbuffer *out, const struct config_errors *errs)
{
    struct json j;

    json_init(&j, out);
    json_object_begin(&j);
    json_key(&j, "ok");
    json_bool(&j, false);
    json_key(&j, "errors");
    json_array_begin(&j);
    for (size_t i = 0; i < errs->n; i++) {
        json_object_begin(&j);
        json_key(&j, "file");
        json_string(&j, errs->v[i].file);
        json_key(&j, "line");
        json_uint(&j, errs->v[i].line);
        json_key(&j, "message");
        json_string(&j, errs->v[i].message);
        json_object_end(&j);
    }
    json_array_end(&j);
    json_object_end(&j);
}

static const char *change_kind_name(enum change_kind k)
{
    static const char *const names[] = {"pool_added",     "pool_removed",        "pool_recreated",
                                        "pool_restarted", "pool_scaled",         "pool_applied",
                                        "daemon_applied", "daemon_needs_restart"};
    return names[k];
}

static void diff_json(struct evbuffer *out, const struct config_diff *d, const char *problems)
{
    struct json j;

    json_init(&j, out);
    json_object_begin(&j);
    json_key(&j, "ok");
    json_bool(&j, problems == NULL);
    json_key(&j, "changes");
    json_array_begin(&j);
    for (size_t i = 0; i < d->n; i++) {
        const struct change *c = &d->v[i];
        json_object_begin(&j);
        json_key(&j, "change");
        json_string(&j, change_kind_name(c->kind));
        json_key(&j, "pool");
        json_string(&j, c->pool);
        json_key(&j, "keys");
        json_string(&j, c->keys);
        json_key(&j, "old_workers");
        json_uint(&j, c->old_workers);
        json_key(&j, "new_workers");
        json_uint(&j, c->new_workers);
        json_object_end(&j);
    }
    json_array_end(&j);
    json_key(&j, "problems");
    json_string(&j, problems);
    json_object_end(&j);
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

int reload_config(struct evbuffer *out, bool json)
{
    struct config_env env;
    struct config_errors errs = {0};
    struct config *old = droverd.config, *new;
    struct config_diff diff;
    struct pool_config *pc;
    struct evbuffer *problems = evbuffer_new();
    char err[PARSE_ERR_MAX];
    int rc = 0;

    sd_notify_send("RELOADING=1\nMONOTONIC_USEC=%llu", (unsigned long long)mono_now());
    config_env_default(&env);
    new = config_load(droverd.config_path, &env, &errs);
    if (new == NULL) {
        char *text = config_errors_format(&errs);
        log_warnx("reload: %s has errors; keeping the running configuration", droverd.config_path);
        log_warnx("%s", text);
        if (json)
            errors_json(out, &errs);
        else
            evbuffer_add_printf(out, "%snothing changed\n", text);
        free(text);
        config_errors_clear(&errs);
        evbuffer_free(problems);
        droverd.reload_failures++;
        sd_notify_send("READY=1\nSTATUS=reload failed: configuration has errors");
        return -1;
    }
    config_diff(old, new, &diff);
    keep_daemon_restart_keys(new, old);
    droverd.config = new;
    log_set_level(new->daemon.log_level);

    /* Pools that left the config stop; the rest follow their new settings. */
    for (size_t i = 0; i < diff.n; i++) {
        if (diff.v[i].kind == CHANGE_POOL_REMOVED) {
            struct pool *p = pool_find(diff.v[i].pool);
            if (p != NULL)
                pool_stop(p, true);
        }
    }
    TAILQ_FOREACH(pc, &new->pools, entry)
    {
        struct pool *p = pool_find(pc->name);
        if (p == NULL && (p = pool_find_removing(pc->name)) != NULL) {
            /* Still stopping from an earlier change: start it with these settings once down. */
            p->recreate_cfg = pc;
            continue;
        }
        if (p == NULL) {
            p = pool_create(pc, err, sizeof(err));
            if (p == NULL) {
                evbuffer_add_printf(problems, "pool %s: cannot start: %s\n", pc->name, err);
                rc = -1;
                continue;
            }
            pool_start(p);
        } else if (config_diff_find(&diff, pc->name, CHANGE_POOL_RECREATE) != NULL) {
            pool_recreate(p, pc);
        } else {
            bool restart = config_diff_find(&diff, pc->name, CHANGE_POOL_RESTART) != NULL;
            pool_set_config(p, pc, restart);
            if (config_diff_find(&diff, pc->name, CHANGE_POOL_SCALE) != NULL)
                pool_scale(p, pc->nworkers);
        }
    }
    retire(old);
    droverd.reloads++;

    char *text = config_diff_describe(&diff);
    log_info("reload: %s", diff.n == 0 ? "no changes" : "applied");
    if (diff.n > 0) {
        /* One log line per change, for the journal. */
        char *save = NULL;
        char *copy = xstrdup(text);
        for (char *line = strtok_r(copy, "\n", &save); line != NULL;
             line = strtok_r(NULL, "\n", &save))
            log_info("reload: %s", line);
        free(copy);
    }
    if (json) {
        char *prob = evbuffer_get_length(problems) ? xstrndup((char *)evbuffer_pullup(problems, -1),
                                                              evbuffer_get_length(problems))
                                                   : NULL;
        diff_json(out, &diff, prob);
        free(prob);
    } else {
        evbuffer_add(out, text, strlen(text));
        evbuffer_add_buffer(out, problems);
    }
    free(text);
    config_diff_free(&diff);
    evbuffer_free(problems);
    sd_notify_send("READY=1\nSTATUS=running (reloaded)");
    return rc;
}

void cmd_reload(struct cmd_ctx *ctx)
{
    struct evbuffer *out = evbuffer_new();
    int rc = reload_config(out, ctx->args.json);

    if (rc != 0 && !ctx->args.json) {
        size_t len = evbuffer_get_length(out);
        control_err(ctx->client, "%.*s", (int)len, (char *)evbuffer_pullup(out, -1));
    } else {
        control_out_buffer(ctx->client, out);
    }
    evbuffer_free(out);
    control_finish(ctx->client, rc == 0 ? 0 : 1);
}
