/* SPDX-License-Identifier: ISC */
#include "choice.h"

#include <stdlib.h>

#include "xmalloc.h"

void choice_init(struct choice *c, unsigned capacity)
{
    c->capacity = capacity;
    c->available = 0;
    c->low = 0;
    c->levels = xcalloc(capacity, sizeof(*c->levels));
    for (unsigned k = 0; k < capacity; k++)
        TAILQ_INIT(&c->levels[k]);
}

void choice_free(struct choice *c)
{
    free(c->levels);
    c->levels = NULL;
}

/* File a listed node under its load, at the tail: it waits behind its equals. */
static void file_node(struct choice *c, struct choice_node *n)
{
    if (n->load < c->capacity) {
        TAILQ_INSERT_TAIL(&c->levels[n->load], n, entry);
        if (n->load < c->low)
            c->low = n->load;
    }
}

static void unfile_node(struct choice *c, struct choice_node *n)
{
    if (n->load < c->capacity)
        TAILQ_REMOVE(&c->levels[n->load], n, entry);
}

void choice_list(struct choice *c, struct choice_node *n)
{
    if (n->listed)
        return;
    n->listed = true;
    c->available++;
    file_node(c, n);
}

void choice_unlist(struct choice *c, struct choice_node *n)
{
    if (!n->listed)
        return;
    unfile_node(c, n);
    n->listed = false;
    c->available--;
}

struct choice_node *choice_take(struct choice *c)
{
    return choice_take_if(c, NULL, NULL);
}

struct choice_node *choice_take_if(struct choice *c, bool (*busy_ok)(struct choice_node *, void *),
                                   void *arg)
{
    unsigned refused = 0;

    while (c->low < c->capacity && TAILQ_EMPTY(&c->levels[c->low]))
        c->low++;
    /* Once every listed node was refused, the levels left are empty: not scanned. */
    for (unsigned k = c->low; k < c->capacity && refused < c->available; k++) {
        struct choice_node *n = TAILQ_FIRST(&c->levels[k]);
        /* An idle node always; a busy one only if busy_ok says so. */
        if (k > 0 && busy_ok != NULL)
            while (n != NULL && !busy_ok(n, arg)) {
                refused++;
                n = TAILQ_NEXT(n, entry);
            }
        if (n == NULL)
            continue;
        TAILQ_REMOVE(&c->levels[k], n, entry);
        n->load++;
        file_node(c, n);
        return n;
    }
    return NULL;
}

bool choice_has_room(const struct choice *c)
{
    for (unsigned k = 0; k < c->capacity; k++)
        if (!TAILQ_EMPTY(&c->levels[k]))
            return true;
    return false;
}

bool choice_all_loaded(const struct choice *c, unsigned load)
{
    if (c->available == 0 || load > c->capacity)
        return false;
    for (unsigned k = c->low; k < load; k++)
        if (!TAILQ_EMPTY(&c->levels[k]))
            return false;
    return true;
}

void choice_release(struct choice *c, struct choice_node *n)
{
    if (n->load == 0)
        return;
    if (n->listed)
        unfile_node(c, n);
    n->load--;
    if (n->listed)
        file_node(c, n);
}

void choice_set_capacity(struct choice *c, unsigned capacity, struct choice_node **nodes,
                         unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        if (nodes[i] != NULL && nodes[i]->listed)
            unfile_node(c, nodes[i]);
    free(c->levels);
    c->capacity = capacity;
    c->low = 0;
    c->levels = xcalloc(capacity, sizeof(*c->levels));
    for (unsigned k = 0; k < capacity; k++)
        TAILQ_INIT(&c->levels[k]);
    for (unsigned i = 0; i < n; i++)
        if (nodes[i] != NULL && nodes[i]->listed)
            file_node(c, nodes[i]);
}
