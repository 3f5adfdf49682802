/* SPDX-License-Identifier: ISC */
/*
 * drover reload [--json]: reload.c applies the configuration again; this
 * file tells the client what changed, as text or JSON.
 */
#include <event2/buffer.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "confdiff.h"
#include "control.h"
#include "out.h"
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
    for (size_t i = 0; i < r->nproblems; i++)
        evbuffer_add_printf(out, "pool %s: cannot start: %s\n", r->problems[i].pool,
                            r->problems[i].error);
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
    for (size_t i = 0; i < r->nproblems; i++)
        evbuffer_add_printf(problems, "pool %s: cannot start: %s\n", r->problems[i].pool,
                            r->problems[i].error);
    if (evbuffer_get_length(problems) > 0)
        text = xstrndup((char *)evbuffer_pullup(problems, -1), evbuffer_get_length(problems));
    diff_json(out, &r->diff, text);
    free(text);
    evbuffer_free(problems);
}

static enum cmd_retval cmd_reload_exec(struct cmd_ctx *ctx)
{
    struct reload_report report;
    struct evbuffer *out = evbuffer_new();
    int rc = reload_config(&report);

    if (ctx->args.json)
        report_json(out, &report);
    else
        report_text(out, &report);
    reload_report_free(&report);
    if (rc != 0 && !ctx->args.json) {
        size_t len = evbuffer_get_length(out);
        control_err(ctx->client, "%.*s", (int)len, (char *)evbuffer_pullup(out, -1));
    } else {
        control_out_buffer(ctx->client, out);
    }
    evbuffer_free(out);
    return rc == 0 ? CMD_DONE : CMD_FAILED;
}

const struct cmd_entry cmd_reload_entry = {
    .verb = VERB_RELOAD,
    .target = CMD_TARGET_NONE,
    .exec = cmd_reload_exec,
};
