/* SPDX-License-Identifier: ISC */
/*
 * The CLI's side of the control connection, shared by drover.c and top.c:
 * connect to droverd, send one command, read its framed reply; and the
 * messages for the user, which under --json are gathered into the one JSON
 * document a script reads (docs/json.md). Nothing here knows the verbs.
 */
#include <errno.h>
#include <event2/buffer.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "client.h"
#include "out.h"
#include "parse.h"
#include "proto.h"
#include "xmalloc.h"

/*
 * --json: what a script reads is one JSON document on stdout, errors too
 * (docs/json.md): messages are gathered here and, when the verb failed
 * without printing JSON of its own, printed as {"error": ..., "exit": N}.
 */
static bool cli_json;
static bool cli_wrote_data;
static char *cli_errors;
static size_t cli_errors_len;

static void cli_error_add(const char *msg, size_t len)
{
    while (len > 0 && msg[len - 1] == '\n')
        len--;
    cli_errors = xreallocarray(cli_errors, cli_errors_len + len + 2, 1);
    if (cli_errors_len > 0)
        cli_errors[cli_errors_len++] = '\n';
    memcpy(cli_errors + cli_errors_len, msg, len);
    cli_errors_len += len;
    cli_errors[cli_errors_len] = '\0';
}

/* A message for the user: "drover: ..." on stderr, or kept for the JSON error. */
void cli_error(const char *fmt, ...)
{
    va_list ap;
    char *s;

    va_start(ap, fmt);
    xvasprintf(&s, fmt, ap);
    va_end(ap);
    if (cli_json)
        cli_error_add(s, strlen(s));
    else
        fprintf(stderr, "drover: %s\n", s);
    free(s);
}

/* Print a JSON document built with out.h, and a newline. */
void cli_print_json(struct evbuffer *buf)
{
    fflush(stdout);
    while (evbuffer_get_length(buf) > 0)
        if (evbuffer_write(buf, 1) < 0 && errno != EINTR)
            break;
    cli_wrote_data = true;
}

void cli_errors_forget(void)
{
    free(cli_errors);
    cli_errors = NULL;
    cli_errors_len = 0;
}

/* The exit status, after the JSON error object when --json failed without JSON of its own. */
int cli_finish(int status)
{
    if (!cli_json || status == DROVER_EXIT_OK || cli_errors == NULL)
        return status;
    if (cli_wrote_data) {
        fprintf(stderr, "drover: %s\n", cli_errors);
    } else {
        struct evbuffer *buf = evbuffer_new();
        struct json j;
        json_init(&j, buf);
        json_object_begin(&j);
        json_kv_str(&j, "error", cli_errors);
        json_kv_int(&j, "exit", status);
        json_object_end(&j);
        cli_print_json(buf);
        evbuffer_free(buf);
    }
    cli_errors_forget();
    return status;
}

_Noreturn void cli_exit(int status)
{
    exit(cli_finish(status));
}

void cli_set_json(bool on)
{
    cli_json = on;
}

bool cli_json_on(void)
{
    return cli_json;
}

int write_all_with(int fd, const void *buf, size_t len,
                   ssize_t (*put)(int fd, const void *buf, size_t len), int (*ready)(int fd))
{
    const char *p = buf;

    while (len > 0) {
        if (ready != NULL && ready(fd) != 0)
            return -1;
        ssize_t n = put(fd, p, len);
        if (n < 0 && (errno == EINTR || (ready != NULL && errno == EAGAIN)))
            continue;
        if (n <= 0)
            return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

int write_all(int fd, const void *buf, size_t len)
{
    return write_all_with(fd, buf, len, write, NULL);
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

int connect_unix(const char *path)
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

int connect_control(const char *path)
{
    int fd = connect_unix(path);

    if (fd < 0) {
        /* Not allowed to open the socket: droverd is there, this user is refused. */
        if (errno == EACCES || errno == EPERM) {
            cli_error("permission denied: this user may not use droverd's control socket "
                      "%s (see control_mode and control_group)",
                      path);
            cli_exit(DROVER_EXIT_FAILED);
        }
        cli_error("cannot reach droverd at %s: %s", path, strerror(errno));
        if (errno == ENOENT || errno == ECONNREFUSED)
            cli_error("is droverd running? (choose a socket with -s or DROVER_SOCKET)");
        cli_exit(DROVER_EXIT_UNREACHABLE);
    }
    return fd;
}

void send_command(int fd, int argc, char *const argv[])
{
    unsigned char *payload, hdr[PROTO_HEADER_SIZE];
    struct proto_header h;
    size_t len = proto_argv_pack(argc, argv, &payload);

    if (len == 0) {
        cli_error("the command is too long");
        cli_exit(DROVER_EXIT_USAGE);
    }
    proto_header_make(&h, PROTO_COMMAND, len);
    proto_header_encode(hdr, &h);
    /* A refused client may be cut off before reading all; its reply is still read below. */
    if (write_all(fd, hdr, sizeof(hdr)) != 0 || write_all(fd, payload, len) != 0) {
        if (errno != EPIPE && errno != ECONNRESET) {
            cli_error("sending to droverd: %s", strerror(errno));
            cli_exit(DROVER_EXIT_UNREACHABLE);
        }
    }
    free(payload);
}

/*
 * Read the reply: DATA to stdout (or into capture), ERROR to stderr, until
 * EXIT. Returns the exit status; eof_status when droverd closes first.
 */
int read_reply(int fd, char **capture, size_t *capture_len, int eof_status)
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
            cli_error("droverd closed the connection without an answer");
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
            cli_error("bad reply from droverd: %s", err);
            return DROVER_EXIT_FAILED;
        }
        payload = xmalloc((size_t)h.length + 1);
        if (read_all(fd, payload, h.length) <= 0 && h.length > 0) {
            cli_error("droverd closed the connection mid-reply");
            free(payload);
            return DROVER_EXIT_FAILED;
        }
        switch (h.type) {
        case PROTO_DATA:
            if (capture != NULL) {
                /* A captured answer (call, version) is a few lines: bounded in all, not per
                 * message. */
                if (*capture_len + h.length > PROTO_MAX_FRAME) {
                    cli_error("bad reply from droverd: an answer of over %u bytes",
                              (unsigned)PROTO_MAX_FRAME);
                    free(payload);
                    return DROVER_EXIT_FAILED;
                }
                *capture = xreallocarray(*capture, *capture_len + h.length + 1, 1);
                memcpy(*capture + *capture_len, payload, h.length);
                *capture_len += h.length;
                (*capture)[*capture_len] = '\0';
            } else if ((cli_wrote_data = true, write_all(1, payload, h.length)) != 0) {
                free(payload);
                return errno == EPIPE ? DROVER_EXIT_OK
                                      : DROVER_EXIT_FAILED; /* e.g. piped into head */
            }
            break;
        case PROTO_ERROR:
            if (cli_json) {
                cli_error_add((const char *)payload, h.length);
            } else {
                fputs("drover: ", stderr);
                fwrite(payload, 1, h.length, stderr);
            }
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
