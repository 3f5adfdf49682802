/* SPDX-License-Identifier: ISC */
/*
 * stamp-worker: a worker that tells when it started and then does nothing.
 *
 * Its very first act (a constructor, before main) is to read CLOCK_MONOTONIC;
 * it then sends {time, pid, slot} as one datagram to the Unix socket named by
 * $STAMP_SOCKET (slot = $DROVER_WORKER) and sleeps in pause() until a signal
 * ends it, so a pool of these costs droverd nothing while idle. The
 * benchmark's collector (stamp-collect) compares those times with when it
 * started droverd or killed the previous worker of the slot.
 *
 * Built with -DSTAMP_EXIT_STATUS=N (bench/peers' crash-worker) it exits with
 * status N right after the datagram instead: a worker that crashes at once.
 *
 * It is linked statically when the toolchain allows, so that what is measured
 * is droverd's work plus the kernel's exec, not the dynamic loader.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "stamp.h"

static struct stamp_msg first;

__attribute__((constructor)) static void take_stamp(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    first.mono_ns = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

int main(void)
{
    const char *path = getenv("STAMP_SOCKET"), *slot = getenv("DROVER_WORKER");
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    int fd;

    first.pid = (int32_t)getpid();
    first.slot = slot != NULL ? (int32_t)atoi(slot) : -1;
    if (path != NULL && strlen(path) < sizeof(sun.sun_path)) {
        memcpy(sun.sun_path, path, strlen(path) + 1);
        fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        /* Blocking: with 1024 workers starting at once the collector's queue may be full. */
        if (fd >= 0)
            sendto(fd, &first, sizeof(first), 0, (struct sockaddr *)&sun, sizeof(sun));
        if (fd >= 0)
            close(fd);
    }
#ifdef STAMP_EXIT_STATUS
    return STAMP_EXIT_STATUS;
#else
    for (;;)
        pause();
#endif
}
