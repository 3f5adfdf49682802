/* SPDX-License-Identifier: ISC */
/*
 * Work framing for message-mode pools (docs/protocol.md is the reference).
 *
 * framing = length: a frame is a 4-byte big-endian length N, then N bytes.
 * framing = line:   a frame is the bytes up to a '\n' (not included).
 *
 * Clients and workers send plain frames. Replies to clients carry one
 * status byte first: '+' and the worker's reply, or '-' and an error
 * "CODE message" where CODE is BUSY, FAILED, TIMEOUT or TOOBIG. In length framing
 * the status byte counts in N; in line framing it starts the line.
 *
 * Everything here is pure: decoders look at bytes and say what they found.
 */
#ifndef DROVER_FRAME_H
#define DROVER_FRAME_H

#include <stddef.h>
#include <stdint.h>

#define FRAME_LENGTH_HEADER 4
#define FRAME_STATUS_OK     '+'
#define FRAME_STATUS_ERROR  '-'

enum frame_result {
    FRAME_INCOMPLETE, /* need more bytes */
    FRAME_OK,         /* one frame found */
    FRAME_TOO_BIG,    /* the frame is (or will be) larger than allowed; in length
                         framing out->body_len is the length its header announced */
    FRAME_BAD,        /* malformed (an empty status reply) */
};

/* How a frame lies in a buffer: body at [body_off, body_off + body_len), frame_len bytes in all. */
struct frame {
    size_t frame_len;
    size_t body_off;
    size_t body_len;
};

/* Length framing: decode one frame from buf. max bounds the body. */
enum frame_result frame_length_decode(const unsigned char *buf, size_t len, size_t max,
                                      struct frame *out);
void frame_length_encode(unsigned char hdr[FRAME_LENGTH_HEADER], uint32_t body_len);
/* Line framing: one line, without its '\n'; a line longer than max is FRAME_TOO_BIG. */
enum frame_result frame_line_decode(const unsigned char *buf, size_t len, size_t max,
                                    struct frame *out);
/* Either framing (0 = length, 1 = line: enum framing), one frame from buf. */
static inline enum frame_result frame_decode(int framing, const unsigned char *buf, size_t len,
                                             size_t max, struct frame *out)
{
    return framing == 0 ? frame_length_decode(buf, len, max, out)
                        : frame_line_decode(buf, len, max, out);
}

/*
 * The next request or reply frame at the start of a libevent buffer (how
 * droverd reads clients and workers); nothing is removed from buf.
 */
struct evbuffer;
enum frame_result frame_evbuffer_decode(struct evbuffer *buf, int framing, size_t max,
                                        struct frame *out);

/* Reply to a client (as clients decode it): status and the payload after it. */
struct frame_reply {
    char status; /* '+' or '-' */
    const unsigned char *payload;
    size_t payload_len;
};
/* framing: 0 = length, 1 = line (enum framing). */
enum frame_result frame_reply_decode(int framing, const unsigned char *buf, size_t len, size_t max,
                                     struct frame_reply *reply, size_t *consumed);

#endif
