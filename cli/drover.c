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
#include <event2/buffer.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "callconn.h"
#include "cgroupfs.h"
#include "config.h"
#include "frame.h"
#include "log.h"
#include "out.h"
#include "parse.h"
#include "client.h"
#include "proto.h"
#include "top.h"
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
        "  --json             JSON on stdout for scripts (every verb but metrics; errors as\n"
        "                     {\"error\": ..., \"exit\": N}); shapes in docs/json.md\n"
        "  -h, --help         this text\n"
        "  -V, --version      print the version\n"
        "drover's options may come before or after the verb (-sPATH too), until a --.\n"
        "\ncall over TLS (a tcp: pool with tls_cert; droverd tells the CLI, --tls forces it):\n"
        "  --tls-ca FILE      CA certificate(s) that signed droverd's (default: system store)\n"
        "  --tls-cert FILE    client certificate, for a pool with tls_client_ca (with --tls-key)\n"
        "  --tls-key FILE     its private key\n"
        "  --tls-name NAME    the name droverd's certificate must carry (default: the listen IP)\n"
        "\nexit status: 0 done, 1 refused or failed, 2 usage, 3 droverd not reachable,\n"
        "4 call --timeout passed without a reply\n");
}

static int run_check(const struct verb_args *va)
{
    struct config_env env;
    struct config_errors errs = {0};
    const char *path = va->config_file != NULL ? va->config_file : CONFIG_DEFAULT_PATH;
    struct config *cfg;
    unsigned workers = 0;
    struct pool_config *pc;

    config_env_default(&env);
    cfg = config_load(path, &env, &errs);
    /* Limits droverd could not apply from here: probed as droverd would (cgroup.h). */
    if (cfg != NULL) {
        struct cg_probe probe;
        cg_probe_setting(cfg->daemon.cgroup, &probe);
        if (config_check_limits(cfg, &probe, &errs) != 0) {
            config_free(cfg);
            cfg = NULL;
        }
    }
    if (cfg != NULL)
        TAILQ_FOREACH(pc, &cfg->pools, entry)
            workers += pc->nworkers;
    if (va->json) {
        struct evbuffer *buf = evbuffer_new();
        struct json j;
        json_init(&j, buf);
        json_object_begin(&j);
        json_kv_str(&j, "file", cfg != NULL ? cfg->path : path);
        json_kv_bool(&j, "ok", cfg != NULL);
        json_kv_uint(&j, "pools", cfg != NULL ? cfg->npools : 0);
        json_kv_uint(&j, "workers", workers);
        json_kv_array(&j, "errors");
        for (size_t i = 0; i < errs.n; i++) {
            json_object_begin(&j);
            json_kv_str(&j, "file", errs.v[i].file);
            json_kv_uint(&j, "line", errs.v[i].line);
            json_kv_str(&j, "message", errs.v[i].message);
            json_object_end(&j);
        }
        json_array_end(&j);
        json_object_end(&j);
        cli_print_json(buf);
        evbuffer_free(buf);
    } else if (cfg == NULL) {
        char *text = config_errors_format(&errs);
        fputs(text, stderr);
        free(text);
        cli_error("%s: %zu error%s", path, errs.n, errs.n == 1 ? "" : "s");
    } else {
        printf("%s: ok (%u pool%s, %u worker%s)\n", cfg->path, cfg->npools,
               cfg->npools == 1 ? "" : "s", workers, workers == 1 ? "" : "s");
    }
    config_errors_clear(&errs);
    if (cfg == NULL)
        return DROVER_EXIT_FAILED;
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
        cli_error("unexpected answer from droverd");
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
static int call_writable(int fd)
{
    return call_wait(fd, callconn_events(POLLOUT));
}

static int call_write(int fd, const void *buf, size_t len)
{
    return write_all_with(fd, buf, len, callconn_write, call_writable);
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
    cli_error("no reply from pool %s within %s (--timeout); giving up", pool, t);
    return DROVER_EXIT_TIMEOUT;
}

/* Read the one reply and print it: the worker's answer to stdout, drover's error to stderr. */
static int call_read_reply(int wfd, const struct proto_call_info *ci, const char *pool)
{
    size_t cap = 65536, have = 0;
    unsigned char *buf = xmalloc(cap);
    int status;

    for (;;) {
        struct frame_reply reply;
        size_t used;
        enum frame_result fr = frame_reply_decode(ci->framing, buf, have, 256 << 20, &reply, &used);
        if (fr == FRAME_OK) {
            if (reply.status == FRAME_STATUS_OK && cli_json_on()) {
                struct evbuffer *out = evbuffer_new();
                struct json j;
                json_init(&j, out);
                json_object_begin(&j);
                json_kv_str(&j, "pool", pool);
                json_key(&j, "reply");
                json_string_len(&j, (const char *)reply.payload, reply.payload_len);
                json_object_end(&j);
                cli_print_json(out);
                evbuffer_free(out);
                status = DROVER_EXIT_OK;
            } else if (reply.status == FRAME_STATUS_OK) {
                write_all(1, reply.payload, reply.payload_len);
                /* Lines end with a newline; a terminal gets one after any reply. */
                if (ci->framing == FRAMING_LINE ||
                    (isatty(1) &&
                     (reply.payload_len == 0 || reply.payload[reply.payload_len - 1] != '\n')))
                    write_all(1, "\n", 1);
                status = DROVER_EXIT_OK;
            } else {
                cli_error("%.*s", (int)reply.payload_len, reply.payload);
                status = DROVER_EXIT_FAILED;
            }
            break;
        }
        if (fr != FRAME_INCOMPLETE) {
            cli_error("malformed reply from %s", ci->listen);
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
            cli_error("%s closed the connection without a reply", ci->listen);
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
    if (ci.max_frame > 0 && len > ci.max_frame) {
        /* droverd would cut the connection off mid-send ("Broken pipe"): say why first. */
        cli_error("the request is %zu bytes; pool %s takes at most max_frame = %llu bytes", len,
                  va->pos[0], (unsigned long long)ci.max_frame);
        status = DROVER_EXIT_FAILED;
    } else if (ci.framing == FRAMING_LINE && memchr(data, '\n', len) != NULL) {
        cli_error("pool %s uses framing = line: the request must be one line", va->pos[0]);
        status = DROVER_EXIT_USAGE;
    } else if ((wfd = callconn_open(ci.listen, ci.tls || va->tls ? &tls : NULL, call_wait, err,
                                    sizeof(err))) < 0) {
        /* Every wait goes through poll() (call_wait), which keeps the --timeout deadline. */
        cli_error("%s", err);
        status = DROVER_EXIT_FAILED;
    } else {
        if (call_send(wfd, ci.framing, data, len) != 0) {
            if (errno == ETIMEDOUT) {
                status = call_timed_out(va->pos[0]);
            } else {
                cli_error("sending to %s: %s", ci.listen, strerror(errno));
                status = DROVER_EXIT_FAILED;
            }
        } else {
            status = call_read_reply(wfd, &ci, va->pos[0]);
            if (status < 0)
                status = call_timed_out(va->pos[0]);
        }
        callconn_close(wfd);
    }
    free(data);
    proto_call_info_clear(&ci);
    return status;
}

/*
 * Split the command line: drover's own options (-s PATH, -sPATH,
 * --socket[=]PATH, --json) may come before or after the verb, getopt-style,
 * until a "--"; everything else is the verb's, in order. Returns the verb's
 * argc, or -1 after printing help or the version (exit 0) or an error (2).
 */
static int split_args(int argc, char **argv, char **vargv, const char **socket_path, int *exit_now)
{
    int vargc = 0;
    bool json = false, dashdash = false;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (dashdash || a[0] != '-') {
            vargv[vargc++] = argv[i];
            continue;
        }
        if (strcmp(a, "--") == 0) {
            dashdash = true;
            vargv[vargc++] = argv[i];
        } else if (strcmp(a, "-s") == 0 || strcmp(a, "--socket") == 0) {
            if (++i >= argc) {
                cli_error("%s needs a path", a);
                *exit_now = DROVER_EXIT_USAGE;
                return -1;
            }
            *socket_path = argv[i];
        } else if (strncmp(a, "-s", 2) == 0 && a[2] != '\0') {
            *socket_path = a + 2;
        } else if (strncmp(a, "--socket=", 9) == 0) {
            *socket_path = a + 9;
        } else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage(stdout);
            *exit_now = DROVER_EXIT_OK;
            return -1;
        } else if (vargc == 0 && (strcmp(a, "-V") == 0 || strcmp(a, "--version") == 0)) {
            printf("drover %s (control protocol %d)\n", DROVER_VERSION, PROTO_VERSION);
            *exit_now = DROVER_EXIT_OK;
            return -1;
        } else if (strcmp(a, "--json") == 0) {
            json = true;
        } else if (vargc == 0) {
            cli_error("unknown option '%s'", a);
            if (!cli_json_on())
                usage(stderr);
            *exit_now = DROVER_EXIT_USAGE;
            return -1;
        } else {
            vargv[vargc++] = argv[i]; /* the verb's own option */
        }
    }
    if (vargc == 0) {
        if (cli_json_on())
            cli_error("no verb given (see drover --help)");
        else
            usage(stderr);
        *exit_now = DROVER_EXIT_USAGE;
        return -1;
    }
    if (json) { /* right after the verb, so a "--" cannot make it an argument */
        memmove(vargv + 2, vargv + 1, (size_t)(vargc - 1) * sizeof(*vargv));
        vargv[1] = "--json";
        vargc++;
    }
    return vargc;
}

/*
 * drover version: this CLI's version, and the running droverd's when it
 * answers (exit 0 either way: the CLI's version is an answer too).
 */
static int run_version(const char *socket_path, const struct verb_args *va)
{
    char *argv[] = {"version"}, *answer = NULL, daemon_version[64] = "";
    size_t answer_len = 0;
    int fd = connect_unix(socket_path), protocol = 0;

    if (fd >= 0) {
        send_command(fd, 1, argv);
        if (read_reply(fd, &answer, &answer_len, -1) == DROVER_EXIT_OK && answer != NULL &&
            sscanf(answer, "droverd %63s (control protocol %d)", daemon_version, &protocol) != 2)
            daemon_version[0] = '\0';
        close(fd);
        free(answer);
    }
    if (va->json) {
        struct evbuffer *out = evbuffer_new();
        struct json j;
        json_init(&j, out);
        json_object_begin(&j);
        json_kv_str(&j, "cli_version", DROVER_VERSION);
        json_kv_str(&j, "daemon_version", daemon_version[0] != '\0' ? daemon_version : NULL);
        json_kv_int(&j, "protocol", PROTO_VERSION);
        if (daemon_version[0] != '\0')
            json_kv_int(&j, "daemon_protocol", protocol);
        else
            json_kv_null(&j, "daemon_protocol");
        json_object_end(&j);
        cli_print_json(out);
        evbuffer_free(out);
    } else {
        printf("drover %s (control protocol %d)\n", DROVER_VERSION, PROTO_VERSION);
        if (daemon_version[0] != '\0')
            printf("droverd %s (control protocol %d)\n", daemon_version, protocol);
        else
            printf("droverd: not reachable at %s\n", socket_path);
    }
    cli_errors_forget(); /* a droverd that is not there is part of the answer, not an error */
    return DROVER_EXIT_OK;
}

/* Columns of the terminal on stdout; else $COLUMNS; else 80. */
static unsigned terminal_width(void)
{
    struct winsize ws;
    const char *env = getenv("COLUMNS");
    uint64_t n;

    if (isatty(1) && ioctl(1, TIOCGWINSZ, &ws) == 0 && ws.ws_col >= 20)
        return ws.ws_col;
    if (env != NULL && parse_uint(env, 20, 100000, &n, NULL, 0) == 0)
        return (unsigned)n;
    return 80;
}

int main(int argc, char **argv)
{
    const char *socket_path = getenv("DROVER_SOCKET");
    char default_socket[256], err[PARSE_ERR_MAX];
    struct verb_args va;
    int fd, status, exit_now = DROVER_EXIT_OK;

    signal(SIGPIPE, SIG_IGN);
    log_init("drover", LOG_LEVEL_WARN);
    for (int i = 1; i < argc && strcmp(argv[i], "--") != 0; i++)
        if (strcmp(argv[i], "--json") == 0)
            cli_set_json(true);
    char **vargv = xcalloc((size_t)argc + 2, sizeof(*vargv)); /* + --width */
    int vargc = split_args(argc, argv, vargv, &socket_path, &exit_now);
    if (vargc < 0) {
        free(vargv);
        return cli_finish(exit_now);
    }
    if (verb_parse(vargc, vargv, &va, err, sizeof(err)) != 0) {
        cli_error("%s", err);
        free(vargv);
        return cli_finish(DROVER_EXIT_USAGE);
    }
    if (va.verb->id == VERB_CHECK) {
        status = run_check(&va);
        free(vargv);
        return cli_finish(status);
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
    if (va.verb->id == VERB_TOP) {
        status = top_main(socket_path, va.npos, va.pos);
        free(vargv);
        return cli_finish(status);
    }
    if (va.verb->id == VERB_VERSION) {
        status = run_version(socket_path, &va);
        free(vargv);
        return cli_finish(status);
    }
    if (va.verb->id == VERB_CALL) {
        status = run_call(socket_path, &va);
        free(vargv);
        return cli_finish(status);
    }
    char width_arg[32];
    if (va.verb->flags & VERB_WIDTH && !va.json && !va.wide && va.width == 0) {
        /* droverd cuts the text rows to what this terminal shows. */
        snprintf(width_arg, sizeof(width_arg), "--width=%u", terminal_width());
        memmove(vargv + 2, vargv + 1, (size_t)(vargc - 1) * sizeof(*vargv));
        vargv[1] = width_arg; /* before any "--" */
        vargc++;
    }
    fd = connect_control(socket_path);
    send_command(fd, vargc, vargv);
    if (va.verb->id == VERB_SHUTDOWN && !va.no_wait) {
        /* droverd closing the connection as it exits is the answer; say it in our words. */
        char *said = NULL;
        size_t said_len = 0;
        status = read_reply(fd, &said, &said_len, DROVER_EXIT_OK);
        free(said);
        if (status == DROVER_EXIT_OK) {
            if (va.json)
                printf("{\"stopped\": true}\n");
            else
                printf("droverd stopped\n");
        }
    } else {
        /* logs -f and events -f: droverd shutting down ends the stream, quietly. */
        status = read_reply(fd, NULL, NULL, va.follow ? DROVER_EXIT_OK : -1);
    }
    close(fd);
    free(vargv);
    return cli_finish(status);
}
