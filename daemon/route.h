/* SPDX-License-Identifier: ISC */
/*
 * Routing work to a pool: the front pool.c talks to. It owns a routed
 * pool's listening socket (listen.c) and, per mode, what each worker gets
 * (fd 3 and variables) and how work reaches it (router.c for message mode,
 * handoff.c for handoff mode; shared mode is here). worker.c tells it about
 * every worker's life; the route changes a slot only through the hooks
 * pool.c gave to route_new() (fail, restart, stop), and tells the pool it
 * drained through them too. It never includes pool.h.
 */
#ifndef DROVER_ROUTE_H
#define DROVER_ROUTE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "droverd.h"
#include "route_hooks.h"

/* A route for the pool named name with pc's listen and mode. NULL with a reason. */
struct route *route_new(const struct pool_config *pc, const char *name,
                        const struct route_hooks *hooks, char *err, size_t errsz);
/*
 * Free the route; with keep_socket (the pool is re-created with the same
 * listen value) its listening socket, and the backlog, wait for the new one.
 */
void route_free(struct route *r, bool keep_socket);
/*
 * A stopped route's pool waits to be created again elsewhere: close its
 * listening socket now, for a pool that moves to that address (two pools
 * swapping addresses in one reload); it accepts nothing more.
 */
void route_release_address(struct route *r);
bool route_holds_address(const struct route *r);
/* Settings that apply live (max_queue, timeouts, ...) changed. */
void route_configure(struct route *r, const struct pool_config *pc);
/* Stop taking new work (shutdown or removal); work already taken is finished. */
void route_stop_accepting(struct route *r);
/* The listen value the route was created with. */
const char *route_listen(const struct route *r);

int route_prepare_spawn(struct route *r, struct slot *s, struct route_spawn *rs, char *err,
                        size_t errsz);
void route_after_spawn(struct route *r, struct slot *s, struct route_spawn *rs, bool ok);
/* The slot changed state (to state). */
void route_slot_state(struct route *r, struct slot *s, enum slot_state state);
void route_slot_exited(struct route *r, struct slot *s);
void route_slot_free(struct route *r, struct slot *s);
/*
 * A STOP or RESTART for a message-mode worker with requests in flight waits
 * until they are answered (true: deferred; the route sends it later). START
 * cancels such a wait.
 */
bool route_slot_defer(struct route *r, struct slot *s, enum slot_event ev);
bool route_slot_draining(const struct route *r, const struct slot *s);
/*
 * Retire the slot's worker as max_requests does: no new work, restarted
 * (hooks.restart) once it holds none. False when the mode has no such path
 * (shared mode: the workers accept themselves).
 */
bool route_slot_retire(struct route *r, struct slot *s);

/*
 * Let go of the pool's clients; replies they have not taken yet are still
 * written (shutdown, removal). route_lingering() is true while any are.
 */
void route_release_clients(struct route *r);
bool route_lingering(void);

void route_get_stats(const struct route *r, struct route_stats *out);
/* How the routes' work stands after a loop pass (pace.h; struct route_pace in route_hooks.h). */
void route_pace_look(struct route_pace *v);
/* Requests in flight on this slot's worker. */
unsigned route_slot_inflight(const struct route *r, const struct slot *s);
/* Work still held (queued or in flight): shutdown waits for it to drain. */
bool route_busy(const struct route *r);

#endif
