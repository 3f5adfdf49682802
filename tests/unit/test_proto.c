/* SPDX-License-Identifier: ISC */
/*
 * Unit tests for common/proto.c: the control protocol header (byte layout,
 * round trip, every rejection), the argv payload with its limits, and the
 * answer to `call` (every field, old and future answers, every rejection).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "parse.h"
#include "proto.h"
#include "xmalloc.h"

static const unsigned ALL_CLIENT_TYPES =
    PROTO_TYPE_BIT(PROTO_DATA) | PROTO_TYPE_BIT(PROTO_ERROR) | PROTO_TYPE_BIT(PROTO_EXIT);

static void test_header_layout(void **state)
{
    struct proto_header h = {.length = 0x01020304, .type = 0x0506, .version = 7, .flags = 8};
    unsigned char buf[PROTO_HEADER_SIZE];
    static const unsigned char want[PROTO_HEADER_SIZE] = {1, 2, 3, 4, 5, 6, 7, 8};

    (void)state;
    assert_int_equal(PROTO_HEADER_SIZE, 8);
    proto_header_encode(buf, &h);
    assert_memory_equal(buf, want, sizeof(want)); /* big-endian, fields in order */
}

static void test_header_round_trip(void **state)
{
    static const struct proto_header cases[] = {
        {0, 0, 0, 0},
        {1, PROTO_COMMAND, PROTO_VERSION, 0},
        {0xFFFFFFFFu, 0xFFFF, 0xFF, 0xFF},
        {0x80000001u, 0x8001, 0x80, 0x01},
        {PROTO_MAX_FRAME, PROTO_EXIT, PROTO_VERSION, 0},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        unsigned char buf[PROTO_HEADER_SIZE];
        struct proto_header back;
        memset(&back, 0xAA, sizeof(back));
        proto_header_encode(buf, &cases[i]);
        proto_header_decode(buf, &back);
        assert_int_equal(back.length, cases[i].length);
        assert_int_equal(back.type, cases[i].type);
        assert_int_equal(back.version, cases[i].version);
        assert_int_equal(back.flags, cases[i].flags);
    }
}

static void test_header_decode_bytes(void **state)
{
    static const unsigned char in[PROTO_HEADER_SIZE] = {0x00, 0x00, 0x01, 0x00,
                                                        0x00, 0x04, 0x01, 0x00};
    struct proto_header h;

    (void)state;
    proto_header_decode(in, &h);
    assert_int_equal(h.length, 256);
    assert_int_equal(h.type, PROTO_EXIT);
    assert_int_equal(h.version, 1);
    assert_int_equal(h.flags, 0);
}

static void test_header_make(void **state)
{
    struct proto_header h;
    unsigned char buf[PROTO_HEADER_SIZE];
    static const unsigned char want[PROTO_HEADER_SIZE] = {0, 0, 0, 42, 0, PROTO_DATA, PROTO_VERSION,
                                                          0};

    (void)state;
    memset(&h, 0xAA, sizeof(h));
    proto_header_make(&h, PROTO_DATA, 42);
    assert_int_equal(h.length, 42);
    assert_int_equal(h.type, PROTO_DATA);
    assert_int_equal(h.version, PROTO_VERSION);
    assert_int_equal(h.flags, 0);
    proto_header_encode(buf, &h);
    assert_memory_equal(buf, want, sizeof(want));
}

static void check_is(const struct proto_header *h, unsigned mask, size_t max, enum proto_check want,
                     const char *msg)
{
    char err[PARSE_ERR_MAX] = "untouched";

    assert_int_equal(proto_header_check(h, mask, max, err, sizeof(err)), want);
    assert_string_equal(err, msg);
}

static void test_header_check_ok(void **state)
{
    struct proto_header h;

    (void)state;
    proto_header_make(&h, PROTO_COMMAND, 10);
    check_is(&h, PROTO_TYPE_BIT(PROTO_COMMAND), PROTO_MAX_REQUEST, PROTO_CHECK_OK, "untouched");
    /* A length exactly at the limit is fine. */
    proto_header_make(&h, PROTO_COMMAND, PROTO_MAX_REQUEST);
    check_is(&h, PROTO_TYPE_BIT(PROTO_COMMAND), PROTO_MAX_REQUEST, PROTO_CHECK_OK, "untouched");
    proto_header_make(&h, PROTO_DATA, 0);
    check_is(&h, ALL_CLIENT_TYPES, PROTO_MAX_FRAME, PROTO_CHECK_OK, "untouched");
    /* No error buffer is fine too. */
    assert_int_equal(proto_header_check(&h, ALL_CLIENT_TYPES, PROTO_MAX_FRAME, NULL, 0),
                     PROTO_CHECK_OK);
}

static void test_header_check_version(void **state)
{
    struct proto_header h;

    (void)state;
    proto_header_make(&h, PROTO_COMMAND, 10);
    h.version = PROTO_VERSION + 1;
    check_is(&h, PROTO_TYPE_BIT(PROTO_COMMAND), PROTO_MAX_REQUEST, PROTO_CHECK_VERSION,
             "protocol version 2, but this side speaks version 1");
    h.version = 0;
    check_is(&h, PROTO_TYPE_BIT(PROTO_COMMAND), PROTO_MAX_REQUEST, PROTO_CHECK_VERSION,
             "protocol version 0, but this side speaks version 1");
    /* The version is judged first: a peer of another version may use other types and flags. */
    h.version = 9;
    h.type = 99;
    h.flags = 1;
    h.length = 0xFFFFFFFFu;
    check_is(&h, PROTO_TYPE_BIT(PROTO_COMMAND), PROTO_MAX_REQUEST, PROTO_CHECK_VERSION,
             "protocol version 9, but this side speaks version 1");
}

static void test_header_check_type(void **state)
{
    struct proto_header h;

    (void)state;
    proto_header_make(&h, PROTO_DATA, 10);
    check_is(&h, PROTO_TYPE_BIT(PROTO_COMMAND), PROTO_MAX_REQUEST, PROTO_CHECK_TYPE,
             "unexpected message type 2");
    proto_header_make(&h, PROTO_COMMAND, 10);
    check_is(&h, ALL_CLIENT_TYPES, PROTO_MAX_FRAME, PROTO_CHECK_TYPE, "unexpected message type 1");
    h.type = 0;
    check_is(&h, ALL_CLIENT_TYPES, PROTO_MAX_FRAME, PROTO_CHECK_TYPE, "unexpected message type 0");
    /* Types past the mask's width are refused, not shifted out of range. */
    h.type = 32;
    check_is(&h, 0xFFFFFFFFu, PROTO_MAX_FRAME, PROTO_CHECK_TYPE, "unexpected message type 32");
    h.type = 0xFFFF;
    check_is(&h, 0xFFFFFFFFu, PROTO_MAX_FRAME, PROTO_CHECK_TYPE, "unexpected message type 65535");
    h.type = 31;
    check_is(&h, 0xFFFFFFFFu, PROTO_MAX_FRAME, PROTO_CHECK_OK, "untouched");
}

static void test_header_check_flags(void **state)
{
    struct proto_header h;

    (void)state;
    proto_header_make(&h, PROTO_COMMAND, 10);
    h.flags = 0x80;
    check_is(&h, PROTO_TYPE_BIT(PROTO_COMMAND), PROTO_MAX_REQUEST, PROTO_CHECK_FLAGS,
             "unknown flags 0x80");
    h.flags = 1;
    check_is(&h, PROTO_TYPE_BIT(PROTO_COMMAND), PROTO_MAX_REQUEST, PROTO_CHECK_FLAGS,
             "unknown flags 0x01");
}

static void test_header_check_length(void **state)
{
    struct proto_header h;

    (void)state;
    proto_header_make(&h, PROTO_COMMAND, PROTO_MAX_REQUEST + 1);
    check_is(&h, PROTO_TYPE_BIT(PROTO_COMMAND), PROTO_MAX_REQUEST, PROTO_CHECK_LENGTH,
             "message of 65537 bytes is over the limit of 65536");
    h.length = 0xFFFFFFFFu;
    check_is(&h, PROTO_TYPE_BIT(PROTO_COMMAND), PROTO_MAX_REQUEST, PROTO_CHECK_LENGTH,
             "message of 4294967295 bytes is over the limit of 65536");
    h.length = 1;
    check_is(&h, PROTO_TYPE_BIT(PROTO_COMMAND), 0, PROTO_CHECK_LENGTH,
             "message of 1 bytes is over the limit of 0");
}

static void test_argv_pack(void **state)
{
    char *argv[] = {"status", "--json", "", "web:1"};
    static const char want[] = "status\0--json\0\0web:1";
    unsigned char *buf = (unsigned char *)"sentinel";
    size_t len;

    (void)state;
    len = proto_argv_pack(4, argv, &buf);
    assert_int_equal(len, sizeof(want));
    assert_non_null(buf);
    assert_memory_equal(buf, want, sizeof(want));
    free(buf);
}

static void test_argv_pack_limits(void **state)
{
    char *argv[PROTO_MAX_ARGS + 1];
    char *big = xmalloc(PROTO_MAX_ARG + 2);
    unsigned char *buf = (unsigned char *)"sentinel";
    size_t len;

    (void)state;
    for (int i = 0; i <= PROTO_MAX_ARGS; i++)
        argv[i] = "x";
    /* No arguments at all. */
    assert_int_equal(proto_argv_pack(0, argv, &buf), 0);
    assert_null(buf);
    buf = (unsigned char *)"sentinel";
    assert_int_equal(proto_argv_pack(-1, argv, &buf), 0);
    assert_null(buf);
    /* Exactly the maximum count, then one more. */
    len = proto_argv_pack(PROTO_MAX_ARGS, argv, &buf);
    assert_int_equal(len, 2 * PROTO_MAX_ARGS);
    free(buf);
    buf = (unsigned char *)"sentinel";
    assert_int_equal(proto_argv_pack(PROTO_MAX_ARGS + 1, argv, &buf), 0);
    assert_null(buf);
    /* One argument exactly at the size limit, then one byte over. */
    memset(big, 'a', PROTO_MAX_ARG);
    big[PROTO_MAX_ARG] = '\0';
    argv[0] = big;
    len = proto_argv_pack(1, argv, &buf);
    assert_int_equal(len, PROTO_MAX_ARG + 1);
    free(buf);
    big[PROTO_MAX_ARG] = 'a';
    big[PROTO_MAX_ARG + 1] = '\0';
    buf = (unsigned char *)"sentinel";
    assert_int_equal(proto_argv_pack(1, argv, &buf), 0);
    assert_null(buf);
    /* Each argument within limits, the whole over PROTO_MAX_REQUEST. */
    big[PROTO_MAX_ARG] = '\0';
    for (int i = 0; i < PROTO_MAX_ARGS; i++)
        argv[i] = big;
    buf = (unsigned char *)"sentinel";
    assert_int_equal(proto_argv_pack(PROTO_MAX_REQUEST / (PROTO_MAX_ARG + 1) + 1, argv, &buf), 0);
    assert_null(buf);
    free(big);
}

static void test_argv_round_trip(void **state)
{
    char *argv[] = {"logs", "web", "-n", "5", "", "-f"};
    unsigned char *buf;
    size_t len = proto_argv_pack(6, argv, &buf);
    char err[PARSE_ERR_MAX] = "";
    int argc = -1;
    char **back;

    (void)state;
    back = proto_argv_unpack(buf, len, &argc, err, sizeof(err));
    assert_non_null(back);
    assert_int_equal(argc, 6);
    for (int i = 0; i < 6; i++)
        assert_string_equal(back[i], argv[i]);
    assert_null(back[6]);
    free_strv(back);
    free(buf);
}

static void unpack_bad(const void *buf, size_t len, const char *msg)
{
    char err[PARSE_ERR_MAX] = "";
    int argc = -1;

    assert_null(proto_argv_unpack(buf, len, &argc, err, sizeof(err)));
    assert_string_equal(err, msg);
    assert_int_equal(argc, -1);
}

static void test_argv_unpack(void **state)
{
    char err[PARSE_ERR_MAX] = "";
    int argc = -1;
    char **v;

    (void)state;
    v = proto_argv_unpack((const unsigned char *)"", 1, &argc, err, sizeof(err));
    assert_non_null(v);
    assert_int_equal(argc, 1);
    assert_string_equal(v[0], "");
    assert_null(v[1]);
    free_strv(v);
    v = proto_argv_unpack((const unsigned char *)"a\0\0b", 5, &argc, err, sizeof(err));
    assert_non_null(v);
    assert_int_equal(argc, 3);
    assert_string_equal(v[0], "a");
    assert_string_equal(v[1], "");
    assert_string_equal(v[2], "b");
    assert_null(v[3]);
    free_strv(v);
}

static void test_argv_unpack_errors(void **state)
{
    unsigned char buf[PROTO_MAX_ARG + 64];

    (void)state;
    unpack_bad("", 0, "empty command");
    unpack_bad("status", 6, "command is not NUL-terminated");
    unpack_bad("status\0web", 10, "command is not NUL-terminated");
    /* PROTO_MAX_ARGS empty arguments are fine, one more is not. */
    memset(buf, 0, sizeof(buf));
    {
        char err[PARSE_ERR_MAX];
        int argc = 0;
        char **v = proto_argv_unpack(buf, PROTO_MAX_ARGS, &argc, err, sizeof(err));
        assert_non_null(v);
        assert_int_equal(argc, PROTO_MAX_ARGS);
        free_strv(v);
    }
    unpack_bad(buf, PROTO_MAX_ARGS + 1, "65 arguments is over the limit of 64");
    /* One argument at the size limit is fine, one byte more is not. */
    memset(buf, 'a', PROTO_MAX_ARG);
    buf[PROTO_MAX_ARG] = '\0';
    {
        char err[PARSE_ERR_MAX];
        int argc = 0;
        char **v = proto_argv_unpack(buf, PROTO_MAX_ARG + 1, &argc, err, sizeof(err));
        assert_non_null(v);
        assert_int_equal(argc, 1);
        assert_int_equal(strlen(v[0]), PROTO_MAX_ARG);
        free_strv(v);
    }
    memset(buf, 0, sizeof(buf));
    buf[0] = 'x';
    memset(buf + 2, 'a', PROTO_MAX_ARG + 1);
    buf[PROTO_MAX_ARG + 3] = '\0';
    unpack_bad(buf, PROTO_MAX_ARG + 4, "argument 1 is over 4096 bytes");
}

static void test_exit_codes(void **state)
{
    (void)state;
    /* The CLI's documented exit statuses (docs/man/drover.1). */
    assert_int_equal(DROVER_EXIT_OK, 0);
    assert_int_equal(DROVER_EXIT_FAILED, 1);
    assert_int_equal(DROVER_EXIT_USAGE, 2);
    assert_int_equal(DROVER_EXIT_UNREACHABLE, 3);
}

static void call_info_is(const char *text, const char *listen, enum framing framing,
                         uint64_t max_frame)
{
    struct proto_call_info ci;
    char err[PARSE_ERR_MAX] = "";

    if (proto_call_info_unpack(text, strlen(text), &ci, err, sizeof(err)) != 0)
        fail_msg("'%s': %s", text, err);
    assert_string_equal(ci.listen, listen);
    assert_int_equal(ci.framing, framing);
    assert_int_equal(ci.max_frame, max_frame);
    proto_call_info_clear(&ci);
    assert_null(ci.listen);
}

static void test_call_info_pack(void **state)
{
    struct proto_call_info ci = {
        .listen = "/run/w.sock", .framing = FRAMING_LINE, .max_frame = 1048576};
    size_t len;
    char *s = proto_call_info_pack(&ci, &len);

    (void)state;
    assert_string_equal(s, "/run/w.sock\nline\n1048576\n");
    assert_int_equal(len, strlen(s));
    free(s);
    ci.listen = "tcp:127.0.0.1:9000";
    ci.framing = FRAMING_LENGTH;
    ci.max_frame = 0;
    s = proto_call_info_pack(&ci, &len);
    assert_string_equal(s, "tcp:127.0.0.1:9000\nlength\n0\n");
    free(s);
}

static void test_call_info_round_trip(void **state)
{
    static const struct proto_call_info cases[] = {
        {"/run/a.sock", FRAMING_LENGTH, 1, false},
        {"/tmp/dir with space/b.sock", FRAMING_LINE, 1048576, false},
        {"tcp:[::1]:80", FRAMING_LINE, UINT64_MAX, true},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        size_t len;
        char *s = proto_call_info_pack(&cases[i], &len);
        struct proto_call_info out;
        char err[128];
        call_info_is(s, cases[i].listen, cases[i].framing, cases[i].max_frame);
        assert_int_equal(proto_call_info_unpack(s, len, &out, err, sizeof(err)), 0);
        assert_int_equal(out.tls, cases[i].tls);
        proto_call_info_clear(&out);
        free(s);
    }
}

static void test_call_info_unpack(void **state)
{
    (void)state;
    call_info_is("/run/w.sock\nlength\n4096\n", "/run/w.sock", FRAMING_LENGTH, 4096);
    call_info_is("/run/w.sock\nline\n0\n", "/run/w.sock", FRAMING_LINE, 0);
    /* An older droverd: two lines, no max_frame. */
    call_info_is("/run/w.sock\nline\n", "/run/w.sock", FRAMING_LINE, 0);
    /* Only the socket: framing length, as the CLI always assumed. */
    call_info_is("/run/w.sock\n", "/run/w.sock", FRAMING_LENGTH, 0);
    call_info_is("/run/w.sock", "/run/w.sock", FRAMING_LENGTH, 0);
    /* The last line without its newline. */
    call_info_is("/run/w.sock\nline\n77", "/run/w.sock", FRAMING_LINE, 77);
    call_info_is("/run/w.sock\nline", "/run/w.sock", FRAMING_LINE, 0);
    /* A newer droverd: lines after the third are for others. */
    call_info_is("/run/w.sock\nlength\n10\nfuture=1\n\nmore\n", "/run/w.sock", FRAMING_LENGTH, 10);
    call_info_is("/run/w.sock\nlength\n10\n\n", "/run/w.sock", FRAMING_LENGTH, 10);
    call_info_is("tcp:0.0.0.0:80\nlength\n18446744073709551615\n", "tcp:0.0.0.0:80", FRAMING_LENGTH,
                 UINT64_MAX);
    /* A TLS listener says so on the fourth line. */
    call_info_is("tcp:0.0.0.0:80\nlength\n10\ntls\n", "tcp:0.0.0.0:80", FRAMING_LENGTH, 10);
}

static void call_info_bad(const void *buf, size_t len, const char *msg)
{
    struct proto_call_info ci = {.listen = (char *)"untouched"};
    char err[PARSE_ERR_MAX] = "";

    assert_int_equal(proto_call_info_unpack(buf, len, &ci, err, sizeof(err)), -1);
    assert_null(ci.listen); /* nothing to free */
    if (strstr(err, msg) == NULL)
        fail_msg("got '%s', want '%s'", err, msg);
}

#define CALL_BAD(s, msg) call_info_bad(s, sizeof(s) - 1, msg)

static void test_call_info_unpack_errors(void **state)
{
    (void)state;
    call_info_bad(NULL, 0, "no listen socket"); /* EXIT 0 without any DATA */
    CALL_BAD("", "no listen socket");
    CALL_BAD("\n", "no listen socket");
    CALL_BAD("\nline\n10\n", "no listen socket");
    CALL_BAD("/run/w.sock\0\nline\n", "not text");
    CALL_BAD("/run/w.sock\nli\0ne\n", "not text");
    CALL_BAD("/run/w.sock\nLINE\n10\n", "unknown framing 'LINE'");
    CALL_BAD("/run/w.sock\nlines\n10\n", "unknown framing 'lines'");
    CALL_BAD("/run/w.sock\n\n10\n", "unknown framing ''");
    CALL_BAD("/run/w.sock\nlength\n\n", "max_frame is not a byte count");
    CALL_BAD("/run/w.sock\nlength\n1M\n", "max_frame '1M' is not a byte count");
    CALL_BAD("/run/w.sock\nlength\n-1\n", "max_frame '-1' is not a byte count");
    CALL_BAD("/run/w.sock\nlength\n 10\n", "max_frame ' 10' is not a byte count");
    CALL_BAD("/run/w.sock\nlength\n18446744073709551616\n",
             "max_frame '18446744073709551616' is not a byte count");
    CALL_BAD("/run/w.sock\nlength\n123456789012345678901234567890\n",
             "max_frame is not a byte count");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_header_layout),
        cmocka_unit_test(test_header_round_trip),
        cmocka_unit_test(test_header_decode_bytes),
        cmocka_unit_test(test_header_make),
        cmocka_unit_test(test_header_check_ok),
        cmocka_unit_test(test_header_check_version),
        cmocka_unit_test(test_header_check_type),
        cmocka_unit_test(test_header_check_flags),
        cmocka_unit_test(test_header_check_length),
        cmocka_unit_test(test_argv_pack),
        cmocka_unit_test(test_argv_pack_limits),
        cmocka_unit_test(test_argv_round_trip),
        cmocka_unit_test(test_argv_unpack),
        cmocka_unit_test(test_argv_unpack_errors),
        cmocka_unit_test(test_exit_codes),
        cmocka_unit_test(test_call_info_pack),
        cmocka_unit_test(test_call_info_round_trip),
        cmocka_unit_test(test_call_info_unpack),
        cmocka_unit_test(test_call_info_unpack_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
