/* SPDX-License-Identifier: ISC */
/*
 * drover: the control client. It checks the command line against the verb
 * table, sends it to droverd over the control socket, prints what comes
 * back, and exits with the status droverd chose. `check` runs here alone;
 * `call` asks droverd where the pool's work socket is, then talks to it.
 *
 * Exit status: enum drover_exit (common/proto.h): 0 done; 1 droverd refused
 * or the action failed; 2 usage; 3 droverd not reachable; 4 `call` got no
 * reply in time.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "callconn.h"
#include "config.h"
#include "frame.h"
#include "log.h"
#include "parse.h"
#include "proto.h"
#include "verbs.h"
#include "xmalloc.h"

#define CONTROL_SYSTEM_SOCKET "/run/drover/drover.sock"

static void usage(FILE *fp)
{
    fprintf(fp, "usage: drover [-s SOCKET] VERB [ARGS] [--json]\n\n");
    verbs_print_help(fp);
    fprintf(
        fp,
        "\noptions:\n"
        "  -s, --socket PATH  droverd's control socket (default: $DROVER_SOCKET, else\n"
        "                     /run/drover/drover.sock as root, $XDG_RUNTIME_DIR/drover.sock\n"
        "                     otherwise, or /run/drover/drover.sock when that one is absent)\n"
        "  -h, --help         this text\n"
        "  -V, --version      print the version\n"
        "\ncall over TLS (a tcp: pool with tls_cert; droverd tells the CLI, --tls forces it):\n"
        "  --tls-ca FILE      CA certificate(s) that signed droverd's (default: system store)\n"
        "  --tls-cert FILE    client certificate, for a pool with tls_client_ca (with --tls-key)\n"
        "  --tls-key FILE     its private key\n"
        "  --tls-name NAME    the name droverd's certificate must carry (default: the listen IP)\n"
        "\nexit status: 0 done, 1 refused or failed, 2 usage, 3 droverd not reachable,\n"
        "4 call --timeout passed without a reply\n");
}

static int call_wait(int fd, short events);

/* Write everything; timed (the `call` work socket, non-blocking): within call --timeout. */
static int write_loop(int fd, const void *buf, size_t len, bool timed)
{
    const char *p = buf;

    while (len > 0) {
        if (timed && call_wait(fd, callconn_events(POLLOUT)) != 0)
            return -1;
        ssize_t n = timed ? callconn_write(fd, p, len) : write(fd, p, len);
        if (n < 0 && (errno == EINTR || (timed && errno == EAGAIN)))
            continue;
        if (n <= 0)
            return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

static int write_all(int fd, const void *buf, size_t len)
{
    return write_loop(fd, buf, len, false);
}

static int read_all(int fd, void *buf, size_t len)
{
    char *p = buf;

    while (len > 0) {
        ssize_t n = read(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return n == 0 ? 0 : -1;
        p += n;
        len -= (size_t)n;
    }
    return 1;
}

static int connect_unix(const char *path)
{
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    int fd;

    if (strlen(path) >= sizeof(sun.sun_path)) {
        errno = ENAMETOOLONG;
        return -1;
    }
    snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) != 0) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    return fd;
}

static int connect_control(const char *path)
{
    int fd = connect_unix(path);

    if (fd < 0) {
        /* Not allowed to open the socket: droverd is there, this user is refused. */
        if (errno == EACCES || errno == EPERM) {
            fprintf(stderr,
                    "drover: permission denied: this user may not use droverd's control socket "
                    "%s (see control_mode and control_group)\n",
                    path);
            exit(DROVER_EXIT_FAILED);
        }
        fprintf(stderr, "drover: cannot reach droverd at %s: %s\n", path, strerror(errno));
        if (errno == ENOENT || errno == ECONNREFUSED)
            fprintf(stderr,
                    "drover: is droverd running? (choose a socket with -s or DROVER_SOCKET)\n");
        exit(DROVER_EXIT_UNREACHABLE);
    }
    return fd;
}

static void send_command(int fd, int argc, char *const argv[])
{
    unsigned char *payload, hdr[PROTO_HEADER_SIZE];
    struct proto_header h;
    size_t len = proto_argv_pack(argc, argv, &payload);

    if (len == 0) {
        fprintf(stderr, "drover: the command is too long\n");
        exit(DROVER_EXIT_USAGE);
    }
    proto_header_make(&h, PROTO_COMMAND, len);
    proto_header_encode(hdr, &h);
    /* A refused client may be cut off before reading all; its reply is still read below. */
    if (write_all(fd, hdr, sizeof(hdr)) != 0 || write_all(fd, payload, len) != 0) {
        if (errno != EPIPE && errno != ECONNRESET) {
            fprintf(stderr, "drover: sending to droverd: %s\n", strerror(errno));
            exit(DROVER_EXIT_UNREACHABLE);
        }
    }
    free(payload);
}

/*
 * Read the reply: DATA to stdout (or into capture), ERROR to stderr, until
 * EXIT. Returns the exit status; eof_status when droverd closes first.
 */
static int read_reply(int fd, char **capture, size_t *capture_len, int eof_status)
{
    for (;;) {
        unsigned char hdr[PROTO_HEADER_SIZE];
        struct proto_header h;
        char err[PARSE_ERR_MAX];
        unsigned char *payload;
        int rc = read_all(fd, hdr, sizeof(hdr));

        if (rc <= 0) {
            if (eof_status >= 0)
                return eof_status;
            fprintf(stderr, "drover: droverd closed the connection without an answer\n");
            return DROVER_EXIT_FAILED;
        }
        proto_header_decode(hdr, &h);
        switch (proto_header_check(&h,
                                   PROTO_TYPE_BIT(PROTO_DATA) | PROTO_TYPE_BIT(PROTO_ERROR) |
                                       PROTO_TYPE_BIT(PROTO_EXIT),
                                   PROTO_MAX_FRAME, err, sizeof(err))) {
        case PROTO_CHECK_OK:
            break;
        case PROTO_CHECK_VERSION:
            /* Another version still says why in an ERROR we can read, if it is small enough. */
            if (h.length <= PROTO_MAX_FRAME)
                break;
            /* fall through */
        default:
            fprintf(stderr, "drover: bad reply from droverd: %s\n", err);
            return DROVER_EXIT_FAILED;
        }
        payload = xmalloc((size_t)h.length + 1);
        if (read_all(fd, payload, h.length) <= 0 && h.length > 0) {
            fprintf(stderr, "drover: droverd closed the connection mid-reply\n");
            free(payload);
            return DROVER_EXIT_FAILED;
        }
        switch (h.type) {
        case PROTO_DATA:
            if (capture != NULL) {
                *capture = xreallocarray(*capture, *capture_len + h.length + 1, 1);
                memcpy(*capture + *capture_len, payload, h.length);
                *capture_len += h.length;
                (*capture)[*capture_len] = '\0';
            } else if (write_all(1, payload, h.length) != 0) {
                free(payload);
                return errno == EPIPE ? DROVER_EXIT_OK
                                      : DROVER_EXIT_FAILED; /* e.g. piped into head */
            }
            break;
        case PROTO_ERROR:
            fputs("drover: ", stderr);
            fwrite(payload, 1, h.length, stderr);
            break;
        case PROTO_EXIT: {
            int status = h.length >= 1 ? payload[0] : DROVER_EXIT_FAILED;
            free(payload);
            return status;
        }
        default:
            break;
        }
        free(payload);
    }
}

static int run_check(const struct verb_args *va)
{
    struct config_env env;
    struct config_errors errs = {0};
    const char *path = va->config_file != NULL ? va->config_file : CONFIG_DEFAULT_PATH;
    struct config *cfg;

    config_env_default(&env);
    cfg = config_load(path, &env, &errs);
    if (cfg == NULL) {
        char *text = config_errors_format(&errs);
        fputs(text, stderr);
        fprintf(stderr, "drover: %s: %zu error%s\n", path, errs.n, errs.n == 1 ? "" : "s");
        free(text);
        config_errors_clear(&errs);
        return DROVER_EXIT_FAILED;
    }
    unsigned workers = 0;
    struct pool_config *pc;
    TAILQ_FOREACH(pc, &cfg->pools, entry)
        workers += pc->nworkers;
    printf("%s: ok (%u pool%s, %u worker%s)\n", cfg->path, cfg->npools, cfg->npools == 1 ? "" : "s",
           workers, workers == 1 ? "" : "s");
    config_free(cfg);
    return DROVER_EXIT_OK;
}

static char *read_stdin(size_t *len_out)
{
    size_t len = 0, cap = 4096;
    char *buf = xmalloc(cap);

    for (;;) {
        ssize_t n;
        if (len == cap)
            buf = xreallocarray(buf, cap *= 2, 1);
        n = read(0, buf + len, cap - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        len += (size_t)n;
    }
    *len_out = len;
    return buf;
}

/* Ask droverd where the pool's work socket is and how it frames (the `call` answer). */
static int call_lookup(const char *socket_path, const char *pool, struct proto_call_info *ci)
{
    char *argv[] = {"call", (char *)pool};
    char *answer = NULL, err[PARSE_ERR_MAX];
    size_t answer_len = 0;
    int fd = connect_control(socket_path), status;

    send_command(fd, 2, argv);
    status = read_reply(fd, &answer, &answer_len, -1);
    close(fd);
    if (status == DROVER_EXIT_OK &&
        proto_call_info_unpack(answer, answer_len, ci, err, sizeof(err)) != 0) {
        fprintf(stderr, "drover: unexpected answer from droverd\n");
        status = DROVER_EXIT_FAILED;
    }
    free(answer);
    return status;
}

/* `call --timeout`: the moment the call gives up (0 = never). */
static uint64_t call_deadline_us, call_timeout_us;

static uint64_t monotonic_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

/* Wait until fd is ready for events, or until the deadline: 0 ready, -1 (ETIMEDOUT) or error. */
static int call_wait(int fd, short events)
{
    if (events == 0)
        return 0; /* TLS already holds what is asked for */
    for (;;) {
        struct pollfd p = {.fd = fd, .events = events};
        uint64_t now;
        int ms = -1, n;

        if (call_deadline_us != 0) {
            now = monotonic_us();
            if (now >= call_deadline_us) {
                errno = ETIMEDOUT;
                return -1;
            }
            ms = (int)((call_deadline_us - now + 999) / 1000);
        }
        n = poll(&p, 1, ms);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -1;
        if (n > 0)
            return 0;
    }
}

/* Write everything before the deadline (droverd may not be reading us). */
static int call_write(int fd, const void *buf, size_t len)
{
    return write_loop(fd, buf, len, true);
}

/* Send one request in the pool's framing. */
static int call_send(int wfd, enum framing framing, const char *data, size_t len)
{
    if (framing == FRAMING_LENGTH) {
        unsigned char hdr[FRAME_LENGTH_HEADER];
        frame_length_encode(hdr, (uint32_t)len);
        return call_write(wfd, hdr, sizeof(hdr)) != 0 || call_write(wfd, data, len) != 0 ? -1 : 0;
    }
    return call_write(wfd, data, len) != 0 || call_write(wfd, "\n", 1) != 0 ? -1 : 0;
}

/* The call gave up at its --timeout. */
static int call_timed_out(const char *pool)
{
    char t[32];

    format_duration(call_timeout_us, t, sizeof(t));
    fprintf(stderr, "drover: no reply from pool %s within %s (--timeout); giving up\n", pool, t);
    return DROVER_EXIT_TIMEOUT;
}

/* Read the one reply and print it: the worker's answer to stdout, drover's error to stderr. */
static int call_read_reply(int wfd, const struct proto_call_info *ci)
{
    size_t cap = 65536, have = 0;
    unsigned char *buf = xmalloc(cap);
    int status;

    for (;;) {
        struct frame_reply reply;
        size_t used;
        enum frame_result fr = frame_reply_decode(ci->framing, buf, have, 256 << 20, &reply, &used);
        if (fr == FRAME_OK) {
            if (reply.status == FRAME_STATUS_OK) {
                write_all(1, reply.payload, reply.payload_len);
                /* Lines end with a newline; a terminal gets one after any reply. */
                if (ci->framing == FRAMING_LINE ||
                    (isatty(1) &&
                     (reply.payload_len == 0 || reply.payload[reply.payload_len - 1] != '\n')))
                    write_all(1, "\n", 1);
                status = DROVER_EXIT_OK;
            } else {
                fprintf(stderr, "drover: %.*s\n", (int)reply.payload_len, reply.payload);
                status = DROVER_EXIT_FAILED;
            }
            break;
        }
        if (fr != FRAME_INCOMPLETE) {
            fprintf(stderr, "drover: malformed reply from %s\n", ci->listen);
            status = DROVER_EXIT_FAILED;
            break;
        }
        if (have == cap)
            buf = xreallocarray(buf, cap *= 2, 1);
        if (call_wait(wfd, callconn_events(POLLIN)) != 0 && errno == ETIMEDOUT) {
            status = -1;
            break;
        }
        ssize_t n = callconn_read(wfd, buf + have, cap - have);
        if (n < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        if (n <= 0) {
            fprintf(stderr, "drover: %s closed the connection without a reply\n", ci->listen);
            status = DROVER_EXIT_FAILED;
            break;
        }
        have += (size_t)n;
    }
    free(buf);
    return status;
}

/* drover call POOL [DATA]: one request through the pool's work socket. */
static int run_call(const char *socket_path, const struct verb_args *va)
{
    struct proto_call_info ci;
    int status = call_lookup(socket_path, va->pos[0], &ci), wfd;
    const struct callconn_tls tls = {
        .ca = va->tls_ca, .cert = va->tls_cert, .key = va->tls_key, .name = va->tls_name};
    char err[PARSE_ERR_MAX + 512];
    char *data;
    size_t len;

    if (status != DROVER_EXIT_OK)
        return status;
    if (va->timeout_us > 0) {
        /* From here on: a pool with no worker must not hold the caller forever. */
        call_timeout_us = va->timeout_us;
        call_deadline_us = monotonic_us() + va->timeout_us;
    }
    if (va->npos >= 2) {
        data = xstrdup(va->pos[1]);
        len = strlen(data);
    } else {
        data = read_stdin(&len);
        if (ci.framing == FRAMING_LINE && len > 0 && data[len - 1] == '\n')
            len--; /* the line's own end; drover adds it back */
    }
    if (ci.framing == FRAMING_LINE && memchr(data, '\n', len) != NULL) {
        fprintf(stderr, "drover: pool %s uses framing = line: the request must be one line\n",
                va->pos[0]);
        status = DROVER_EXIT_USAGE;
    } else if ((wfd = callconn_open(ci.listen, ci.tls || va->tls ? &tls : NULL, call_wait, err,
                                    sizeof(err))) < 0) {
        /* Every wait goes through poll() (call_wait), which keeps the --timeout deadline. */
        fprintf(stderr, "drover: %s\n", err);
        status = DROVER_EXIT_FAILED;
    } else {
        if (call_send(wfd, ci.framing, data, len) != 0) {
            if (errno == ETIMEDOUT) {
                status = call_timed_out(va->pos[0]);
            } else {
                fprintf(stderr, "drover: sending to %s: %s\n", ci.listen, strerror(errno));
                status = DROVER_EXIT_FAILED;
            }
        } else {
            status = call_read_reply(wfd, &ci);
            if (status < 0)
                status = call_timed_out(va->pos[0]);
        }
        callconn_close(wfd);
    }
    free(data);
    proto_call_info_clear(&ci);
    return status;
}

int main(int argc, char **argv)
{
    const char *socket_path = getenv("DROVER_SOCKET");
    char default_socket[256], err[PARSE_ERR_MAX];
    struct verb_args va;
    int i = 1, fd, status;
    bool json_first = false;

    signal(SIGPIPE, SIG_IGN);
    log_init("drover", LOG_LEVEL_WARN);
    for (; i < argc && argv[i][0] == '-'; i++) {
        if (strcmp(argv[i], "-s") == 0 || strcmp(argv[i], "--socket") == 0) {
            if (++i >= argc) {
                fprintf(stderr, "drover: %s needs a path\n", argv[i - 1]);
                return DROVER_EXIT_USAGE;
            }
            socket_path = argv[i];
        } else if (strncmp(argv[i], "--socket=", 9) == 0) {
            socket_path = argv[i] + 9;
        } else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            usage(stdout);
            return DROVER_EXIT_OK;
        } else if (strcmp(argv[i], "-V") == 0 || strcmp(argv[i], "--version") == 0) {
            printf("drover %s (control protocol %d)\n", DROVER_VERSION, PROTO_VERSION);
            return DROVER_EXIT_OK;
        } else if (strcmp(argv[i], "--json") == 0) {
            json_first = true;
        } else {
            fprintf(stderr, "drover: unknown option '%s'\n", argv[i]);
            usage(stderr);
            return DROVER_EXIT_USAGE;
        }
    }
    if (i >= argc) {
        usage(stderr);
        return DROVER_EXIT_USAGE;
    }
    int vargc = argc - i + (json_first ? 1 : 0);
    char **vargv = xcalloc((size_t)vargc + 1, sizeof(*vargv));
    for (int k = 0; k < argc - i; k++)
        vargv[k] = argv[i + k];
    if (json_first)
        vargv[vargc - 1] = "--json";
    if (verb_parse(vargc, vargv, &va, err, sizeof(err)) != 0) {
        fprintf(stderr, "drover: %s\n", err);
        free(vargv);
        return DROVER_EXIT_USAGE;
    }
    if (va.verb->id == VERB_CHECK) {
        status = run_check(&va);
        free(vargv);
        return status;
    }
    if (socket_path == NULL || socket_path[0] == '\0') {
        config_default_control_socket(default_socket, sizeof(default_socket));
        socket_path = default_socket;
        /*
         * A non-root member of control_group has no droverd of its own in
         * $XDG_RUNTIME_DIR; then it means the system one.
         */
        if (access(socket_path, F_OK) != 0 && access(CONTROL_SYSTEM_SOCKET, F_OK) == 0)
            socket_path = CONTROL_SYSTEM_SOCKET;
    }
    if (va.verb->id == VERB_CALL) {
        status = run_call(socket_path, &va);
        free(vargv);
        return status;
    }
    fd = connect_control(socket_path);
    send_command(fd, vargc, vargv);
    /* After `shutdown`, droverd closing the connection is the answer. */
    status = read_reply(fd, NULL, NULL, va.verb->id == VERB_SHUTDOWN ? DROVER_EXIT_OK : -1);
    close(fd);
    free(vargv);
    return status;
}
