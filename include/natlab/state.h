/* SPDX-License-Identifier: MIT */
/*
 * What a lab leaves on the machine besides its namespaces: /run/natlab/<lab>/ with
 * `owner` (pid and start time of the process keeping the lab; the start time tells a
 * reused pid apart) and `lab.json` (the model, for ls, exec and probe). The directory
 * is made before anything else of the lab exists, so a lab that died half-built is
 * still found by `natlab cleanup`; it appears with its owner file already inside, so a
 * lab being built is never taken for a dead one.
 */
#ifndef NATLAB_STATE_H
#define NATLAB_STATE_H

#include "natlab/model.h"

#include <jansson.h>

#include <sys/types.h>

#define LAB_STATE_DIR "/run/natlab"
/* Prefixes of a state directory being made or removed (hidden: lab walks skip them). */
#define LAB_STATE_NEW ".new-"
#define LAB_STATE_OLD ".old-"

/*
 * Makes the state directory of lab with owner recorded in it, atomically (built under a
 * hidden name and renamed into place); -EEXIST if a lab of that name exists.
 */
int lab_state_create(const char *lab, pid_t owner);
/* Records pid as the lab's owner. */
int lab_state_set_owner(const char *lab, pid_t pid);
/* The owner's pid if it is still alive, 0 if it died, -ENOENT if the lab is unknown. */
int lab_state_owner(const char *lab);
int lab_state_write_model(const char *lab, const struct lab_model *m);
/* Reads lab.json back into an initialised model. -ENOENT if the lab has none yet. */
int lab_state_read_model(const char *lab, struct lab_model *m);
/*
 * What `natlab probe` measured on the path through nat (measured-<nat>.json), kept with
 * the lab so that a run's report can show it next to what the NAT declares.
 */
int lab_state_write_measured(const char *lab, const char *nat, const json_t *measured);
/* Every measurement of the lab as an object {nat: measured}; empty when none. */
json_t *lab_state_read_measured(const char *lab);
/* Removes every measurement of the lab (a reused lab starts its next cell unmeasured). */
int lab_state_remove_measured(const char *lab);
/*
 * A short note kept with the lab under a name of its own (a file in its state
 * directory): written (text NULL: removed), or read into buf (-ENOENT if there is none).
 */
int lab_state_write_note(const char *lab, const char *name, const char *text);
int lab_state_read_note(const char *lab, const char *name, char *buf, size_t len);
/* Removes the state directory and what is in it (renamed away first, atomically). */
int lab_state_remove(const char *lab);
/*
 * Removes state directories left half-made or half-removed by a process that died
 * (their owner is dead or was never written), of lab only, or of every lab if lab is
 * NULL; returns how many, or -errno.
 */
int lab_state_remove_unfinished(const char *lab);
/* Calls fn for each lab with a state directory; stops on a non-zero return. */
int lab_state_foreach(int (*fn)(const char *lab, void *arg), void *arg);

/*
 * Start time of pid in clock ticks since boot (field 22 of /proc/PID/stat), or 0 if it
 * does not exist or is a zombie.
 */
unsigned long long lab_proc_starttime(pid_t pid);

#endif
