/* SPDX-License-Identifier: ISC */
/*
 * Force-included (cc -include) when bench/stamp-worker.c is built for the
 * run-directory supervisors (runit, s6). They exec ./run in the service's
 * directory and pass no per-service environment, so the worker's slot comes
 * from that directory's name instead: service "w17" is slot 17. That lets
 * ./run be the worker binary itself (a symlink), with no shell or env(1) in
 * between whose exec would be charged to the supervisor. With
 * $DROVER_WORKER set, it wins, so the same binary serves every supervisor.
 *
 * s6's readiness protocol too: when the service directory has a
 * notification-fd file (s6's servicedir(7)), the worker writes the newline
 * s6-supervise waits for to that fd as soon as it runs, as an s6-aware daemon
 * would once ready. Without it s6-supervise spaces every restart by at least
 * one second; with it, a worker that was ready for a second is restarted at
 * once. runit and the other supervisors never see the file.
 */
#ifndef PEERS_SLOT_FROM_CWD_H
#define PEERS_SLOT_FROM_CWD_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static inline char *peers_getenv(const char *name)
{
    static char slot[16];
    char cwd[4096], *base;
    char *v = (getenv)(name);

    if (v != NULL || strcmp(name, "DROVER_WORKER") != 0)
        return v;
    if (getcwd(cwd, sizeof(cwd)) == NULL)
        return NULL;
    base = strrchr(cwd, '/');
    base = base != NULL ? base + 1 : cwd;
    while (*base != '\0' && (*base < '0' || *base > '9'))
        base++;
    if (*base == '\0' || strlen(base) >= sizeof(slot))
        return NULL;
    strcpy(slot, base);
    return slot;
}

#define getenv(name) peers_getenv(name)

__attribute__((constructor)) static void peers_notify_ready(void)
{
    char buf[16] = {0};
    FILE *f = fopen("notification-fd", "r");
    int fd;

    if (f == NULL)
        return;
    fd = fgets(buf, sizeof(buf), f) != NULL ? atoi(buf) : -1;
    fclose(f);
    if (fd > 2 && write(fd, "\n", 1) == 1)
        close(fd);
}

#endif
