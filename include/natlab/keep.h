/* SPDX-License-Identifier: MIT */
/*
 * Keeping a run's lab after its scenario ended (`natlab run --keep`, `--keep-on-failure`,
 * `natlab up`): the lab, its wires, its captures and the processes the scenario left
 * running stay until `natlab down`, so a failing network can be entered with
 * `natlab exec`/`shell`.
 */
#ifndef NATLAB_KEEP_H
#define NATLAB_KEEP_H

#include "natlab/runtime.h"
#include "natlab/scenario.h"

/* True if s's lab is to be kept now that its scenario ended with rc (0 or -1). */
int keep_wanted(const struct scenario *s, int rc);

/*
 * Forks the daemon that keeps the lab: it takes over the run's loop (wires forward,
 * captures write, the processes' output still reaches their logs), becomes the lab's
 * owner and waits for SIGTERM or SIGINT (`natlab down`), then writes out its captures
 * and exits; the lab itself is removed by `natlab down`. In the caller, returns the
 * daemon's pid once it owns the lab, or -errno (the lab is then the caller's to tear
 * down). After success the caller must not close rt: its handles are the daemon's now,
 * and it must call keep_ack() once it has told its user that the lab is kept.
 */
int keep_start(struct scenario *s, struct runtime *rt);

/*
 * Tells s's daemon that the user was told the lab is kept: the caller's last act. A
 * daemon whose caller dies before (killed: its user saw a failure, no lab) removes the
 * lab and exits, so that no lab is left up that nobody knows of. No-op without a daemon.
 */
void keep_ack(struct scenario *s);

#endif
