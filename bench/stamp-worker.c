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
 * Built with -DSTAMP_EXIT_STATUS=N (crash-worker) it exits with status N
 * right after the datagram instead: a worker that crashes at once.
 *
 * For the run-directory supervisors of bench/peers (runit, s6), which exec
 * ./run in the service's directory and pass no per-service environment:
 * without $DROVER_WORKER the slot is the number in that directory's name
 * ("w17" is slot 17), so ./run can be this binary itself (a symlink), with no
 * shell or env(1) between whose exec would be charged to the supervisor. And
 * when the directory has s6's notification-fd file (servicedir(7)), the
 * worker writes the readiness newline s6-supervise waits for to that fd, as an
 * s6-aware daemon would once ready: s6 then restarts a worker that was ready
 * for a second at once, instead of spacing restarts by a second. All of this
 * happens after the stamp, so it is never timed.
 *
 * It is linked statically when the toolchain allows, so that what is measured
 * is droverd's work plus the kernel's exec, not the dynamic loader.
 */
#include <stdint.h>
#include <stdio.h>
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

/* Under runit or s6: the slot from the service directory's name, and s6's readiness. */
static int32_t slot_from_service_dir(void)
{
    char cwd[4096], buf[16] = {0}, *p;
    FILE *f = fopen("notification-fd", "r");
    int fd;

    if (f != NULL) {
        fd = fgets(buf, sizeof(buf), f) != NULL ? atoi(buf) : -1;
        fclose(f);
        if (fd > 2 && write(fd, "\n", 1) == 1)
            close(fd);
    }
    if (getcwd(cwd, sizeof(cwd)) == NULL)
        return -1;
    p = strrchr(cwd, '/');
    p = p != NULL ? p + 1 : cwd;
    while (*p != '\0' && (*p < '0' || *p > '9'))
        p++;
    return *p != '\0' ? (int32_t)atoi(p) : -1;
}

int main(void)
{
    const char *path = getenv("STAMP_SOCKET"), *slot = getenv("DROVER_WORKER");
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    int fd;

    first.pid = (int32_t)getpid();
    first.slot = slot != NULL ? (int32_t)atoi(slot) : slot_from_service_dir();
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
