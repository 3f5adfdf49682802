/* SPDX-License-Identifier: ISC */
/*
 * Command dispatch: re-validate the argv a client sent with the shared verb
 * parser, then hand it to the verb's handler. Also what several handlers
 * share: naming targets.
 */
#include "cmd.h"

#include <stdlib.h>
#include <string.h>

#include "control.h"
#include "droverd.h"
#include "log.h"
#include "parse.h"
#include "pool.h"
#include "xmalloc.h"

static const cmd_fn cmd_handlers[VERB__COUNT] = {
    [VERB_STATUS] = cmd_status,   [VERB_START] = cmd_start,       [VERB_STOP] = cmd_stop,
    [VERB_RESTART] = cmd_restart, [VERB_RELOAD] = cmd_reload,     [VERB_SCALE] = cmd_scale,
    [VERB_SIGNAL] = cmd_signal,   [VERB_LOGS] = cmd_logs,         [VERB_CALL] = cmd_call,
    [VERB_CHECK] = NULL, /* runs in the CLI */
    [VERB_METRICS] = cmd_metrics, [VERB_SHUTDOWN] = cmd_shutdown,
};

int cmd_table_check(void)
{
    for (size_t i = 0; i < VERB__COUNT; i++) {
        bool local = (verb_table[i].flags & VERB_LOCAL) != 0;
        if ((cmd_handlers[i] == NULL) != local)
            return -1;
    }
    return 0;
}

void cmd_ctx_free(struct cmd_ctx *ctx)
{
    free_strv(ctx->argv);
    free(ctx);
}

void cmd_dispatch(struct cmd_ctx *ctx)
{
    char err[PARSE_ERR_MAX];

    if (verb_parse(ctx->argc, ctx->argv, &ctx->args, err, sizeof(err)) != 0) {
        control_err(ctx->client, "%s\n", err);
        control_finish(ctx->client, 2);
        return;
    }
    if (cmd_handlers[ctx->args.verb->id] == NULL) {
        control_err(ctx->client, "'%s' runs in the drover CLI, not in the daemon\n",
                    ctx->args.verb->name);
        control_finish(ctx->client, 2);
        return;
    }
    if (droverd.shutting_down && !(ctx->args.verb->flags & VERB_READONLY) &&
        ctx->args.verb->id != VERB_SHUTDOWN) {
        control_err(ctx->client, "droverd is shutting down\n");
        control_finish(ctx->client, 1);
        return;
    }
    cmd_handlers[ctx->args.verb->id](ctx);
}

void target_list_free(struct target_list *t)
{
    free(t->v);
    t->v = NULL;
    t->n = 0;
}

static void target_add(struct target_list *t, struct pool *p, long slot)
{
    t->v = xreallocarray(t->v, t->n + 1, sizeof(*t->v));
    t->v[t->n].pool = p;
    t->v[t->n].slot = slot;
    t->n++;
}

int cmd_resolve_targets(struct cmd_ctx *ctx, const char *const *names, int n,
                        struct target_list *out)
{
    char err[PARSE_ERR_MAX], pool_name[128];

    memset(out, 0, sizeof(*out));
    for (int i = 0; i < n; i++) {
        long slot;
        struct pool *p;

        if (verb_parse_target(names[i], pool_name, sizeof(pool_name), &slot, err, sizeof(err)) !=
            0) {
            control_err(ctx->client, "%s\n", err);
            control_finish(ctx->client, 2);
            target_list_free(out);
            return -1;
        }
        if (pool_name[0] == '\0') {
            TAILQ_FOREACH(p, &droverd.pools, entry)
            if (!p->removing)
                target_add(out, p, -1);
            continue;
        }
        p = pool_find(pool_name);
        if (p == NULL) {
            control_err(ctx->client, "no pool named '%s'\n", pool_name);
            control_finish(ctx->client, 1);
            target_list_free(out);
            return -1;
        }
        if (slot >= 0 && pool_slot(p, (unsigned)slot) == NULL) {
            control_err(ctx->client, "pool %s has no slot %ld (it has %u workers)\n", p->name, slot,
                        p->target);
            control_finish(ctx->client, 1);
            target_list_free(out);
            return -1;
        }
        target_add(out, p, slot);
    }
    return 0;
}
