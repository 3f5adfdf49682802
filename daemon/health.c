/* SPDX-License-Identifier: ISC */
/*
 * The health rule (see health.h). Reads pools and slots through the same
 * view as status, so "running" and a slot's "why" read the same in both.
 * A slot the operator stopped is not wanted and no reason; a slot being
 * replaced by a rolling restart is not a reason either (a rollout that
 * fails is, through the pool's halt_reason).
 */
#include "health.h"

#include <event2/buffer.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "droverd.h"
#include "out.h"
#include "view.h"
#include "xmalloc.h"

#define HEALTH_JSON_VERSION 1

static struct health_reason *reason_add(struct health_report *r, const char *pool, long slot,
                                        const char *what)
{
    struct health_reason *h;

    r->reasons = xreallocarray(r->reasons, r->nreasons + 1, sizeof(*r->reasons));
    h = &r->reasons[r->nreasons++];
    memset(h, 0, sizeof(*h));
    h->pool = pool;
    h->slot = slot;
    h->what = what;
    return h;
}

/* The line drover health prints for a reason; a very long one (an odd INFO) is cut. */
static void __attribute__((format(printf, 2, 3)))
reason_text(struct health_reason *h, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(h->text, sizeof(h->text), fmt, ap);
    va_end(ap);
}

/* One slot: a reason when it is fatal, or wanted up and not started (running past start_grace). */
static bool slot_judge(struct health_report *r, const struct pool_view *pv,
                       const struct slot_view *sv)
{
    const struct slot *s = sv->s;
    const char *name = pv->p->name, *why = sv->info[0] != '\0' ? sv->info : NULL;
    struct health_reason *h;

    if (s->removing)
        return true;
    if (sv->state == SLOT_FATAL) {
        h = reason_add(r, name, sv->index, "fatal");
        reason_text(h, "pool %s slot %u: fatal: %s (last exit: %s)", name, sv->index,
                    why != NULL ? why : "too many crashes", sv->last_exit);
        return false;
    }
    if (!s->fsm.want_up || (sv->state == SLOT_RUNNING && s->fsm.up) || s->rolling)
        return true;
    /* Running but inside start_grace is not started yet: it may still exit as a failed start. */
    if (sv->state == SLOT_RUNNING) {
        h = reason_add(r, name, sv->index, slot_state_name(SLOT_STARTING));
        reason_text(h, "pool %s slot %u: running, not started yet%s%s", name, sv->index,
                    why != NULL ? ": " : "", why != NULL ? why : "");
        return false;
    }
    h = reason_add(r, name, sv->index, slot_state_name(sv->state));
    reason_text(h, "pool %s slot %u: %s, not running%s%s (last exit: %s)", name, sv->index,
                slot_state_name(sv->state), why != NULL ? ": " : "", why != NULL ? why : "",
                sv->last_exit);
    return false;
}

void health_check(struct health_report *r, const struct pool *only)
{
    struct daemon_view dv;

    memset(r, 0, sizeof(*r));
    daemon_view_fill(&dv, only, VIEW_USAGE_NONE);
    r->pools = xcalloc(dv.npools > 0 ? dv.npools : 1, sizeof(*r->pools));
    view_foreach_pool(&dv, pv) {
        struct health_pool *hp = &r->pools[r->npools++];

        hp->name = pv->p->name;
        hp->workers = pv->p->target;
        hp->running = pv->running;
        hp->healthy = true;
        for (const struct slot_view *sv = pv->slots; sv < pv->slots + pv->nslots; sv++) {
            if (!sv->s->removing && sv->s->fsm.want_up)
                hp->wanted++;
            hp->healthy &= slot_judge(r, pv, sv);
        }
        if (pv->p->halt_reason != NULL) {
            struct health_reason *h = reason_add(r, hp->name, -1, "rollout-halted");
            reason_text(h, "pool %s: rollout halted: %s", hp->name, pv->p->halt_reason);
            hp->healthy = false;
        }
    }
    daemon_view_free(&dv);
    r->shutting_down = droverd.shutting_down || droverd.shutdown_requested;
    if (r->shutting_down) {
        struct health_reason *h = reason_add(r, NULL, -1, "shutting-down");
        reason_text(h, "droverd is shutting down");
    }
    r->healthy = r->nreasons == 0;
}

void health_report_free(struct health_report *r)
{
    free(r->pools);
    free(r->reasons);
    memset(r, 0, sizeof(*r));
}

/* The format is documented in docs/health-json.md: change both together. */
void health_json(struct evbuffer *out, const struct health_report *r)
{
    struct json j;

    json_init(&j, out);
    json_object_begin(&j);
    json_kv_uint(&j, "version", HEALTH_JSON_VERSION);
    json_kv_bool(&j, "healthy", r->healthy);
    json_kv_bool(&j, "shutting_down", r->shutting_down);
    json_kv_array(&j, "pools");
    for (size_t i = 0; i < r->npools; i++) {
        const struct health_pool *hp = &r->pools[i];
        json_object_begin(&j);
        json_kv_str(&j, "name", hp->name);
        json_kv_uint(&j, "workers", hp->workers);
        json_kv_uint(&j, "wanted", hp->wanted);
        json_kv_uint(&j, "running", hp->running);
        json_kv_bool(&j, "healthy", hp->healthy);
        json_object_end(&j);
    }
    json_array_end(&j);
    json_kv_array(&j, "reasons");
    for (size_t i = 0; i < r->nreasons; i++) {
        const struct health_reason *h = &r->reasons[i];
        json_object_begin(&j);
        json_kv_str(&j, "pool", h->pool);
        if (h->slot >= 0)
            json_kv_int(&j, "slot", h->slot);
        else
            json_kv_null(&j, "slot");
        json_kv_str(&j, "what", h->what);
        json_kv_str(&j, "reason", h->text);
        json_object_end(&j);
    }
    json_array_end(&j);
    json_object_end(&j);
}
