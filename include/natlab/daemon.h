/* SPDX-License-Identifier: MIT */
/*
 * The daemons natlab itself starts inside lab namespaces while a scenario runs (a NAT
 * box's miniupnpd, TAYGA and unbound, a host's CLAT): spawned as the scenario's own
 * processes (host:spawn, so they are logged and end with the run), configured through
 * files in the out dir, and waited for until they serve.
 */
#ifndef NATLAB_DAEMON_H
#define NATLAB_DAEMON_H

#include <sys/types.h>

struct lua_State;

/*
 * Spawns argv (NULL-terminated) in node as host:spawn{} would, named name (its log is
 * logs/<node>-<name>.log), privileged (not confined: it needs CAP_NET_ADMIN) or not.
 * Pushes the proc object and returns its pid. Raises a Lua error on failure.
 */
pid_t lab_daemon_spawn(struct lua_State *L, int node, const char *const *argv, const char *name,
                       int privileged);

/* Whether pid still runs (a zombie has ended: only its parent's loop has not reaped it). */
int lab_daemon_running(pid_t pid);

/*
 * Whether a socket of pid's namespace listens on port: file is "udp", "tcp", "udp6" or
 * "tcp6" (of /proc/PID/net), st the state, UDP "07" or TCP LISTEN "0A".
 */
int lab_daemon_listening(pid_t pid, const char *file, unsigned port, const char *st);

/*
 * Waits ms while the loop reads what processes print (so a daemon's own words reach its
 * log) and wires forward. Nothing waits in the scenario now: it is the one calling us.
 */
void lab_daemon_pause(struct lua_State *L, int ms);

/* Ends pid, if it runs: SIGTERM, then SIGKILL after 2 s, and waits (2 s at most) until
 * it has ended. */
void lab_daemon_stop(struct lua_State *L, pid_t pid);

/* Writes text to a configuration file in the out dir (outdir_open). 0 or -errno. */
int lab_daemon_conf_write(const char *path, const char *text);

#endif
