/* SPDX-License-Identifier: ISC */
/*
 * drover reload [--json] [--no-wait]: reload.c applies the configuration
 * again; this file tells the client what changed, as text or JSON. A pool
 * restarted one worker at a time keeps the client (unless --no-wait) until
 * its first new worker counts as started or the rollout halted; a halt
 * fails the command with the reason, so systemd's reload job fails too.
 */
#include <event2/buffer.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "confdiff.h"
#include "control.h"
#include "droverd.h"
#include "out.h"
#include "pool.h"
#include "proto.h"
#include "reload.h"
#include "xmalloc.h"

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

static void diff_json(struct evbuffer *out, const struct reload_report *r, const char *problems)
{
    const struct config_diff *d = &r->diff;
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
        /* The keys, one string each (the text form's "a, b"); [] for an added or removed pool. */
        json_key(&j, "keys");
        json_array_begin(&j);
        for (const char *k = c->keys; k != NULL && *k != '\0';) {
            const char *end = strstr(k, ", ");
            size_t len = end != NULL ? (size_t)(end - k) : strlen(k);
            json_string_len(&j, k, len);
            k = end != NULL ? end + 2 : k + len;
        }
        json_array_end(&j);
        json_key(&j, "old_workers");
        json_uint(&j, c->old_workers);
        json_key(&j, "new_workers");
        json_uint(&j, c->new_workers);
        json_object_end(&j);
    }
    json_array_end(&j);
    json_key(&j, "rollouts");
    json_array_begin(&j);
    for (size_t i = 0; i < r->nrollouts; i++) {
        json_object_begin(&j);
        json_key(&j, "pool");
        json_string(&j, r->rollouts[i].pool);
        json_key(&j, "halted");
        json_string(&j, r->rollouts[i].halt_reason);
        json_object_end(&j);
    }
    json_array_end(&j);
    json_key(&j, "problems");
    json_string(&j, problems);
    json_object_end(&j);
}

/*
 * What went wrong, one line each: pools that could not start, pools kept as
 * they were (a change refused), rollouts that halted.
 */
static void report_problems(struct evbuffer *out, const struct reload_report *r)
{
    for (size_t i = 0; i < r->nproblems; i++)
        evbuffer_add_printf(out, "pool %s: %s: %s\n", r->problems[i].pool,
                            r->problems[i].kept ? "not changed" : "cannot start",
                            r->problems[i].error);
    for (size_t i = 0; i < r->nrollouts; i++)
        if (r->rollouts[i].halt_reason != NULL)
            evbuffer_add_printf(out, "pool %s: rollout halted: %s\n", r->rollouts[i].pool,
                                r->rollouts[i].halt_reason);
}

/* What drover reload prints: what changed, or why nothing did. */
static void report_text(struct evbuffer *out, const struct reload_report *r)
{
    char *text;

    if (!r->loaded) {
        text = config_errors_format(&r->errors);
        evbuffer_add_printf(out, "%snothing changed\n", text);
        free(text);
        return;
    }
    text = config_diff_describe(&r->diff);
    evbuffer_add(out, text, strlen(text));
    free(text);
    report_problems(out, r);
}

static void report_json(struct evbuffer *out, const struct reload_report *r)
{
    struct evbuffer *problems;
    char *text = NULL;

    if (!r->loaded) {
        errors_json(out, &r->errors);
        return;
    }
    problems = evbuffer_new();
    report_problems(problems, r);
    if (evbuffer_get_length(problems) > 0)
        text = xstrndup((char *)evbuffer_pullup(problems, -1), evbuffer_get_length(problems));
    diff_json(out, r, text);
    free(text);
    evbuffer_free(problems);
}

/* Send the report; a failure goes to stderr (text) or says ok: false (JSON). */
static void report_send(struct control_client *c, const struct reload_report *r, bool json,
                        bool failed)
{
    struct evbuffer *out = evbuffer_new();

    if (json)
        report_json(out, r);
    else
        report_text(out, r);
    if (failed && !json) {
        size_t len = evbuffer_get_length(out);
        control_err(c, "%.*s", (int)len, (char *)evbuffer_pullup(out, -1));
    } else {
        control_out_buffer(c, out);
    }
    evbuffer_free(out);
}

struct reload_wait {
    struct reload_report report;
    bool json;
};

static void reload_wait_free(void *arg)
{
    struct reload_wait *w = arg;

    reload_report_free(&w->report);
    free(w);
}

/*
 * Has each rollout this reload began settled? It has once its first new
 * worker counts as started, it finished, a later reload took it over, or it
 * halted (the pool's halt_reason is cleared by any reload that rolls it).
 */
static bool reload_wait_check(struct control_client *c, void *arg)
{
    struct reload_wait *w = arg;
    bool halted = false;

    for (size_t i = 0; i < w->report.nrollouts; i++) {
        struct reload_rollout *ro = &w->report.rollouts[i];
        struct pool *p = pool_find(ro->pool);
        if (p == NULL || ro->halt_reason != NULL)
            continue;
        if (p->halt_reason != NULL)
            ro->halt_reason = xstrdup(p->halt_reason);
        else if (p->rollout_gen == ro->gen && !p->rollout_proven && droverd.shutting_down)
            /* The shutdown ended the rollout (rolling is off now): it did not succeed. */
            ro->halt_reason = xstrdup("droverd shut down before a new worker counted as started");
        else if (p->rollout_gen == ro->gen && p->rolling && !p->rollout_proven)
            return false;
    }
    for (size_t i = 0; i < w->report.nrollouts; i++)
        halted |= w->report.rollouts[i].halt_reason != NULL;
    report_send(c, &w->report, w->json, halted);
    control_finish(c, halted ? DROVER_EXIT_FAILED : DROVER_EXIT_OK);
    return true;
}

static enum cmd_retval cmd_reload_exec(struct cmd_ctx *ctx)
{
    struct reload_wait *w;
    int rc;

    w = xcalloc(1, sizeof(*w));
    w->json = ctx->args.json;
    rc = reload_config(&w->report);
    if (rc != 0 || ctx->args.no_wait || w->report.nrollouts == 0) {
        report_send(ctx->client, &w->report, w->json, rc != 0);
        reload_wait_free(w);
        return rc == 0 ? CMD_DONE : CMD_FAILED;
    }
    reload_report_keep(&w->report);
    control_wait(ctx->client, reload_wait_check, w, reload_wait_free);
    return CMD_WAIT;
}

const struct cmd_entry cmd_reload_entry = {
    .verb = VERB_RELOAD,
    .target = CMD_TARGET_NONE,
    .exec = cmd_reload_exec,
};
