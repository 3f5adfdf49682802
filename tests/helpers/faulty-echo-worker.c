/* SPDX-License-Identifier: ISC */
/*
 * faulty-echo-worker: a message-mode worker for the routing tests. It echoes
 * every request (through examples/drover_worker.h) unless the request asks
 * it to misbehave:
 *
 *   SLOW<ms>:...  sleep that many milliseconds, then echo
 *   CRASH...    exit(3) at once, without answering
 *   HANG...     never answer (sleep until killed)
 *   GARBAGE...  write bytes that are no valid reply frame
 *   BIG...      write a well-formed reply larger than max_frame
 *   EXTRA...    answer, and send a second reply nobody asked for
 *   CLOSE...    close the work socket and keep running
 *   ONCE:TOKEN:WHAT...  do WHAT only if this is the first worker to see
 *               TOKEN (an O_EXCL file in --once-dir); echo otherwise, so a
 *               retried request is served by the next worker
 *
 * Options:
 *   --delay-ms N     sleep N ms before answering each request
 *   --max-frame N    the pool's max_frame (for BIG and GARBAGE; default 1M)
 *   --count-dir DIR  after each request write the number served so far to DIR/PID
 *   --once-dir DIR   where ONCE tokens live (default $ROUTE_ONCE_DIR)
 *   --ignore-term    ignore SIGTERM (a worker that will not stop while it holds work)
 *   --starts FILE    append this worker's pid to FILE when it starts
 *   --grow-kb N      allocate and touch N KiB more per request, kept (a leak), so
 *                    the worker's memory grows (memory_recycle)
 *   --dribble N      write replies N bytes at a time, 100 us apart, the pieces
 *                    running across replies, so droverd reads them in parts
 *   --check-env FILE CMD [ARGS]: shared mode: check LISTEN_FDS=1, LISTEN_PID
 *                    is our pid, LISTEN_FDNAMES is $DROVER_POOL and fd 3 is
 *                    a listening socket; append "PID ok" or "PID FAIL why"
 *                    to FILE, then exec CMD (the real server)
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "../../examples/drover_worker.h"

static long delay_ms;
static long grow_kb;   /* --grow-kb */
static size_t dribble; /* --dribble */
static size_t max_frame = 1 << 20;
static const char *count_dir;
static const char *once_dir;

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

static void write_all(int fd, const void *buf, size_t len)
{
    const unsigned char *p = buf;

    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            _exit(4); /* drover killed the link: nothing more to do */
        p += n;
        len -= (size_t)n;
    }
}

/*
 * --dribble: write what is queued in pieces of `dribble` bytes, a pause after
 * each; a piece shorter than that waits for the next reply (or goes with the
 * flush drover_worker_next makes before it waits for a request).
 */
static void dribble_out(struct drover_worker *w)
{
    size_t off = 0;

    while (w->out_len - off >= dribble) {
        write_all(w->fd, w->out + off, dribble);
        off += dribble;
        struct timespec ts = {0, 100000L};
        nanosleep(&ts, NULL);
    }
    memmove(w->out, w->out + off, w->out_len - off);
    w->out_len -= off;
}

static void hang(void)
{
    for (;;)
        pause();
}

static void record_count(unsigned long served)
{
    char path[4096], num[32];
    int fd, n;

    if (count_dir == NULL)
        return;
    snprintf(path, sizeof(path), "%s/%d", count_dir, (int)getpid());
    fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0)
        return;
    n = snprintf(num, sizeof(num), "%-20lu\n", served);
    if (pwrite(fd, num, (size_t)n, 0) < 0)
        perror("faulty-echo-worker: count file");
    close(fd);
}

/* --starts FILE: one line per start, so a test can count the workers ever started. */
static void record_start(const char *file)
{
    char line[32];
    int fd = open(file, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    int n = snprintf(line, sizeof(line), "%d\n", (int)getpid());

    if (fd < 0 || write(fd, line, (size_t)n) != n)
        perror(file);
    if (fd >= 0)
        close(fd);
}

static int starts_with(const unsigned char *p, size_t len, const char *word)
{
    size_t wl = strlen(word);

    return len >= wl && memcmp(p, word, wl) == 0;
}

/* ONCE:TOKEN:WHAT: the first worker to claim TOKEN does WHAT. Returns WHAT's offset, or 0. */
static size_t claim_once(const unsigned char *p, size_t len)
{
    const unsigned char *colon;
    char path[4096];
    int fd;

    if (!starts_with(p, len, "ONCE:") || once_dir == NULL)
        return 0;
    colon = memchr(p + 5, ':', len - 5);
    if (colon == NULL)
        return 0;
    snprintf(path, sizeof(path), "%s/%.*s", once_dir, (int)(colon - p - 5), p + 5);
    fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0)
        return 0; /* someone else misbehaved already: serve it */
    close(fd);
    return (size_t)(colon - p) + 1;
}

/* Misbehave as the request says; returns 0 when the request is just to be echoed. */
static int misbehave(struct drover_worker *w, const unsigned char *req, size_t len)
{
    size_t off = 0;

    if (starts_with(req, len, "ONCE:")) {
        off = claim_once(req, len);
        if (off == 0)
            return 0;
    }
    req += off;
    len -= off;
    if (starts_with(req, len, "SLOW")) {
        long ms = 0;
        for (size_t i = 4; i < len && req[i] >= '0' && req[i] <= '9'; i++)
            ms = ms * 10 + (req[i] - '0');
        /* Answer what came before first, so only this request is late. */
        drover_worker_flush(w);
        sleep_ms(ms);
        return 0;
    }
    if (starts_with(req, len, "CRASH"))
        _exit(3);
    if (starts_with(req, len, "HANG"))
        hang();
    if (starts_with(req, len, "CLOSE")) {
        drover_worker_flush(w);
        close(w->fd);
        hang();
    }
    if (starts_with(req, len, "GARBAGE")) {
        /* Length framing: a header claiming 4 GiB; line framing: a line that never ends. */
        size_t n = w->line ? max_frame + 2 : 64;
        unsigned char *junk = malloc(n);
        memset(junk, w->line ? 'g' : 0xff, n);
        drover_worker_flush(w);
        write_all(w->fd, junk, n);
        free(junk);
        hang();
    }
    if (starts_with(req, len, "BIG")) {
        size_t n = max_frame + 1;
        unsigned char *big = malloc(n);
        memset(big, 'b', n);
        drover_worker_flush(w);
        drover_worker_reply(w, big, n);
        drover_worker_flush(w);
        free(big);
        hang();
    }
    if (starts_with(req, len, "EXTRA")) {
        /* The answer and an unasked-for one in one write: drover sees both at once. */
        drover_worker_reply(w, req - off, len + off);
        drover_worker_reply(w, "unsolicited", 11);
        drover_worker_flush(w);
        hang();
    }
    return 0;
}

static int message_worker(void)
{
    struct drover_worker w;
    const unsigned char *req;
    size_t len;
    unsigned long served = 0;
    int rc;

    if (drover_worker_init(&w) != 0)
        return 1;
    while ((rc = drover_worker_next(&w, &req, &len)) == 1) {
        if (misbehave(&w, req, len) != 0)
            break;
        if (delay_ms > 0)
            sleep_ms(delay_ms);
        if (grow_kb > 0) {
            char *leak = malloc((size_t)grow_kb * 1024);
            if (leak != NULL)
                memset(leak, 'm', (size_t)grow_kb * 1024);
        }
        if (drover_worker_reply(&w, req, len) != 0)
            break;
        if (dribble > 0)
            dribble_out(&w);
        record_count(++served);
    }
    drover_worker_free(&w);
    return rc < 0 ? 1 : 0;
}

/* Shared mode: is the environment what the socket-activation convention promises? */
static int check_env(const char *file, char **cmd)
{
    const char *fds = getenv("LISTEN_FDS"), *pid = getenv("LISTEN_PID");
    const char *names = getenv("LISTEN_FDNAMES"), *pool = getenv("DROVER_POOL");
    char why[512] = "";
    int acc = 0, type = 0;
    socklen_t sl = sizeof(acc);
    struct sockaddr_un sun;
    socklen_t sunl = sizeof(sun);
    char line[1200], mine[32];
    int fd, n;

    snprintf(mine, sizeof(mine), "%d", (int)getpid());
    if (fds == NULL || strcmp(fds, "1") != 0)
        snprintf(why, sizeof(why), "LISTEN_FDS=%s", fds ? fds : "(unset)");
    else if (pid == NULL || strcmp(pid, mine) != 0)
        snprintf(why, sizeof(why), "LISTEN_PID=%s but my pid is %d", pid ? pid : "(unset)",
                 (int)getpid());
    else if (names == NULL || pool == NULL || strcmp(names, pool) != 0)
        snprintf(why, sizeof(why), "LISTEN_FDNAMES=%s, DROVER_POOL=%s", names ? names : "(unset)",
                 pool ? pool : "(unset)");
    else if (getsockopt(3, SOL_SOCKET, SO_ACCEPTCONN, &acc, &sl) != 0 || acc != 1)
        snprintf(why, sizeof(why), "fd 3 is not a listening socket (%s)",
                 acc == 0 ? "not listening" : strerror(errno));
    else if ((sl = sizeof(type), getsockopt(3, SOL_SOCKET, SO_TYPE, &type, &sl)) != 0 ||
             type != SOCK_STREAM)
        snprintf(why, sizeof(why), "fd 3 is not a stream socket");
    else if (getsockname(3, (struct sockaddr *)&sun, &sunl) != 0)
        snprintf(why, sizeof(why), "getsockname(3): %s", strerror(errno));
    else if (fcntl(4, F_GETFD) != -1)
        snprintf(why, sizeof(why), "fd 4 is open too");
    if (why[0] == '\0' && sun.sun_family == AF_UNIX)
        n = snprintf(line, sizeof(line), "%d ok %s\n", (int)getpid(), sun.sun_path);
    else if (why[0] == '\0')
        n = snprintf(line, sizeof(line), "%d ok tcp\n", (int)getpid());
    else
        n = snprintf(line, sizeof(line), "%d FAIL %s\n", (int)getpid(), why);
    fd = open(file, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0 || write(fd, line, (size_t)n) != n) {
        perror(file);
        return 1;
    }
    close(fd);
    execv(cmd[0], cmd);
    perror(cmd[0]);
    return 127;
}

int main(int argc, char **argv)
{
    signal(SIGPIPE, SIG_IGN);
    once_dir = getenv("ROUTE_ONCE_DIR");
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--delay-ms") == 0 && i + 1 < argc)
            delay_ms = atol(argv[++i]);
        else if (strcmp(argv[i], "--max-frame") == 0 && i + 1 < argc)
            max_frame = (size_t)atol(argv[++i]);
        else if (strcmp(argv[i], "--count-dir") == 0 && i + 1 < argc)
            count_dir = argv[++i];
        else if (strcmp(argv[i], "--once-dir") == 0 && i + 1 < argc)
            once_dir = argv[++i];
        else if (strcmp(argv[i], "--ignore-term") == 0)
            signal(SIGTERM, SIG_IGN);
        else if (strcmp(argv[i], "--starts") == 0 && i + 1 < argc)
            record_start(argv[++i]);
        else if (strcmp(argv[i], "--grow-kb") == 0 && i + 1 < argc)
            grow_kb = atol(argv[++i]);
        else if (strcmp(argv[i], "--dribble") == 0 && i + 1 < argc)
            dribble = (size_t)atol(argv[++i]);
        else if (strcmp(argv[i], "--check-env") == 0 && i + 2 < argc)
            return check_env(argv[i + 1], argv + i + 2);
        else {
            fprintf(stderr, "usage: faulty-echo-worker [--delay-ms N] [--max-frame N] "
                            "[--count-dir DIR] [--once-dir DIR] [--ignore-term] [--starts FILE] "
                            "[--grow-kb N] [--dribble N] "
                            "| --check-env FILE CMD...\n");
            return 2;
        }
    }
    if (getenv("DROVER_FRAMING") == NULL) {
        fprintf(stderr, "faulty-echo-worker: run me in a message-mode pool\n");
        return 2;
    }
    return message_worker();
}
