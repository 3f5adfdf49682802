/* SPDX-License-Identifier: ISC */
/*
 * Reaping: on SIGCHLD, collect every exited child. Workers go to their
 * slot; anything else is an orphan that was reparented to droverd (as a
 * subreaper, or as PID 1) and is simply reaped so no zombie remains.
 */
#include <errno.h>
#include <sys/wait.h>

#include "droverd.h"
#include "log.h"
#include "pool.h"
#include "reap.h"

void reap_children(void)
{
    /* Signals coalesce: one SIGCHLD may stand for many exits. */
    for (;;) {
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
        } else {
            droverd.orphans_reaped++;
            log_debug("reaped orphan pid %d", (int)pid);
        }
    }
}
