/* SPDX-License-Identifier: ISC */
/*
 * Command dispatch (see cmd.h): re-validate the argv a client sent with the
 * shared verb parser, refuse what droverd cannot do now, resolve the verb's
 * target, run its entry, and answer the exit status.
 */
#include "cmd.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "control.h"
#include "droverd.h"
#include "parse.h"
#include "pool.h"
#include "proto.h"
#include "xmalloc.h"

/* In enum verb_id order. */
static const struct cmd_entry *const cmd_entries[] = {
    &cmd_status_entry, &cmd_start_entry,  &cmd_stop_entry,    &cmd_restart_entry,
    &cmd_reload_entry, &cmd_scale_entry,  &cmd_signal_entry,  &cmd_logs_entry,
    &cmd_call_entry,   &cmd_check_entry,  &cmd_metrics_entry, &cmd_shutdown_entry,
    &cmd_health_entry, &cmd_events_entry, &cmd_top_entry,     &cmd_version_entry,
};
_Static_assert(sizeof(cmd_entries) / sizeof(cmd_entries[0]) == VERB__COUNT,
               "every verb of common/verbs.c needs its cmd_entry here");

int cmd_table_check(void)
{
    for (size_t i = 0; i < VERB__COUNT; i++)
        if (cmd_entries[i]->verb != (enum verb_id)i || cmd_entries[i]->exec == NULL)
            return -1;
    return 0;
}

void cmd_error(struct cmd_ctx *ctx, const char *fmt, ...)
{
    va_list ap;
    char *s;

    va_start(ap, fmt);
    xvasprintf(&s, fmt, ap);
    va_end(ap);
    control_err(ctx->client, "%s\n", s);
    free(s);
}

/* check runs in the drover CLI alone; a droverd asked for it says so. */
static enum cmd_retval cmd_local_exec(struct cmd_ctx *ctx)
{
    cmd_error(ctx, "'%s' runs in the drover CLI, not in the daemon", ctx->args.verb->name);
    return CMD_USAGE;
}

const struct cmd_entry cmd_check_entry = {
    .verb = VERB_CHECK,
    .target = CMD_TARGET_NONE,
    .exec = cmd_local_exec,
};

/* top asks status --json every interval; it is the CLI's own loop. */
const struct cmd_entry cmd_top_entry = {
    .verb = VERB_TOP,
    .target = CMD_TARGET_NONE,
    .exec = cmd_local_exec,
};

static void target_list_free(struct target_list *t)
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

/* A pool the client named; NULL when there is none (the client is told). */
static struct pool *find_pool(struct cmd_ctx *ctx, const char *name)
{
    struct pool *p = pool_find(name);

    if (p == NULL)
        cmd_error(ctx, "no pool named '%s'", name);
    return p;
}

/* Resolve "POOL", "POOL:SLOT" or "all" targets into ctx->targets. */
static enum cmd_retval resolve_slots(struct cmd_ctx *ctx, const char *const *names, int n)
{
    char err[PARSE_ERR_MAX], pool_name[128];

    for (int i = 0; i < n; i++) {
        long slot;
        struct pool *p;

        if (verb_parse_target(names[i], pool_name, sizeof(pool_name), &slot, err, sizeof(err)) !=
            0) {
            cmd_error(ctx, "%s", err);
            return CMD_USAGE;
        }
        if (pool_name[0] == '\0') {
            TAILQ_FOREACH(p, &droverd.pools, entry)
                if (!p->removing)
                    target_add(&ctx->targets, p, -1);
            continue;
        }
        if ((p = find_pool(ctx, pool_name)) == NULL)
            return CMD_FAILED;
        if (slot >= 0 && pool_slot(p, (unsigned)slot) == NULL) {
            cmd_error(ctx, "pool %s has no slot %ld (it has %u worker%s)", p->name, slot, p->target,
                      p->target == 1 ? "" : "s");
            return CMD_FAILED;
        }
        target_add(&ctx->targets, p, slot);
    }
    return CMD_DONE;
}

/* "POOL:SLOT" for a verb that shows one slot (status, logs). */
static enum cmd_retval resolve_pool_slot(struct cmd_ctx *ctx, const char *name)
{
    char err[PARSE_ERR_MAX], pool_name[128];

    if (verb_parse_target(name, pool_name, sizeof(pool_name), &ctx->slot, err, sizeof(err)) != 0 ||
        pool_name[0] == '\0') {
        cmd_error(ctx, "%s", pool_name[0] == '\0' ? "expected POOL or POOL:SLOT" : err);
        return CMD_USAGE;
    }
    if ((ctx->pool = find_pool(ctx, pool_name)) == NULL)
        return CMD_FAILED;
    if (ctx->slot >= 0 && pool_slot(ctx->pool, (unsigned)ctx->slot) == NULL) {
        cmd_error(ctx, "pool %s has no slot %ld (it has %u worker%s)", ctx->pool->name, ctx->slot,
                  ctx->pool->target, ctx->pool->target == 1 ? "" : "s");
        return CMD_FAILED;
    }
    return CMD_DONE;
}

static enum cmd_retval resolve_target(const struct cmd_entry *e, struct cmd_ctx *ctx)
{
    switch (e->target) {
    case CMD_TARGET_NONE:
        break;
    case CMD_TARGET_POOL_OPT:
        if (ctx->args.npos == 0)
            break;
        /* fall through */
    case CMD_TARGET_POOL:
        if (e->slot_ok && strcmp(ctx->args.pos[0], "all") == 0)
            break; /* ctx->pool stays NULL: every pool (status, logs) */
        if (e->slot_ok && strchr(ctx->args.pos[0], ':') != NULL)
            return resolve_pool_slot(ctx, ctx->args.pos[0]);
        if ((ctx->pool = find_pool(ctx, ctx->args.pos[0])) == NULL)
            return CMD_FAILED;
        break;
    case CMD_TARGET_SLOT:
        return resolve_slots(ctx, ctx->args.pos, 1);
    case CMD_TARGET_SLOTS:
        return resolve_slots(ctx, ctx->args.pos, ctx->args.npos);
    }
    return CMD_DONE;
}

static enum cmd_retval run(struct cmd_ctx *ctx, char **argv, int argc)
{
    const struct verb *v;
    const struct cmd_entry *e;
    char err[PARSE_ERR_MAX];
    enum cmd_retval rv;

    if (verb_parse(argc, argv, &ctx->args, err, sizeof(err)) != 0) {
        cmd_error(ctx, "%s", err);
        return CMD_USAGE;
    }
    v = ctx->args.verb;
    e = cmd_entries[v->id];
    if (droverd.shutting_down && !(v->flags & (VERB_READONLY | VERB_LOCAL)) &&
        v->id != VERB_SHUTDOWN) {
        cmd_error(ctx, "droverd is shutting down");
        return CMD_FAILED;
    }
    if (e->check != NULL && (rv = e->check(ctx)) != CMD_DONE)
        return rv;
    if ((rv = resolve_target(e, ctx)) != CMD_DONE)
        return rv;
    return e->exec(ctx);
}

void cmd_dispatch(struct control_client *c, int argc, char **argv)
{
    struct cmd_ctx ctx = {.client = c, .slot = -1};

    switch (run(&ctx, argv, argc)) {
    case CMD_DONE:
        control_finish(c, DROVER_EXIT_OK);
        break;
    case CMD_FAILED:
        control_finish(c, DROVER_EXIT_FAILED);
        break;
    case CMD_USAGE:
        control_finish(c, DROVER_EXIT_USAGE);
        break;
    case CMD_WAIT:
        break;
    }
    target_list_free(&ctx.targets);
}
