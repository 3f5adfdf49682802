/* SPDX-License-Identifier: ISC */
/*
 * Reaping: after SIGCHLD, collect exited children. Workers go to their slot
 * (which may restart them at once), liveness checks to check.c; anything else is an orphan that was
 * reparented to droverd (as a subreaper, or as PID 1) and is simply reaped
 * so no zombie remains.
 */
#include <errno.h>
#include <event2/event.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>

#include "check.h"
#include "droverd.h"
#include "log.h"
#include "parse.h"
#include "pool.h"
#include "reap.h"
#include "sys.h"
#include "xmalloc.h"

/*
 * Children reaped per pass of the event loop. In a crash storm each reap may
 * fork a replacement; bounding the batch lets control clients and routed
 * pools be served between batches instead of after the storm.
 */
#define REAP_BATCH 32

static struct event *reap_more;

#define ADOPTED_READ_EVERY_US 5000000
static unsigned adopted_cached;
static uint64_t adopted_read_at; /* 0: read again */

/* Adopted processes already sent a signal, with the signal (reap_signal_adopted). */
static struct signalled {
    pid_t pid;
    int sig;
} * signalled;
static size_t nsignalled;

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
            adopted_read_at = 0;
            log_debug("reaped orphan pid %d", (int)pid);
            /* A shutdown may wait for the last of them. */
            droverd_state_changed();
        }
    }
    /* More may be waiting: continue on the next pass. */
    reap_next_pass();
}

int reap_adopted(pid_t **out)
{
    int n = sys_children(droverd.pid, out), k = 0;

    if (n < 0)
        return -1;
    /*
     * Workers have a slot; a vfork child has one too once vfork returned (it
     * execs first). Liveness checks are droverd's own children, not orphans.
     */
    for (int i = 0; i < n; i++)
        if (slot_find_pid((*out)[i]) == NULL && !check_owns_pid((*out)[i]))
            (*out)[k++] = (*out)[i];
    return k;
}

unsigned reap_adopted_count(void)
{
    uint64_t now = mono_now();
    pid_t *pids;
    int n;

    if (adopted_read_at != 0 && now - adopted_read_at < ADOPTED_READ_EVERY_US)
        return adopted_cached;
    n = reap_adopted(&pids);
    free(pids);
    adopted_cached = n > 0 ? (unsigned)n : 0;
    adopted_read_at = now;
    return adopted_cached;
}

static bool already_signalled(pid_t pid, int sig)
{
    for (size_t i = 0; i < nsignalled; i++)
        if (signalled[i].pid == pid && signalled[i].sig == sig)
            return true;
    return false;
}

int reap_signal_adopted(int sig)
{
    pid_t *pids;
    int n = reap_adopted(&pids);

    /*
     * No pid here can be reused before we look again: each is our child, alive or a
     * zombie, until this thread reaps it.
     */
    for (int i = 0; i < n; i++) {
        if (already_signalled(pids[i], sig))
            continue;
        log_info("shutdown: %s to adopted process %d", signal_name(sig), (int)pids[i]);
        /* A suspended process would hold SIGTERM pending until the SIGKILL at the deadline. */
        if (sig != SIGKILL)
            kill(pids[i], SIGCONT);
        if (kill(pids[i], sig) != 0 && errno != ESRCH)
            log_warn("kill %d", (int)pids[i]);
        signalled = xreallocarray(signalled, nsignalled + 1, sizeof(*signalled));
        signalled[nsignalled++] = (struct signalled){pids[i], sig};
    }
    free(pids);
    return n;
}

void reap_cleanup(void)
{
    free(signalled);
    signalled = NULL;
    nsignalled = 0;
    if (reap_more != NULL) {
        event_free(reap_more);
        reap_more = NULL;
    }
}
