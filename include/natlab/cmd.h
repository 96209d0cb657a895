/* SPDX-License-Identifier: MIT */
/* The natlab subcommands. Each takes argv from its own name on and returns the exit code. */
#ifndef NATLAB_CMD_H
#define NATLAB_CMD_H

int cmd_run(int argc, char **argv);
int cmd_up(int argc, char **argv);
int cmd_ls(int argc, char **argv);
int cmd_exec(int argc, char **argv);
int cmd_shell(int argc, char **argv);
int cmd_down(int argc, char **argv);
int cmd_cleanup(int argc, char **argv);
int cmd_check(int argc, char **argv);
int cmd_probe(int argc, char **argv);
int cmd_report(int argc, char **argv);
int cmd_turn_cred(int argc, char **argv);

/*
 * Shared by the commands: exits with a clear message unless the process may create
 * namespaces (CAP_NET_ADMIN and CAP_SYS_ADMIN).
 */
void cmd_require_admin(const char *cmd);
/*
 * Exits with one message naming the file and what to do unless path is a readable
 * regular file: a missing scenario, a directory or an unreadable file is the user's
 * mistake, not a failed run (no report is written for it).
 */
void cmd_require_scenario_file(const char *cmd, const char *path);
/* True if argv holds -h or --help before any "--". */
int cmd_wants_help(int argc, char **argv);
/* Loads the model of a running lab or exits with a message naming what to do. */
struct lab_model;
void cmd_load_lab(const char *cmd, const char *lab, struct lab_model *m);
/* Finds node name in m or exits listing the nodes there are. */
int cmd_find_node(const char *cmd, const struct lab_model *m, const char *name);
/*
 * Runs s (initialised for SCENARIO_RUN, with out_dir set) as lab name (NULL: the
 * scenario's, made unique), prints TAP and writes the report into the out dir; the lab
 * is kept as s->keep says. 0 if every expectation held, else 1.
 */
struct scenario;
int cmd_run_scenario(struct scenario *s, const char *name);
/* Tears a lab down (processes, namespaces, state); returns namespaces removed or -errno. */
int cmd_lab_remove(const char *lab);

#endif
