/* SPDX-License-Identifier: ISC */
#include "frame.h"

#include <event2/buffer.h>
#include <string.h>

enum frame_result frame_length_decode(const unsigned char *buf, size_t len, size_t max,
                                      struct frame *out)
{
    uint32_t n;

    if (len < FRAME_LENGTH_HEADER)
        return FRAME_INCOMPLETE;
    n = (uint32_t)buf[0] << 24 | (uint32_t)buf[1] << 16 | (uint32_t)buf[2] << 8 | buf[3];
    if (n > max) {
        out->body_len = n; /* what the header announced, for the error */
        return FRAME_TOO_BIG;
    }
    if (len - FRAME_LENGTH_HEADER < n)
        return FRAME_INCOMPLETE;
    out->frame_len = FRAME_LENGTH_HEADER + (size_t)n;
    out->body_off = FRAME_LENGTH_HEADER;
    out->body_len = n;
    return FRAME_OK;
}

void frame_length_encode(unsigned char hdr[FRAME_LENGTH_HEADER], uint32_t body_len)
{
    hdr[0] = (unsigned char)(body_len >> 24);
    hdr[1] = (unsigned char)(body_len >> 16);
    hdr[2] = (unsigned char)(body_len >> 8);
    hdr[3] = (unsigned char)body_len;
}

enum frame_result frame_line_decode(const unsigned char *buf, size_t len, size_t max,
                                    struct frame *out)
{
    /* Written so that max = SIZE_MAX (no limit) does not wrap max + 1 to 0. */
    size_t scan = len <= max ? len : max + 1;
    const unsigned char *nl = memchr(buf, '\n', scan);

    if (nl == NULL)
        return len > max ? FRAME_TOO_BIG : FRAME_INCOMPLETE;
    out->body_off = 0;
    out->body_len = (size_t)(nl - buf);
    out->frame_len = out->body_len + 1;
    return FRAME_OK;
}

enum frame_result frame_evbuffer_decode(struct evbuffer *buf, int framing, size_t max,
                                        struct frame *out)
{
    size_t avail = evbuffer_get_length(buf);
    struct evbuffer_iovec first;

    /*
     * Most frames lie whole in the buffer's first chain: decode them there,
     * without copying the header out. What the first chain alone cannot
     * decide (a frame that goes on into the next chain) is decided below.
     */
    if (avail > 0 && evbuffer_peek(buf, -1, NULL, &first, 1) >= 1) {
        enum frame_result fr = framing == 0
                                   ? frame_length_decode(first.iov_base, first.iov_len, max, out)
                                   : frame_line_decode(first.iov_base, first.iov_len, max, out);
        if (fr != FRAME_INCOMPLETE || first.iov_len >= avail)
            return fr;
    }
    if (framing == 0) {
        unsigned char hdr[FRAME_LENGTH_HEADER];
        uint32_t n;

        if (avail < FRAME_LENGTH_HEADER)
            return FRAME_INCOMPLETE;
        evbuffer_copyout(buf, hdr, sizeof(hdr));
        n = (uint32_t)hdr[0] << 24 | (uint32_t)hdr[1] << 16 | (uint32_t)hdr[2] << 8 | hdr[3];
        if (n > max) {
            out->body_len = n;
            return FRAME_TOO_BIG;
        }
        if (avail - FRAME_LENGTH_HEADER < n)
            return FRAME_INCOMPLETE;
        out->body_off = FRAME_LENGTH_HEADER;
        out->body_len = n;
        out->frame_len = FRAME_LENGTH_HEADER + (size_t)n;
        return FRAME_OK;
    }
    /* Line: look no further than a line may be long (max bytes, then its newline). */
    struct evbuffer_ptr end, eol;
    size_t limit = max < avail ? max + 1 : avail;
    if (evbuffer_ptr_set(buf, &end, limit, EVBUFFER_PTR_SET) != 0)
        return FRAME_INCOMPLETE;
    eol = evbuffer_search_range(buf, "\n", 1, NULL, &end);
    if (eol.pos < 0)
        return avail > max ? FRAME_TOO_BIG : FRAME_INCOMPLETE;
    out->body_off = 0;
    out->body_len = (size_t)eol.pos;
    out->frame_len = out->body_len + 1;
    return FRAME_OK;
}

enum frame_result frame_reply_decode(int framing, const unsigned char *buf, size_t len, size_t max,
                                     struct frame_reply *reply, size_t *consumed)
{
    struct frame f;
    /* max bounds the payload; the status byte comes on top (unless max is already unbounded). */
    size_t body_max = max < SIZE_MAX ? max + 1 : max;
    enum frame_result r = framing == 0 ? frame_length_decode(buf, len, body_max, &f)
                                       : frame_line_decode(buf, len, body_max, &f);

    if (r != FRAME_OK)
        return r;
    if (f.body_len == 0 ||
        (buf[f.body_off] != FRAME_STATUS_OK && buf[f.body_off] != FRAME_STATUS_ERROR))
        return FRAME_BAD;
    reply->status = (char)buf[f.body_off];
    reply->payload = buf + f.body_off + 1;
    reply->payload_len = f.body_len - 1;
    *consumed = f.frame_len;
    return FRAME_OK;
}
