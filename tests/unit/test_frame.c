/* SPDX-License-Identifier: ISC */
/*
 * Unit tests for common/frame.c: the work framings (4-byte big-endian
 * length, line) and the client reply decoder for both.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "frame.h"

/* The two framings, as frame_reply_decode numbers them (enum framing). */
#define LENGTH 0
#define LINE   1

static const struct frame UNTOUCHED = {111, 222, 333};

static void frame_untouched(const struct frame *f)
{
    assert_int_equal(f->frame_len, UNTOUCHED.frame_len);
    assert_int_equal(f->body_off, UNTOUCHED.body_off);
    assert_int_equal(f->body_len, UNTOUCHED.body_len);
}

/* --- length framing ----------------------------------------------------- */

static void test_length_encode(void **state)
{
    unsigned char hdr[FRAME_LENGTH_HEADER];
    static const unsigned char want[] = {0x01, 0x02, 0x03, 0x04};
    static const unsigned char zero[] = {0, 0, 0, 0};
    static const unsigned char max[] = {0xFF, 0xFF, 0xFF, 0xFF};

    (void)state;
    frame_length_encode(hdr, 0x01020304);
    assert_memory_equal(hdr, want, 4);
    frame_length_encode(hdr, 0);
    assert_memory_equal(hdr, zero, 4);
    frame_length_encode(hdr, 0xFFFFFFFFu);
    assert_memory_equal(hdr, max, 4);
}

static void test_length_decode_incomplete_header(void **state)
{
    static const unsigned char buf[] = {0, 0, 0, 5, 'h', 'e', 'l', 'l', 'o'};
    struct frame f = UNTOUCHED;

    (void)state;
    for (size_t len = 0; len < FRAME_LENGTH_HEADER; len++) {
        assert_int_equal(frame_length_decode(buf, len, 100, &f), FRAME_INCOMPLETE);
        frame_untouched(&f);
    }
}

static void test_length_decode_incomplete_body(void **state)
{
    static const unsigned char buf[] = {0, 0, 0, 5, 'h', 'e', 'l', 'l', 'o'};
    struct frame f = UNTOUCHED;

    (void)state;
    for (size_t len = FRAME_LENGTH_HEADER; len < sizeof(buf); len++) {
        assert_int_equal(frame_length_decode(buf, len, 100, &f), FRAME_INCOMPLETE);
        frame_untouched(&f);
    }
}

static void test_length_decode_exact(void **state)
{
    static const unsigned char buf[] = {0, 0, 0, 5, 'h', 'e', 'l', 'l', 'o', 0, 0};
    struct frame f = UNTOUCHED;

    (void)state;
    assert_int_equal(frame_length_decode(buf, 9, 100, &f), FRAME_OK);
    assert_int_equal(f.frame_len, 9);
    assert_int_equal(f.body_off, 4);
    assert_int_equal(f.body_len, 5);
    assert_memory_equal(buf + f.body_off, "hello", 5);
    /* Bytes of the next frame after it do not change this one. */
    f = UNTOUCHED;
    assert_int_equal(frame_length_decode(buf, sizeof(buf), 100, &f), FRAME_OK);
    assert_int_equal(f.frame_len, 9);
    assert_int_equal(f.body_len, 5);
    /* A body exactly at the limit is accepted. */
    f = UNTOUCHED;
    assert_int_equal(frame_length_decode(buf, 9, 5, &f), FRAME_OK);
    assert_int_equal(f.body_len, 5);
}

static void test_length_decode_empty(void **state)
{
    static const unsigned char buf[] = {0, 0, 0, 0, 0, 0, 0, 1, 'x'};
    struct frame f = UNTOUCHED;

    (void)state;
    assert_int_equal(frame_length_decode(buf, sizeof(buf), 100, &f), FRAME_OK);
    assert_int_equal(f.frame_len, 4);
    assert_int_equal(f.body_off, 4);
    assert_int_equal(f.body_len, 0);
    /* The next frame starts right after. */
    assert_int_equal(frame_length_decode(buf + 4, sizeof(buf) - 4, 100, &f), FRAME_OK);
    assert_int_equal(f.frame_len, 5);
    assert_int_equal(f.body_len, 1);
}

static void test_length_decode_too_big(void **state)
{
    static const unsigned char buf[] = {0, 0, 0, 6, 'h', 'e', 'l', 'l', 'o', '!'};
    static const unsigned char huge[] = {0xFF, 0xFF, 0xFF, 0xFF};
    struct frame f = UNTOUCHED;

    (void)state;
    /* Known from the header alone: no need to wait for the body. */
    assert_int_equal(frame_length_decode(buf, 4, 5, &f), FRAME_TOO_BIG);
    /* The length the header announced is given, for the error; nothing else. */
    assert_int_equal(f.body_len, 6);
    assert_int_equal(f.frame_len, UNTOUCHED.frame_len);
    assert_int_equal(f.body_off, UNTOUCHED.body_off);
    f.body_len = 0;
    assert_int_equal(frame_length_decode(buf, sizeof(buf), 5, &f), FRAME_TOO_BIG);
    assert_int_equal(f.body_len, 6);
    assert_int_equal(frame_length_decode(huge, 4, 1024 * 1024, &f), FRAME_TOO_BIG);
    assert_int_equal(f.body_len, 0xFFFFFFFFu);
    assert_int_equal(frame_length_decode(buf, 5, 0, &f), FRAME_TOO_BIG);
    assert_int_equal(f.body_len, 6);
    f = UNTOUCHED;
    /* The largest length with an unbounded max is simply incomplete. */
    assert_int_equal(frame_length_decode(huge, 4, SIZE_MAX, &f), FRAME_INCOMPLETE);
    frame_untouched(&f);
}

static void test_length_round_trip(void **state)
{
    unsigned char buf[4 + 300];
    struct frame f;

    (void)state;
    frame_length_encode(buf, 300);
    memset(buf + 4, 'z', 300);
    assert_int_equal(frame_length_decode(buf, sizeof(buf), 300, &f), FRAME_OK);
    assert_int_equal(f.body_len, 300);
    assert_int_equal(f.frame_len, sizeof(buf));
}

/* --- line framing ------------------------------------------------------- */

static enum frame_result line(const char *s, size_t max, struct frame *f)
{
    return frame_line_decode((const unsigned char *)s, strlen(s), max, f);
}

static void test_line_decode(void **state)
{
    struct frame f = UNTOUCHED;

    (void)state;
    assert_int_equal(line("abc\n", 100, &f), FRAME_OK);
    assert_int_equal(f.body_off, 0);
    assert_int_equal(f.body_len, 3);
    assert_int_equal(f.frame_len, 4);
    /* Only the first of several lines. */
    f = UNTOUCHED;
    assert_int_equal(line("ab\ncd\n", 100, &f), FRAME_OK);
    assert_int_equal(f.body_len, 2);
    assert_int_equal(f.frame_len, 3);
    /* A '\r' before the newline is part of the body: framing is byte-exact. */
    f = UNTOUCHED;
    assert_int_equal(line("abc\r\n", 100, &f), FRAME_OK);
    assert_int_equal(f.body_len, 4);
    assert_int_equal(f.frame_len, 5);
}

static void test_line_decode_empty_line(void **state)
{
    struct frame f = UNTOUCHED;

    (void)state;
    assert_int_equal(line("\n", 100, &f), FRAME_OK);
    assert_int_equal(f.body_off, 0);
    assert_int_equal(f.body_len, 0);
    assert_int_equal(f.frame_len, 1);
    f = UNTOUCHED;
    assert_int_equal(line("\nrest", 0, &f), FRAME_OK);
    assert_int_equal(f.body_len, 0);
    assert_int_equal(f.frame_len, 1);
}

static void test_line_decode_no_newline(void **state)
{
    struct frame f = UNTOUCHED;

    (void)state;
    assert_int_equal(line("", 100, &f), FRAME_INCOMPLETE);
    assert_int_equal(line("abc", 100, &f), FRAME_INCOMPLETE);
    /* Exactly max bytes without a newline may still become a valid line. */
    assert_int_equal(line("abc", 3, &f), FRAME_INCOMPLETE);
    frame_untouched(&f);
}

static void test_line_decode_unbounded(void **state)
{
    struct frame f = UNTOUCHED;

    (void)state;
    /* SIZE_MAX means "no limit": max + 1 must not wrap around to 0. */
    assert_int_equal(line("abc\n", SIZE_MAX, &f), FRAME_OK);
    assert_int_equal(f.body_len, 3);
    assert_int_equal(line("abc", SIZE_MAX, &f), FRAME_INCOMPLETE);
}

static void test_line_decode_too_long(void **state)
{
    struct frame f = UNTOUCHED;

    (void)state;
    /* A line of exactly max bytes is accepted... */
    assert_int_equal(line("abc\n", 3, &f), FRAME_OK);
    assert_int_equal(f.body_len, 3);
    /* ...one byte more is too long, with or without its newline yet. */
    f = UNTOUCHED;
    assert_int_equal(line("abcd\n", 3, &f), FRAME_TOO_BIG);
    assert_int_equal(line("abcd", 3, &f), FRAME_TOO_BIG);
    assert_int_equal(line("abcdefghijklmnop", 3, &f), FRAME_TOO_BIG);
    assert_int_equal(line("a", 0, &f), FRAME_TOO_BIG);
    frame_untouched(&f);
}

/* --- replies ------------------------------------------------------------ */

static enum frame_result reply_len(const void *buf, size_t len, size_t max, struct frame_reply *r,
                                   size_t *consumed)
{
    return frame_reply_decode(LENGTH, buf, len, max, r, consumed);
}

static enum frame_result reply_line(const char *s, size_t max, struct frame_reply *r,
                                    size_t *consumed)
{
    return frame_reply_decode(LINE, (const unsigned char *)s, strlen(s), max, r, consumed);
}

static void test_reply_length_ok(void **state)
{
    static const unsigned char buf[] = {0, 0, 0, 6, '+', 'h', 'e', 'l', 'l', 'o', 0xEE};
    struct frame_reply r;
    size_t consumed = 999;

    (void)state;
    assert_int_equal(reply_len(buf, sizeof(buf), 100, &r, &consumed), FRAME_OK);
    assert_int_equal(r.status, FRAME_STATUS_OK);
    assert_int_equal(r.payload_len, 5);
    assert_ptr_equal(r.payload, buf + 5);
    assert_memory_equal(r.payload, "hello", 5);
    assert_int_equal(consumed, 10);
}

static void test_reply_length_error(void **state)
{
    static const char text[] = "-BUSY queue is full";
    unsigned char buf[4 + sizeof(text) - 1];
    struct frame_reply r;
    size_t consumed = 999;

    (void)state;
    frame_length_encode(buf, sizeof(text) - 1);
    memcpy(buf + 4, text, sizeof(text) - 1);
    assert_int_equal(reply_len(buf, sizeof(buf), 100, &r, &consumed), FRAME_OK);
    assert_int_equal(r.status, FRAME_STATUS_ERROR);
    assert_int_equal(r.payload_len, sizeof(text) - 2);
    assert_memory_equal(r.payload, "BUSY queue is full", r.payload_len);
    assert_int_equal(consumed, sizeof(buf));
}

static void test_reply_length_status_only(void **state)
{
    static const unsigned char buf[] = {0, 0, 0, 1, '+'};
    struct frame_reply r;
    size_t consumed = 999;

    (void)state;
    assert_int_equal(reply_len(buf, sizeof(buf), 100, &r, &consumed), FRAME_OK);
    assert_int_equal(r.status, '+');
    assert_int_equal(r.payload_len, 0);
    assert_int_equal(consumed, 5);
}

static void test_reply_length_bad(void **state)
{
    static const unsigned char empty[] = {0, 0, 0, 0};
    static const unsigned char status[] = {0, 0, 0, 3, '?', 'o', 'k'};
    static const unsigned char nul[] = {0, 0, 0, 1, 0};
    struct frame_reply r;
    size_t consumed = 999;

    (void)state;
    assert_int_equal(reply_len(empty, sizeof(empty), 100, &r, &consumed), FRAME_BAD);
    assert_int_equal(reply_len(status, sizeof(status), 100, &r, &consumed), FRAME_BAD);
    assert_int_equal(reply_len(nul, sizeof(nul), 100, &r, &consumed), FRAME_BAD);
    assert_int_equal(consumed, 999);
}

static void test_reply_length_incomplete_and_too_big(void **state)
{
    static const unsigned char buf[] = {0, 0, 0, 6, '+', 'h', 'e', 'l', 'l', 'o'};
    struct frame_reply r;
    size_t consumed = 999;

    (void)state;
    assert_int_equal(reply_len(buf, 3, 100, &r, &consumed), FRAME_INCOMPLETE);
    assert_int_equal(reply_len(buf, 9, 100, &r, &consumed), FRAME_INCOMPLETE);
    /* max bounds the payload; the status byte comes on top. */
    assert_int_equal(reply_len(buf, sizeof(buf), 5, &r, &consumed), FRAME_OK);
    assert_int_equal(r.payload_len, 5);
    consumed = 999;
    assert_int_equal(reply_len(buf, sizeof(buf), 4, &r, &consumed), FRAME_TOO_BIG);
    assert_int_equal(reply_len(buf, 4, 4, &r, &consumed), FRAME_TOO_BIG);
    assert_int_equal(consumed, 999);
}

static void test_reply_line(void **state)
{
    struct frame_reply r;
    size_t consumed = 999;
    const char *s = "+hello\n-FAILED worker died\n";

    (void)state;
    assert_int_equal(reply_line(s, 100, &r, &consumed), FRAME_OK);
    assert_int_equal(r.status, '+');
    assert_int_equal(r.payload_len, 5);
    assert_memory_equal(r.payload, "hello", 5);
    assert_int_equal(consumed, 7);
    assert_int_equal(reply_line(s + consumed, 100, &r, &consumed), FRAME_OK);
    assert_int_equal(r.status, '-');
    assert_int_equal(r.payload_len, strlen("FAILED worker died"));
    assert_memory_equal(r.payload, "FAILED worker died", r.payload_len);
    assert_int_equal(consumed, strlen("-FAILED worker died\n"));
    /* A status byte alone. */
    assert_int_equal(reply_line("-\n", 100, &r, &consumed), FRAME_OK);
    assert_int_equal(r.status, '-');
    assert_int_equal(r.payload_len, 0);
    assert_int_equal(consumed, 2);
}

static void test_reply_unbounded(void **state)
{
    static const unsigned char buf[] = {0, 0, 0, 3, '+', 'o', 'k'};
    struct frame_reply r;
    size_t consumed = 999;

    (void)state;
    /* SIZE_MAX means "no limit" in both framings (max + 1 must not wrap). */
    assert_int_equal(reply_len(buf, sizeof(buf), SIZE_MAX, &r, &consumed), FRAME_OK);
    assert_int_equal(consumed, sizeof(buf));
    consumed = 999;
    assert_int_equal(reply_line("+ok\n", SIZE_MAX, &r, &consumed), FRAME_OK);
    assert_int_equal(consumed, 4);
}

static void test_reply_line_bad(void **state)
{
    struct frame_reply r;
    size_t consumed = 999;

    (void)state;
    assert_int_equal(reply_line("\n", 100, &r, &consumed), FRAME_BAD);
    assert_int_equal(reply_line("hello\n", 100, &r, &consumed), FRAME_BAD);
    assert_int_equal(reply_line(" +hello\n", 100, &r, &consumed), FRAME_BAD);
    assert_int_equal(consumed, 999);
}

static void test_reply_line_incomplete_and_too_big(void **state)
{
    struct frame_reply r;
    size_t consumed = 999;

    (void)state;
    assert_int_equal(reply_line("", 100, &r, &consumed), FRAME_INCOMPLETE);
    assert_int_equal(reply_line("+hello", 100, &r, &consumed), FRAME_INCOMPLETE);
    /* Payload of exactly max after the status byte is fine; one more is not. */
    assert_int_equal(reply_line("+hello\n", 5, &r, &consumed), FRAME_OK);
    assert_int_equal(r.payload_len, 5);
    consumed = 999;
    assert_int_equal(reply_line("+hello!\n", 5, &r, &consumed), FRAME_TOO_BIG);
    assert_int_equal(reply_line("+hello!", 5, &r, &consumed), FRAME_TOO_BIG);
    assert_int_equal(consumed, 999);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_length_encode),
        cmocka_unit_test(test_length_decode_incomplete_header),
        cmocka_unit_test(test_length_decode_incomplete_body),
        cmocka_unit_test(test_length_decode_exact),
        cmocka_unit_test(test_length_decode_empty),
        cmocka_unit_test(test_length_decode_too_big),
        cmocka_unit_test(test_length_round_trip),
        cmocka_unit_test(test_line_decode),
        cmocka_unit_test(test_line_decode_empty_line),
        cmocka_unit_test(test_line_decode_no_newline),
        cmocka_unit_test(test_line_decode_unbounded),
        cmocka_unit_test(test_line_decode_too_long),
        cmocka_unit_test(test_reply_length_ok),
        cmocka_unit_test(test_reply_length_error),
        cmocka_unit_test(test_reply_length_status_only),
        cmocka_unit_test(test_reply_length_bad),
        cmocka_unit_test(test_reply_length_incomplete_and_too_big),
        cmocka_unit_test(test_reply_line),
        cmocka_unit_test(test_reply_unbounded),
        cmocka_unit_test(test_reply_line_bad),
        cmocka_unit_test(test_reply_line_incomplete_and_too_big),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
