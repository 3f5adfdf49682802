/* SPDX-License-Identifier: ISC */
/*
 * Handoff mode: accepted connections are passed (SCM_RIGHTS) to the least
 * busy worker over its link; the worker writes one byte back per finished
 * connection. Owns the passing of fds; reaches the pool only through the
 * route's hooks.
 */
#ifndef DROVER_HANDOFF_H
#define DROVER_HANDOFF_H

#include "route_mode.h"

extern const struct route_mode_ops handoff_ops;

#endif
