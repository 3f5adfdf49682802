/* SPDX-License-Identifier: ISC */
/*
 * Which worker gets the next request: the least loaded one, and among
 * equally loaded ones the one that has waited longest, so work spreads
 * evenly over the pool and every core stays busy. A pure data structure:
 * workers are nodes filed by their load (requests in flight) up to a
 * capacity; picking and releasing are O(1) per level.
 */
#ifndef DROVER_CHOICE_H
#define DROVER_CHOICE_H

#include <stdbool.h>
#include "list.h"

struct choice_node {
    TAILQ_ENTRY(choice_node) entry;
    unsigned load;
    bool listed; /* available (ready, not draining) and filed */
};

TAILQ_HEAD(choice_level, choice_node);

struct choice {
    struct choice_level *levels; /* levels[k]: available nodes with load k (< capacity) */
    unsigned capacity;
    unsigned available; /* nodes listed */
    unsigned low;       /* every level below it is empty (a take starts there) */
};

void choice_init(struct choice *c, unsigned capacity);
void choice_free(struct choice *c);
/* Change the capacity (worker_inflight on reload); nodes are re-filed. */
void choice_set_capacity(struct choice *c, unsigned capacity, struct choice_node **nodes,
                         unsigned n);

/* The node can take work again (ready) or not (draining, stopped). */
void choice_list(struct choice *c, struct choice_node *n);
void choice_unlist(struct choice *c, struct choice_node *n);
/* Take the least loaded, longest-waiting node and count one more unit on it; NULL if none. */
struct choice_node *choice_take(struct choice *c);
/* The same, but a node with work already is taken only if busy_ok(node, arg) is true. */
struct choice_node *choice_take_if(struct choice *c, bool (*busy_ok)(struct choice_node *, void *),
                                   void *arg);
/* One unit of work on n finished. */
void choice_release(struct choice *c, struct choice_node *n);
/* Would choice_take() find a node? */
bool choice_has_room(const struct choice *c);
/*
 * Is some node listed, and does every listed one carry load or more? O(load):
 * the levels below it are empty. False when load is over the capacity (a
 * node at the capacity is not filed, so its load is not known to be enough).
 */
bool choice_all_loaded(const struct choice *c, unsigned load);

#endif
