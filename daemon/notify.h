/* SPDX-License-Identifier: ISC */
/*
 * The sd_notify protocol, both ways: droverd telling its own supervisor
 * (systemd) READY/RELOADING/STOPPING/STATUS/WATCHDOG, and the NOTIFY_SOCKET
 * droverd serves to workers with ready = notify, whose READY=1, STATUS= and
 * WATCHDOG=1 move their slots.
 */
#ifndef DROVER_NOTIFY_H
#define DROVER_NOTIFY_H

#include <stddef.h>

/* Open the workers' notify socket, next to the control socket (CONTROL.notify). */
int notify_workers_open(const char *control_socket, char *err, size_t errsz);
void notify_workers_close(void);

/* Send one message to droverd's own supervisor, if NOTIFY_SOCKET was set. */
void sd_notify_send(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Start the watchdog pings to systemd when WATCHDOG_USEC asks for them. */
void sd_watchdog_start(void);
/* Forget NOTIFY_SOCKET etc. so that they are not passed on to workers. */
void sd_notify_init(void);

#endif
