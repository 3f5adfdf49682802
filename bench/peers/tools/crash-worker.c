/* SPDX-License-Identifier: ISC */
/*
 * crash-worker: a worker that exits at once (status 1), for the crash-loop
 * figure. Like bench/stamp-worker it reads CLOCK_MONOTONIC before main() and
 * sends {time, pid, slot} to $STAMP_SOCKET, so supbench sees every start.
 * Built with slot-from-cwd.h, so it also runs as a runit/s6 ./run.
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
        if (fd >= 0)
            sendto(fd, &first, sizeof(first), 0, (struct sockaddr *)&sun, sizeof(sun));
    }
    return 1;
}
