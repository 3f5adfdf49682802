/* SPDX-License-Identifier: ISC */
/*
 * The control socket: accepting drover CLI connections, checking who they
 * are (SO_PEERCRED), reading one framed command per connection, and
 * writing framed replies. The only module that touches control sockets;
 * command handlers (cmd*.c) talk to clients through the functions below.
 * It knows nothing of commands: main.c gives it the dispatch function.
 */
#ifndef DROVER_CONTROL_H
#define DROVER_CONTROL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct evbuffer;
struct control_client;
struct daemon_config;

#define CONTROL_MAX_CLIENTS       512
#define CONTROL_ACCEPT_BATCH      64        /* connections taken per pass of the event loop */
#define CONTROL_READ_TIMEOUT_SEC  10        /* to send the whole command */
#define CONTROL_WRITE_TIMEOUT_SEC 30        /* for a reply to be taken */
#define CONTROL_MAX_OUTPUT        (4 << 20) /* a follower further behind is dropped */
/*
 * Every client's output together (what droverd queued and the clients have
 * not read, and what a command holds for them): at it, a client holding
 * its fair share or more gets no more (control_may_grow). Long answers are
 * made a piece at a time, topping a client's queue up to
 * CONTROL_STREAM_HIGH whenever it falls to CONTROL_STREAM_LOW, so a client
 * that stops reading one holds little.
 */
#define CONTROL_OUTPUT_LIMIT (64 << 20)
#define CONTROL_STREAM_LOW   (16 << 10)
#define CONTROL_STREAM_HIGH  (64 << 10)

/*
 * Runs the command a permitted client sent (argv[0] is the verb). argv
 * stays valid while the client is connected; the handler answers through
 * the functions below and ends with control_finish, now or later.
 */
typedef void (*control_dispatch_fn)(struct control_client *c, int argc, char **argv);
/* Before control_open: who runs the commands. */
void control_set_dispatch(control_dispatch_fn fn);

/* Bind the control socket (creating its directory), set its mode and group. */
int control_open(const struct daemon_config *dc, char *err, size_t errsz);
void control_close(void);
/* Tell every connected client the daemon is exiting and flush what can be flushed. */
void control_farewell(void);

/* Output to a client: bytes for its stdout, a message for its stderr. */
void control_out(struct control_client *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void control_out_buffer(struct control_client *c, struct evbuffer *buf);
void control_out_bytes(struct control_client *c, const void *data, size_t len);
void control_err(struct control_client *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void control_verr(struct control_client *c, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));
/* Send the exit status (enum drover_exit) and close once written. Nothing may be sent after it. */
void control_finish(struct control_client *c, int status);
/* Bytes queued to the client and not yet taken. */
size_t control_pending(const struct control_client *c);
/*
 * May more be queued for this client? Yes while droverd's control output is
 * under CONTROL_OUTPUT_LIMIT; at it, only while the client holds less than
 * its fair share. A follower that may not grow is behind (dropped or skipped).
 */
bool control_may_grow(const struct control_client *c);
/*
 * Bytes a command keeps for the client outside its output (logs -f lines
 * waiting behind the tail still being sent): counted as if queued.
 */
void control_hold(struct control_client *c, size_t bytes);
/*
 * fn(arg) each time the client's queued output falls to CONTROL_STREAM_LOW
 * or below after a write (a long answer's next piece); fn NULL, or
 * control_finish, stops it.
 */
void control_on_writable(struct control_client *c, void (*fn)(void *arg), void *arg);
uid_t control_client_uid(const struct control_client *c);

/*
 * Keep the client waiting until check() returns true (it then has called
 * control_finish). check runs after every state change; free_arg when the
 * client goes away or the wait ends.
 */
typedef bool (*control_check_fn)(struct control_client *c, void *arg);
void control_wait(struct control_client *c, control_check_fn check, void *arg,
                  void (*free_arg)(void *arg));
/* Called when the client disconnects before finishing (for followers). */
void control_on_close(struct control_client *c, void (*fn)(void *arg), void *arg);
/* Re-check every waiting client (an end-of-pass hook, droverd_on_settle). */
void control_check_waiters(void);
/* Connections refused (not permitted, malformed, over the cap) since start. */
uint64_t control_rejected(void);

#endif
