/* SPDX-License-Identifier: ISC */
/*
 * Reaping: after SIGCHLD, collect exited children. Workers go to their slot
 * (which may restart them at once), liveness checks to check.c; anything else is an orphan that was
 * reparented to droverd (as a subreaper, or as PID 1) and is simply reaped
 * so no zombie remains.
 */
#include <errno.h>
#include <event2/event.h>
#include <sys/wait.h>

#include "check.h"
#include "droverd.h"
#include "log.h"
#include "pool.h"
#include "reap.h"

/*
 * Children reaped per pass of the event loop. In a crash storm each reap may
 * fork a replacement; bounding the batch lets control clients and routed
 * pools be served between batches instead of after the storm.
 */
#define REAP_BATCH 32

static struct event *reap_more;

static void reap_more_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    (void)arg;
    reap_children();
}

/* Reap on the next pass of the event loop, after the I/O that is ready. */
static void reap_next_pass(void)
{
    static const struct timeval now = {0, 0};

    if (reap_more == NULL)
        reap_more = evtimer_new(droverd.base, reap_more_cb, NULL);
    event_add(reap_more, &now);
}

/*
 * SIGCHLD. libevent calls a signal's callback once per delivery it counted
 * since the last pass, back to back; reaping there would reap (and restart)
 * without bound in one pass while a storm keeps signalling. So the signal
 * only schedules the reap, and any number of them schedules one.
 */
void reap_soon(void)
{
    if (reap_more == NULL || !evtimer_pending(reap_more, NULL))
        reap_next_pass();
}

void reap_children(void)
{
    /* Signals coalesce: one SIGCHLD may stand for many exits. */
    for (int n = 0; n < REAP_BATCH; n++) {
        int wstatus;
        pid_t pid = waitpid(-1, &wstatus, WNOHANG);
        struct slot *s;

        if (pid <= 0) {
            if (pid < 0 && errno == EINTR)
                continue;
            return;
        }
        s = slot_find_pid(pid);
        if (s != NULL) {
            slot_exited(s, wstatus);
        } else if (check_reaped(pid, wstatus)) {
            /* a liveness check (check.c) */
        } else {
            droverd.orphans_reaped++;
            log_debug("reaped orphan pid %d", (int)pid);
        }
    }
    /* More may be waiting: continue on the next pass. */
    reap_next_pass();
}

void reap_cleanup(void)
{
    if (reap_more != NULL) {
        event_free(reap_more);
        reap_more = NULL;
    }
}
