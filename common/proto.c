/* SPDX-License-Identifier: ISC */
#include "proto.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "keys.h"
#include "parse.h"
#include "xmalloc.h"

void proto_header_encode(unsigned char out[PROTO_HEADER_SIZE], const struct proto_header *h)
{
    out[0] = (unsigned char)(h->length >> 24);
    out[1] = (unsigned char)(h->length >> 16);
    out[2] = (unsigned char)(h->length >> 8);
    out[3] = (unsigned char)h->length;
    out[4] = (unsigned char)(h->type >> 8);
    out[5] = (unsigned char)h->type;
    out[6] = h->version;
    out[7] = h->flags;
}

void proto_header_decode(const unsigned char in[PROTO_HEADER_SIZE], struct proto_header *h)
{
    h->length = (uint32_t)in[0] << 24 | (uint32_t)in[1] << 16 | (uint32_t)in[2] << 8 | in[3];
    h->type = (uint16_t)(in[4] << 8 | in[5]);
    h->version = in[6];
    h->flags = in[7];
}

void proto_header_make(struct proto_header *h, enum proto_type type, size_t len)
{
    h->length = (uint32_t)len;
    h->type = (uint16_t)type;
    h->version = PROTO_VERSION;
    h->flags = 0;
}

enum proto_check proto_header_check(const struct proto_header *h, unsigned types_mask,
                                    size_t max_length, char *err, size_t errsz)
{
    if (h->version != PROTO_VERSION) {
        parse_error(err, errsz, "protocol version %u, but this side speaks version %u", h->version,
                    PROTO_VERSION);
        return PROTO_CHECK_VERSION;
    }
    if (h->type >= 32 || !(types_mask & PROTO_TYPE_BIT(h->type))) {
        parse_error(err, errsz, "unexpected message type %u", h->type);
        return PROTO_CHECK_TYPE;
    }
    if (h->flags != 0) {
        parse_error(err, errsz, "unknown flags 0x%02x", h->flags);
        return PROTO_CHECK_FLAGS;
    }
    if (h->length > max_length) {
        parse_error(err, errsz, "message of %u bytes is over the limit of %zu", h->length,
                    max_length);
        return PROTO_CHECK_LENGTH;
    }
    return PROTO_CHECK_OK;
}

size_t proto_argv_pack(int argc, char *const argv[], unsigned char **out)
{
    size_t len = 0, off = 0;

    *out = NULL;
    if (argc <= 0 || argc > PROTO_MAX_ARGS)
        return 0;
    for (int i = 0; i < argc; i++) {
        size_t n = strlen(argv[i]);
        if (n > PROTO_MAX_ARG)
            return 0;
        len += n + 1;
    }
    if (len > PROTO_MAX_REQUEST)
        return 0;
    *out = xmalloc(len);
    for (int i = 0; i < argc; i++) {
        size_t n = strlen(argv[i]) + 1;
        memcpy(*out + off, argv[i], n);
        off += n;
    }
    return len;
}

char **proto_argv_unpack(const unsigned char *buf, size_t len, int *argc_out, char *err,
                         size_t errsz)
{
    char **argv;
    int argc = 0;
    size_t off = 0;

    if (len == 0) {
        parse_error(err, errsz, "empty command");
        return NULL;
    }
    if (buf[len - 1] != '\0') {
        parse_error(err, errsz, "command is not NUL-terminated");
        return NULL;
    }
    for (size_t i = 0; i < len; i++)
        if (buf[i] == '\0')
            argc++;
    if (argc > PROTO_MAX_ARGS) {
        parse_error(err, errsz, "%d arguments is over the limit of %d", argc, PROTO_MAX_ARGS);
        return NULL;
    }
    argv = xcalloc((size_t)argc + 1, sizeof(*argv));
    for (int i = 0; i < argc; i++) {
        size_t n = strlen((const char *)buf + off);
        if (n > PROTO_MAX_ARG) {
            free_strv(argv);
            parse_error(err, errsz, "argument %d is over %d bytes", i, PROTO_MAX_ARG);
            return NULL;
        }
        argv[i] = xstrndup((const char *)buf + off, n);
        off += n + 1;
    }
    *argc_out = argc;
    return argv;
}

char *proto_call_info_pack(const struct proto_call_info *ci, size_t *len)
{
    char *s;

    *len = (size_t)xasprintf(&s, "%s\n%s\n%llu\n%s", ci->listen, framing_name(ci->framing),
                             (unsigned long long)ci->max_frame, ci->tls ? "tls\n" : "");
    return s;
}

/* The next line of [*at, end): its start and length; false when none is left. */
static bool next_line(const char **at, const char *end, const char **line, size_t *len)
{
    const char *nl;

    if (*at >= end)
        return false;
    nl = memchr(*at, '\n', (size_t)(end - *at));
    *line = *at;
    *len = (size_t)((nl != NULL ? nl : end) - *at);
    *at = nl != NULL ? nl + 1 : end;
    return true;
}

int proto_call_info_unpack(const char *buf, size_t len, struct proto_call_info *out, char *err,
                           size_t errsz)
{
    const char *at, *end, *line;
    size_t n;
    char number[24];
    uint64_t max_frame = 0;
    enum framing framing = FRAMING_LENGTH;

    memset(out, 0, sizeof(*out));
    /* An empty DATA capture is NULL: not even an offset of 0 may be added to it. */
    if (buf == NULL)
        return parse_error(err, errsz, "the answer names no listen socket");
    if (memchr(buf, '\0', len) != NULL)
        return parse_error(err, errsz, "the answer is not text");
    at = buf;
    end = buf + len;
    if (!next_line(&at, end, &line, &n) || n == 0)
        return parse_error(err, errsz, "the answer names no listen socket");
    const char *listen = line;
    size_t listen_len = n;
    if (next_line(&at, end, &line, &n)) {
        if (n == 4 && memcmp(line, "line", 4) == 0)
            framing = FRAMING_LINE;
        else if (n != 6 || memcmp(line, "length", 6) != 0)
            return parse_error(err, errsz, "unknown framing '%.*s'", (int)(n > 32 ? 32 : n), line);
    }
    if (next_line(&at, end, &line, &n)) {
        if (n == 0 || n >= sizeof(number))
            return parse_error(err, errsz, "max_frame is not a byte count");
        memcpy(number, line, n);
        number[n] = '\0';
        if (parse_uint(number, 0, UINT64_MAX, &max_frame, NULL, 0) != 0)
            return parse_error(err, errsz, "max_frame '%s' is not a byte count", number);
    }
    /* A fourth line "tls": the pool's tcp: listener speaks TLS. Unknown lines are for later. */
    if (next_line(&at, end, &line, &n) && n == 3 && memcmp(line, "tls", 3) == 0)
        out->tls = true;
    out->listen = xstrndup(listen, listen_len);
    out->framing = framing;
    out->max_frame = max_frame;
    return 0;
}

void proto_call_info_clear(struct proto_call_info *ci)
{
    free(ci->listen);
    memset(ci, 0, sizeof(*ci));
}
