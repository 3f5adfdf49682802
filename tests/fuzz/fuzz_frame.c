/* SPDX-License-Identifier: ISC */
/*
 * Fuzz target for common/frame.c, the work framing of message-mode pools.
 *
 * Input: one byte choosing the framing and the size limit, four bytes of a
 * limit, four bytes seeding the chunk sizes, then a byte stream. The stream
 * is decoded by every reader drover has:
 *
 *   - frame_length_decode / frame_line_decode, as workers and the daemon
 *     see frames, and frame_reply_decode, as clients see replies; each call
 *     is checked against the definition of the framing in frame.h;
 *   - in one piece, and again as a stream delivers it, in chunks whose sizes
 *     come from the input, into a linear buffer (the CLI, workclient) and
 *     into an evbuffer of one chain per chunk, decoded by
 *     frame_evbuffer_decode(), and as droverd reads clients and workers
 *     (each chunk decoded in place when the evbuffer is empty, the rest
 *     added to it: drain_scratch).
 *
 * Every reader must find the same frames and stop at the same place; the
 * frames found, encoded again, must give back the bytes they came from.
 */
#include <event2/buffer.h>
#include <stdbool.h>
#include <string.h>

#include "frame.h"
#include "fuzz.h"
#include "scratch.h"
#include "xmalloc.h"

/* Limits worth trying: the edges of every integer type a caller may pass. */
/* clang-format off */
static const size_t limits[] = {
    0, 1, 2, 3, 4, 5, 8, 16, 255, 256, 4096, 65535, 1 << 20, 256 << 20,
    UINT32_MAX - 1, UINT32_MAX, (size_t)UINT32_MAX + 1, SIZE_MAX / 2, SIZE_MAX - 1, SIZE_MAX,
};
/* clang-format on */
#define NLIMITS (sizeof(limits) / sizeof(limits[0]))

/* Workers and the daemon read plain frames; clients read replies (a status byte first). */
enum reader { RD_LENGTH, RD_LINE, RD_REPLY_LENGTH, RD_REPLY_LINE, RD_COUNT };

/* 0 = length, 1 = line, as frame_reply_decode numbers them. */
static int reader_framing(enum reader rd)
{
    return rd == RD_LINE || rd == RD_REPLY_LINE;
}

/* A frame as found in the stream: where it starts, and frame.h's three numbers. */
struct found {
    size_t start, body_off, body_len, frame_len;
};

/* What a reader made of a whole stream: its frames, then why it stopped. */
struct outcome {
    struct found *v;
    size_t n, cap;
    enum frame_result end; /* FRAME_INCOMPLETE: ran out of bytes; else the error */
};

static void outcome_add(struct outcome *o, size_t start, size_t body_off, size_t body_len,
                        size_t frame_len)
{
    if (o->n == o->cap) {
        o->cap = o->cap ? o->cap * 2 : 16;
        o->v = xreallocarray(o->v, o->cap, sizeof(*o->v));
    }
    o->v[o->n++] = (struct found){start, body_off, body_len, frame_len};
}

static void outcome_check_equal(const struct outcome *a, const struct outcome *b)
{
    FUZZ_CHECK(a->n == b->n);
    FUZZ_CHECK(a->end == b->end);
    for (size_t i = 0; i < a->n; i++)
        FUZZ_CHECK(memcmp(&a->v[i], &b->v[i], sizeof(a->v[i])) == 0);
}

/* body_len <= limit + extra, without overflowing (extra is 0 or 1). */
static bool fits(size_t body_len, size_t limit, size_t extra)
{
    return body_len <= limit || body_len - limit <= extra;
}

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/*
 * The framings as frame.h defines them, written for clarity rather than
 * speed. extra widens the limit by one byte: a reply's status byte.
 */
static enum frame_result spec_decode(int framing, const unsigned char *buf, size_t len,
                                     size_t limit, size_t extra, struct frame *f)
{
    if (framing == 0) {
        if (len < FRAME_LENGTH_HEADER)
            return FRAME_INCOMPLETE;
        size_t n = be32(buf);
        if (!fits(n, limit, extra))
            return FRAME_TOO_BIG;
        if (len - FRAME_LENGTH_HEADER < n)
            return FRAME_INCOMPLETE;
        *f = (struct frame){FRAME_LENGTH_HEADER + n, FRAME_LENGTH_HEADER, n};
        return FRAME_OK;
    }
    const unsigned char *nl = memchr(buf, '\n', len);
    if (nl != NULL && fits((size_t)(nl - buf), limit, extra)) {
        *f = (struct frame){(size_t)(nl - buf) + 1, 0, (size_t)(nl - buf)};
        return FRAME_OK;
    }
    /* No end within the limit: too big once more than the limit is here. */
    return fits(len, limit, extra) ? FRAME_INCOMPLETE : FRAME_TOO_BIG;
}

/*
 * One call of the decoder under test at buf, checked against spec_decode.
 * On FRAME_OK, *f describes the frame (for a reply, the frame around it).
 */
static enum frame_result decode_checked(enum reader rd, const unsigned char *buf, size_t len,
                                        size_t limit, struct frame *f)
{
    int framing = reader_framing(rd);
    struct frame got = {0}, want = {0};
    enum frame_result r, expect;

    if (rd == RD_LENGTH || rd == RD_LINE) {
        r = framing == 0 ? frame_length_decode(buf, len, limit, &got)
                         : frame_line_decode(buf, len, limit, &got);
        expect = spec_decode(framing, buf, len, limit, 0, &want);
        FUZZ_CHECK(r == expect);
        if (r == FRAME_OK) {
            FUZZ_CHECK(got.frame_len == want.frame_len);
            FUZZ_CHECK(got.body_off == want.body_off);
            FUZZ_CHECK(got.body_len == want.body_len);
            FUZZ_CHECK(got.frame_len > 0 && got.frame_len <= len);
            FUZZ_CHECK(got.body_off + got.body_len <= got.frame_len);
            FUZZ_CHECK(got.body_len <= limit);
            *f = got;
        }
        return r;
    }

    /* A reply: the status byte comes first and does not count against the limit. */
    struct frame_reply reply;
    size_t consumed = SIZE_MAX;

    memset(&reply, 0xAA, sizeof(reply));
    r = frame_reply_decode(framing, buf, len, limit, &reply, &consumed);
    expect = spec_decode(framing, buf, len, limit, 1, &want);
    if (expect == FRAME_OK && (want.body_len == 0 || (buf[want.body_off] != FRAME_STATUS_OK &&
                                                      buf[want.body_off] != FRAME_STATUS_ERROR)))
        expect = FRAME_BAD;
    FUZZ_CHECK(r == expect);
    if (r == FRAME_OK) {
        FUZZ_CHECK(consumed == want.frame_len);
        FUZZ_CHECK(consumed > 0 && consumed <= len);
        FUZZ_CHECK(reply.status == (char)buf[want.body_off]);
        FUZZ_CHECK(reply.payload == buf + want.body_off + 1);
        FUZZ_CHECK(reply.payload_len == want.body_len - 1);
        FUZZ_CHECK(reply.payload_len <= limit);
        FUZZ_CHECK(reply.payload + reply.payload_len <= buf + consumed);
        *f = want;
    }
    return r;
}

/* Decode everything complete in buf[*pos, len); returns false once the reader gives up. */
static bool drain_linear(enum reader rd, const unsigned char *buf, size_t len, size_t *pos,
                         size_t limit, struct outcome *o)
{
    for (;;) {
        struct frame f;
        enum frame_result r = decode_checked(rd, buf + *pos, len - *pos, limit, &f);

        if (r == FRAME_INCOMPLETE)
            return true;
        if (r != FRAME_OK) {
            o->end = r;
            return false;
        }
        outcome_add(o, *pos, f.body_off, f.body_len, f.frame_len);
        *pos += f.frame_len;
    }
}

/*
 * frame_evbuffer_decode(), which daemon/route.c uses for clients
 * (client_parse) and workers (link_read_replies), on an evbuffer of one
 * chain per chunk; every frame is taken out and compared with the stream.
 */
static bool drain_evbuffer(int framing, struct evbuffer *in, size_t *pos, uint64_t max_frame,
                           const unsigned char *stream, struct outcome *o)
{
    for (;;) {
        struct frame f;
        enum frame_result r;

        if (evbuffer_get_length(in) == 0)
            return true;
        r = frame_evbuffer_decode(in, framing, (size_t)max_frame, &f);
        if (r == FRAME_INCOMPLETE)
            return true;
        if (r != FRAME_OK) {
            o->end = r;
            return false;
        }
        FUZZ_CHECK(f.frame_len <= evbuffer_get_length(in));
        FUZZ_CHECK(f.body_off + f.body_len <= f.frame_len);
        unsigned char *data = xmalloc(f.frame_len);
        FUZZ_CHECK(evbuffer_remove(in, data, f.frame_len) == (int)f.frame_len);
        FUZZ_CHECK(memcmp(data, stream + *pos, f.frame_len) == 0);
        free(data);
        outcome_add(o, *pos, f.body_off, f.body_len, f.frame_len);
        *pos += f.frame_len;
    }
}

/*
 * As droverd reads a worker's replies (link_read_cb, daemon/link.c): a
 * chunk that arrives into an empty evbuffer is decoded where it lies, and
 * only what is left (the start of a frame) is added to the evbuffer; behind
 * up to SCRATCH_HELD_MAX held bytes, they are moved in front of it
 * (scratch_read_after) and the whole decoded the same way; behind more, it
 * is added and decoded there (drain_evbuffer).
 */
static bool drain_scratch(int framing, struct evbuffer *in, const unsigned char *chunk, size_t n,
                          size_t *pos, uint64_t max_frame, const unsigned char *stream,
                          struct outcome *o)
{
    static unsigned char scratch[SCRATCH_HELD_MAX + 4096];
    size_t off = 0, held = evbuffer_get_length(in);

    if (held > SCRATCH_HELD_MAX) {
        evbuffer_add_reference(in, chunk, n, NULL, NULL);
        return drain_evbuffer(framing, in, pos, max_frame, stream, o);
    }
    if (held > 0) {
        FUZZ_CHECK(evbuffer_remove(in, scratch, held) == (int)held);
        memcpy(scratch + held, chunk, n);
        chunk = scratch;
        n += held;
    }
    while (off < n) {
        struct frame f;
        enum frame_result r = framing == 0
                                  ? frame_length_decode(chunk + off, n - off, (size_t)max_frame, &f)
                                  : frame_line_decode(chunk + off, n - off, (size_t)max_frame, &f);
        if (r == FRAME_INCOMPLETE)
            break;
        if (r != FRAME_OK) {
            o->end = r;
            return false;
        }
        FUZZ_CHECK(off + f.frame_len <= n);
        FUZZ_CHECK(memcmp(chunk + off, stream + *pos, f.frame_len) == 0);
        outcome_add(o, *pos, f.body_off, f.body_len, f.frame_len);
        *pos += f.frame_len;
        off += f.frame_len;
    }
    if (off < n)
        evbuffer_add(in, chunk + off, n - off);
    return true;
}

/* The frames found, encoded again, are exactly the bytes they were cut from. */
static void check_reencode(enum reader rd, const unsigned char *stream, const struct outcome *o)
{
    for (size_t i = 0; i < o->n; i++) {
        const struct found *f = &o->v[i];
        const unsigned char *body = stream + f->start + f->body_off;
        if (reader_framing(rd) == 1) {
            FUZZ_CHECK(memchr(body, '\n', f->body_len) == NULL);
            FUZZ_CHECK(body[f->body_len] == '\n');
            continue;
        }
        unsigned char hdr[FRAME_LENGTH_HEADER];
        frame_length_encode(hdr, (uint32_t)f->body_len);
        FUZZ_CHECK(f->body_len <= UINT32_MAX);
        FUZZ_CHECK(memcmp(hdr, stream + f->start, sizeof(hdr)) == 0);
        FUZZ_CHECK(f->frame_len == sizeof(hdr) + f->body_len);
    }
}

static void outcome_free(struct outcome *o)
{
    free(o->v);
}

/* Read the stream with one reader: in one piece, and in chunks by three receivers. */
static void run_reader(enum reader rd, const unsigned char *stream, size_t len, size_t limit,
                       uint32_t seed)
{
    struct outcome whole = {.end = FRAME_INCOMPLETE}, linear = {.end = FRAME_INCOMPLETE};
    struct outcome client = {.end = FRAME_INCOMPLETE}, link = {.end = FRAME_INCOMPLETE};
    size_t pos = 0, lin_pos = 0, client_pos = 0, link_pos = 0, fed = 0;
    bool lin_open = true, client_open = true, link_open = true;
    /* The daemon reads only its own framings, with max_frame as a uint64_t. */
    bool daemon = rd == RD_LENGTH || rd == RD_LINE;
    int framing = reader_framing(rd);
    struct evbuffer *client_in = evbuffer_new(), *link_in = evbuffer_new();

    FUZZ_CHECK(client_in != NULL && link_in != NULL);
    drain_linear(rd, stream, len, &pos, limit, &whole);
    check_reencode(rd, stream, &whole);

    while (fed < len && (lin_open || (daemon && (client_open || link_open)))) {
        uint32_t r = fuzz_rand(&seed);
        static const size_t spans[] = {1, 2, 3, 7, 16, 64, 512, 4096};
        size_t n = 1 + (r >> 8) % spans[r & 7];

        if (n > len - fed)
            n = len - fed;
        fed += n;
        if (lin_open)
            lin_open = drain_linear(rd, stream, fed, &lin_pos, limit, &linear);
        if (daemon && client_open) {
            /* One chain per chunk, so searches cross chain boundaries. */
            evbuffer_add_reference(client_in, stream + fed - n, n, NULL, NULL);
            client_open = drain_evbuffer(framing, client_in, &client_pos, limit, stream, &client);
        }
        if (daemon && link_open)
            link_open = drain_scratch(framing, link_in, stream + fed - n, n, &link_pos, limit,
                                      stream, &link);
    }
    outcome_check_equal(&whole, &linear);
    if (daemon) {
        outcome_check_equal(&whole, &client);
        outcome_check_equal(&whole, &link);
    }
    evbuffer_free(client_in);
    evbuffer_free(link_in);
    outcome_free(&whole);
    outcome_free(&linear);
    outcome_free(&client);
    outcome_free(&link);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fuzz_input in = {data, size};
    uint8_t mode = fuzz_take_u8(&in);
    uint32_t raw_limit = fuzz_take_u32(&in);
    uint32_t seed = fuzz_take_u32(&in);
    /* Low bits: which reader; the rest: a limit from the table, or the raw one. */
    enum reader rd = (enum reader)(mode % RD_COUNT);
    unsigned sel = mode / RD_COUNT;
    size_t limit = sel < NLIMITS ? limits[sel] : (sel & 1 ? raw_limit : raw_limit & 0xFFF);

    run_reader(rd, in.p, in.n, limit, seed);
    return 0;
}
