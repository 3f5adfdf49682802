/* SPDX-License-Identifier: ISC */
/*
 * The one health rule, for `drover health`, GET /readyz and whatever else
 * asks: droverd is healthy when every pool has each worker it wants
 * running, no slot is fatal, no rollout is halted, and no shutdown has been
 * asked for. Each way it falls short is one reason naming its pool and slot.
 * Reads droverd through the view (view.h); changes nothing.
 */
#ifndef DROVER_HEALTH_H
#define DROVER_HEALTH_H

#include <stdbool.h>
#include <stddef.h>

struct evbuffer;
struct pool;

struct health_reason {
    const char *pool; /* NULL: about droverd itself */
    long slot;        /* -1: about the whole pool */
    const char *what; /* "fatal", "starting", "backoff", "stopped", "stopping",
                         "rollout-halted", "shutting-down" */
    char text[384];   /* one line for people: "pool web slot 1: fatal: ..." */
};

struct health_pool {
    const char *name;
    unsigned workers; /* the pool's target */
    unsigned wanted;  /* slots the operator wants up (not stopped by `drover stop`) */
    unsigned running;
    bool healthy;
};

struct health_report {
    bool healthy;       /* no reason at all */
    bool shutting_down; /* SIGTERM seen or a shutdown under way */
    struct health_pool *pools;
    size_t npools;
    struct health_reason *reasons;
    size_t nreasons;
};

/* Judge every pool (or only that one), and droverd. Free with health_report_free(). */
void health_check(struct health_report *r, const struct pool *only);
void health_report_free(struct health_report *r);
/* The report as documented in docs/health-json.md. */
void health_json(struct evbuffer *out, const struct health_report *r);

#endif
