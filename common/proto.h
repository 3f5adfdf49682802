/* SPDX-License-Identifier: ISC */
/*
 * The control protocol between drover (the CLI) and droverd, over the Unix
 * control socket. This header is its only definition.
 *
 * Every message is an 8-byte header followed by `length` bytes of payload:
 *
 *   u32 length   payload bytes, network byte order
 *   u16 type     enum proto_type, network byte order
 *   u8  version  PROTO_VERSION
 *   u8  flags    0 (reserved)
 *
 * The client sends one PROTO_COMMAND whose payload is the verb and its
 * arguments as NUL-terminated strings (the CLI's argv, from the verb on).
 * The daemon answers with any number of PROTO_DATA (bytes for stdout) and
 * PROTO_ERROR (bytes for stderr) messages, then one PROTO_EXIT whose one-byte
 * payload is the exit status, and closes. A version mismatch is answered by
 * PROTO_ERROR naming both versions and PROTO_EXIT 1, in the daemon's version.
 *
 * Don't forget to bump PROTO_VERSION if any of this changes!
 */
#ifndef DROVER_PROTO_H
#define DROVER_PROTO_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"

#define PROTO_VERSION     1
#define PROTO_HEADER_SIZE 8
#define PROTO_MAX_REQUEST (64 * 1024)   /* largest PROTO_COMMAND payload */
#define PROTO_MAX_FRAME   (1024 * 1024) /* largest payload the daemon sends */
#define PROTO_MAX_ARGS    64
#define PROTO_MAX_ARG     4096

enum proto_type {
    PROTO_COMMAND = 1,
    PROTO_DATA = 2,
    PROTO_ERROR = 3,
    PROTO_EXIT = 4,
};

/*
 * The exit status of a drover command: what PROTO_EXIT carries and what the
 * drover CLI exits with (docs/man/drover.1). UNREACHABLE is the CLI's own,
 * when it cannot talk to droverd. These are not droverd's process exit
 * statuses (DROVERD_EXIT_* in daemon/droverd.h).
 */
enum drover_exit {
    DROVER_EXIT_OK = 0,          /* done */
    DROVER_EXIT_FAILED = 1,      /* refused, or the action failed */
    DROVER_EXIT_USAGE = 2,       /* a bad command line */
    DROVER_EXIT_UNREACHABLE = 3, /* droverd not reachable */
    DROVER_EXIT_TIMEOUT = 4,     /* call: no reply within --timeout */
};

struct proto_header {
    uint32_t length;
    uint16_t type;
    uint8_t version;
    uint8_t flags;
};

void proto_header_encode(unsigned char out[PROTO_HEADER_SIZE], const struct proto_header *h);
void proto_header_decode(const unsigned char in[PROTO_HEADER_SIZE], struct proto_header *h);

/* Fill a header for a payload of len bytes of the given type, in this version. */
void proto_header_make(struct proto_header *h, enum proto_type type, size_t len);

/* Why a header is unacceptable, if it is. */
enum proto_check {
    PROTO_CHECK_OK,
    PROTO_CHECK_VERSION,
    PROTO_CHECK_TYPE,
    PROTO_CHECK_FLAGS,
    PROTO_CHECK_LENGTH,
};
/* Check a received header against the types and size this side accepts. */
enum proto_check proto_header_check(const struct proto_header *h, unsigned types_mask,
                                    size_t max_length, char *err, size_t errsz);
#define PROTO_TYPE_BIT(t) (1u << (t))

/*
 * argv <-> COMMAND payload. pack returns the payload length (0 and no buffer
 * on an argument count or size over the limits); unpack returns a
 * NULL-terminated array (free with free_strv) or NULL with a reason.
 */
size_t proto_argv_pack(int argc, char *const argv[], unsigned char **out);
char **proto_argv_unpack(const unsigned char *buf, size_t len, int *argc_out, char *err,
                         size_t errsz);

/*
 * The answer to `call POOL` (its DATA, docs/protocol.md): where the pool's
 * work socket is and how it frames, one field per line:
 *
 *   LISTEN\n      the pool's listen spec: a socket path or tcp:HOST:PORT
 *   FRAMING\n     length or line
 *   MAX_FRAME\n   the pool's max_frame in bytes, decimal
 *
 * Readers take the lines they know and ignore any after them; an answer
 * without FRAMING means length, one without MAX_FRAME an unknown limit (0).
 */
struct proto_call_info {
    char *listen; /* NUL-terminated; unpack allocates it (proto_call_info_clear frees it) */
    enum framing framing;
    uint64_t max_frame; /* 0 = not said */
    bool tls;           /* the listener speaks TLS (a fourth line "tls"; older droverds: absent) */
};
/* The answer as text (free it); its length in *len. */
char *proto_call_info_pack(const struct proto_call_info *ci, size_t *len);
/* Decode an answer; 0, or -1 with a reason in err (and nothing to free). */
int proto_call_info_unpack(const char *buf, size_t len, struct proto_call_info *out, char *err,
                           size_t errsz);
void proto_call_info_clear(struct proto_call_info *ci);

#endif
