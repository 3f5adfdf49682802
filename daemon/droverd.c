/* SPDX-License-Identifier: ISC */
/*
 * The owner of struct droverd (see droverd.h): the global itself, the
 * beginning of the shutdown, and the end-of-pass hooks. Modules below
 * main.c report "something changed" here instead of calling up; the one
 * deferred event then runs every settle hook once, however many changes the
 * pass saw, in the order they were registered.
 */
#include <event2/event.h>
#include <stdlib.h>

#include "droverd.h"
#include "log.h"
#include "xmalloc.h"

struct droverd droverd;

struct hook_list {
    void (**fn)(void);
    size_t n;
};

static struct hook_list settle_hooks, shutdown_hooks;
static struct event *settle_event;

static void hook_add(struct hook_list *h, void (*fn)(void))
{
    h->fn = xreallocarray(h->fn, h->n + 1, sizeof(*h->fn));
    h->fn[h->n++] = fn;
}

static void hooks_run(const struct hook_list *h)
{
    for (size_t i = 0; i < h->n; i++)
        h->fn[i]();
}

static void hooks_clear(struct hook_list *h)
{
    free(h->fn);
    h->fn = NULL;
    h->n = 0;
}

void droverd_on_settle(void (*fn)(void))
{
    hook_add(&settle_hooks, fn);
}

void droverd_on_shutdown(void (*fn)(void))
{
    hook_add(&shutdown_hooks, fn);
}

static void settle_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    (void)arg;
    hooks_run(&settle_hooks);
}

void droverd_init(void)
{
    settle_event = event_new(droverd.base, -1, 0, settle_cb, NULL);
}

void droverd_free(void)
{
    if (settle_event != NULL)
        event_free(settle_event);
    settle_event = NULL;
    hooks_clear(&settle_hooks);
    hooks_clear(&shutdown_hooks);
}

void droverd_state_changed(void)
{
    if (settle_event != NULL)
        event_active(settle_event, 0, 0);
}

void droverd_shutdown(int status)
{
    if (droverd.shutting_down) {
        if (status != 0 && droverd.exit_status == 0)
            droverd.exit_status = status;
        return;
    }
    droverd.shutting_down = true;
    droverd.exit_status = status;
    log_info("shutting down");
    hooks_run(&shutdown_hooks);
    droverd_state_changed();
}
