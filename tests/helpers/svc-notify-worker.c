/* SPDX-License-Identifier: ISC */
/*
 * svc-notify-worker GOFILE: a worker for a pool with ready = notify. It
 * waits until GOFILE exists, sends READY=1 to $NOTIFY_SOCKET (the socket
 * droverd gives its workers), then waits for its stop signal. The test
 * holds droverd's own READY=1 back this way, to see that droverd tells
 * systemd it is ready only once every worker is.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    const char *path = getenv("NOTIFY_SOCKET");
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    socklen_t len;
    int fd;

    if (argc != 2) {
        fprintf(stderr, "usage: svc-notify-worker GOFILE\n");
        return 2;
    }
    if (path == NULL || (path[0] != '/' && path[0] != '@') ||
        strlen(path) >= sizeof(sun.sun_path)) {
        fprintf(stderr, "svc-notify-worker: no usable NOTIFY_SOCKET\n");
        return 1;
    }
    /* A test helper may poll: 10 ms steps until the test says go. */
    while (access(argv[1], F_OK) != 0) {
        struct timespec step = {0, 10 * 1000 * 1000};
        nanosleep(&step, NULL);
    }
    memcpy(sun.sun_path, path, strlen(path));
    if (path[0] == '@')
        sun.sun_path[0] = '\0';
    len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(path));
    fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || sendto(fd, "READY=1", 7, 0, (struct sockaddr *)&sun, len) != 7) {
        perror("svc-notify-worker: sendto");
        return 1;
    }
    close(fd);
    printf("svc-notify-worker %d: ready\n", (int)getpid());
    fflush(stdout);
    for (;;)
        pause();
}
