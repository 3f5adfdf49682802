/* SPDX-License-Identifier: ISC */
/*
 * Fuzz target for common/proto.c, the control protocol.
 *
 * Input: the bytes a client sends on the control socket. The first eight are
 * a header: it is decoded, encoded back, and checked against every mask of
 * accepted types (the daemon's, the CLI's, and all the others) and several
 * size limits, each verdict compared with proto.h's rules. Then the stream
 * is read the way daemon/control.c reads it (client_read_cb: header check
 * with the daemon's mask and PROTO_MAX_REQUEST, then proto_argv_unpack of
 * the payload), and the whole input is also unpacked as a payload. Every
 * argv unpacked must pack back to the exact bytes it came from, and unpack
 * again to the same argv. Finally the input, cut at its NULs, is packed
 * as the CLI packs a command line.
 */
#include <stdbool.h>
#include <string.h>

#include "fuzz.h"
#include "parse.h"
#include "proto.h"
#include "xmalloc.h"

#define DAEMON_TYPES PROTO_TYPE_BIT(PROTO_COMMAND)
#define CLI_TYPES                                                                                  \
    (PROTO_TYPE_BIT(PROTO_DATA) | PROTO_TYPE_BIT(PROTO_ERROR) | PROTO_TYPE_BIT(PROTO_EXIT))

/* proto.h's rules, in the order it states them. */
static enum proto_check spec_check(const struct proto_header *h, unsigned mask, size_t max)
{
    if (h->version != PROTO_VERSION)
        return PROTO_CHECK_VERSION;
    if (h->type >= 32 || (mask & (1u << h->type)) == 0)
        return PROTO_CHECK_TYPE;
    if (h->flags != 0)
        return PROTO_CHECK_FLAGS;
    if (h->length > max)
        return PROTO_CHECK_LENGTH;
    return PROTO_CHECK_OK;
}

/* Check one header against one mask and limit, with reason buffers of several sizes. */
static enum proto_check check_header(const struct proto_header *h, unsigned mask, size_t max)
{
    static const size_t errszs[] = {1, 2, 16, PARSE_ERR_MAX};
    enum proto_check want = spec_check(h, mask, max);

    FUZZ_CHECK(proto_header_check(h, mask, max, NULL, 0) == want);
    for (size_t i = 0; i < sizeof(errszs) / sizeof(errszs[0]); i++) {
        char *err = xmalloc(errszs[i]); /* exact size, so ASan sees any overrun */
        memset(err, 'x', errszs[i]);
        FUZZ_CHECK(proto_header_check(h, mask, max, err, errszs[i]) == want);
        if (want != PROTO_CHECK_OK) {
            FUZZ_CHECK(memchr(err, '\0', errszs[i]) != NULL);
            FUZZ_CHECK(errszs[i] == 1 || err[0] != '\0');
        }
        free(err);
    }
    return want;
}

/*
 * Unpack a payload and check the argv against it: one argument per NUL, in
 * order, within the limits; then pack(unpack(x)) == x and unpack is stable.
 */
static void check_unpack(const unsigned char *buf, size_t len)
{
    char err[PARSE_ERR_MAX];
    int argc = -1;
    char **argv;
    size_t nuls = 0, off = 0, run = 0, longest = 0;

    err[0] = '\0';
    argv = proto_argv_unpack(buf, len, &argc, err, sizeof(err));
    for (size_t i = 0; i < len; i++) {
        if (buf[i] == '\0') {
            nuls++;
            run = 0;
        } else if (++run > longest) {
            longest = run;
        }
    }
    if (argv == NULL) {
        FUZZ_CHECK(err[0] != '\0');
        /* Refused: empty, unterminated, or over a limit. */
        FUZZ_CHECK(len == 0 || buf[len - 1] != '\0' || nuls > PROTO_MAX_ARGS ||
                   longest > PROTO_MAX_ARG);
        return;
    }
    FUZZ_CHECK(len > 0 && buf[len - 1] == '\0');
    FUZZ_CHECK(argc >= 1 && (size_t)argc == nuls && argc <= PROTO_MAX_ARGS);
    FUZZ_CHECK(longest <= PROTO_MAX_ARG);
    FUZZ_CHECK(argv[argc] == NULL);
    for (int i = 0; i < argc; i++) {
        size_t n = strlen(argv[i]);
        FUZZ_CHECK(n <= PROTO_MAX_ARG);
        FUZZ_CHECK(off + n < len && memcmp(argv[i], buf + off, n + 1) == 0);
        off += n + 1;
    }
    FUZZ_CHECK(off == len);

    unsigned char *packed = NULL;
    size_t plen = proto_argv_pack(argc, argv, &packed);
    if (len <= PROTO_MAX_REQUEST) {
        FUZZ_CHECK(plen == len && packed != NULL && memcmp(packed, buf, len) == 0);
        int argc2 = -1;
        char **again = proto_argv_unpack(packed, plen, &argc2, err, sizeof(err));
        FUZZ_CHECK(again != NULL && argc2 == argc);
        for (int i = 0; i < argc; i++)
            FUZZ_CHECK(strcmp(again[i], argv[i]) == 0);
        FUZZ_CHECK(again[argc] == NULL);
        free_strv(again);
    } else {
        /* The CLI cannot send what the daemon would refuse to buffer. */
        FUZZ_CHECK(plen == 0 && packed == NULL);
    }
    free(packed);
    free_strv(argv);
}

/*
 * The input cut at its NULs into an argv (the last piece too, up to 70 of
 * them), as the CLI would pack its command line: packed exactly when within
 * the limits, and then unpacked to the same argv.
 */
static void check_pack(const unsigned char *data, size_t size)
{
    char *argv[71];
    int argc = 0;
    size_t total = 0, longest = 0, start = 0;

    for (size_t i = 0; i <= size && argc < 70; i++) {
        if (i == size || data[i] == '\0') {
            size_t n = i - start;
            argv[argc] = xstrndup((const char *)data + start, n);
            argc++;
            total += n + 1;
            longest = n > longest ? n : longest;
            start = i + 1;
        }
    }
    argv[argc] = NULL;

    unsigned char *packed = (unsigned char *)"not set";
    size_t len = proto_argv_pack(argc, argv, &packed);
    if (argc > PROTO_MAX_ARGS || longest > PROTO_MAX_ARG || total > PROTO_MAX_REQUEST) {
        FUZZ_CHECK(len == 0 && packed == NULL);
    } else {
        char err[PARSE_ERR_MAX];
        int argc2 = -1;
        FUZZ_CHECK(len == total && packed != NULL);
        char **back = proto_argv_unpack(packed, len, &argc2, err, sizeof(err));
        FUZZ_CHECK(back != NULL && argc2 == argc);
        for (int i = 0; i < argc; i++)
            FUZZ_CHECK(strcmp(back[i], argv[i]) == 0);
        free_strv(back);
        free(packed);
    }
    /* Nothing to pack is refused too. */
    packed = (unsigned char *)"not set";
    FUZZ_CHECK(proto_argv_pack(0, argv, &packed) == 0 && packed == NULL);
    for (int i = 0; i < argc; i++)
        free(argv[i]);
}

/* control.c's client_read_cb, without the socket: what the daemon does with these bytes. */
static void daemon_read(const unsigned char *data, size_t size)
{
    struct proto_header h;

    if (size < PROTO_HEADER_SIZE)
        return; /* waits for more */
    proto_header_decode(data, &h);
    if (check_header(&h, DAEMON_TYPES, PROTO_MAX_REQUEST) != PROTO_CHECK_OK)
        return; /* refused (a version mismatch gets an answer first) */
    FUZZ_CHECK(h.length <= PROTO_MAX_REQUEST);
    if (size - PROTO_HEADER_SIZE < h.length)
        return; /* waits for more */
    check_unpack(data + PROTO_HEADER_SIZE, h.length);
}

static void check_header_bytes(const unsigned char *bytes)
{
    static const size_t maxes[] = {
        0, 1, PROTO_MAX_REQUEST, PROTO_MAX_FRAME, UINT32_MAX - 1, UINT32_MAX, SIZE_MAX};
    struct proto_header h, made;
    unsigned char back[PROTO_HEADER_SIZE];

    proto_header_decode(bytes, &h);
    proto_header_encode(back, &h);
    FUZZ_CHECK(memcmp(back, bytes, sizeof(back)) == 0);

    for (unsigned mask = 0; mask < 32; mask++)
        check_header(&h, mask, h.length);
    check_header(&h, CLI_TYPES, PROTO_MAX_FRAME);
    check_header(&h, UINT32_MAX, h.length > 0 ? h.length - 1 : 0);
    for (size_t i = 0; i < sizeof(maxes) / sizeof(maxes[0]); i++)
        check_header(&h, DAEMON_TYPES | CLI_TYPES, maxes[i]);

    /* A header this side makes is one the other side accepts. */
    if (h.type >= PROTO_COMMAND && h.type <= PROTO_EXIT) {
        proto_header_make(&made, (enum proto_type)h.type, h.length);
        FUZZ_CHECK(check_header(&made, 1u << h.type, h.length) == PROTO_CHECK_OK);
        proto_header_encode(back, &made);
        FUZZ_CHECK(memcmp(back, bytes, 6) == 0 && back[6] == PROTO_VERSION && back[7] == 0);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size >= PROTO_HEADER_SIZE)
        check_header_bytes(data);
    daemon_read(data, size);
    check_unpack(data, size);
    check_pack(data, size);
    return 0;
}
