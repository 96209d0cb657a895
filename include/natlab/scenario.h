/* SPDX-License-Identifier: MIT */
/*
 * Running a scenario file: a sandboxed Lua 5.4 VM (base, string, table, math, utf8 and
 * coroutine only; text chunks only; an instruction-count hook that stops runaway
 * scripts and honours signals) with the `natlab` module. The scenario describes one
 * lab; what lab:up() does depends on the mode.
 */
#ifndef NATLAB_SCENARIO_H
#define NATLAB_SCENARIO_H

#include "natlab/model.h"
#include "natlab/capture.h"
#include "natlab/results.h"
#include "natlab/timeline.h"
#include "natlab/topology.h"

#include <signal.h>

struct lua_State;
struct runtime;

enum scenario_pcap { PCAP_FAILED, PCAP_ALL, PCAP_NONE };

/* Whether a run's lab outlives its scenario (kept by a daemon until `natlab down`). */
enum scenario_keep {
	KEEP_NEVER,
	KEEP_ALWAYS,     /* run --keep */
	KEEP_ON_FAILURE, /* run --keep-on-failure: an expectation failed or the scenario did */
	KEEP_COMPLETED,  /* up: the scenario ran to its end (failed expectations or not) */
};

enum scenario_mode {
	SCENARIO_CHECK, /* lab:up() only validates: nothing is created */
	SCENARIO_RUN,   /* lab:up() builds the lab and records it under /run/natlab, the
	                   script goes on (processes, waits) and the lab is torn down when it
	                   ends, or kept (natlab up, run --keep) */
	SCENARIO_PLAN,  /* stops at natlab.cells{...} (recording the cells) or lab:up() */
};

struct scenario {
	enum scenario_mode mode;
	const char *path;
	const char *lab_name; /* overrides natlab.lab{name=...} when set */
	volatile sig_atomic_t *stop;
	struct lab_model model;
	int have_lab;
	int lab_up; /* lab:up() succeeded: there is something to tear down */
	long long max_instructions;
	long long instructions;

	/* For SCENARIO_RUN. */
	const char *out_dir; /* logs/, report.json, junit.xml go here */
	char self_exe[4096]; /* this binary: processes run through `natlab __enter`, and
	                        natlab.bin() finds natlab-relay and natlab-peer beside it */
	double timeout_s;    /* the whole scenario's time limit; 0 = none */
	int seed_set;        /* --seed given: it overrides natlab.lab{ seed = } */
	unsigned long long seed;
	enum scenario_pcap pcap;   /* which captures to keep */
	const char *filter;        /* --filter glob: natlab.selected(name) tells the scenario */
	json_t *cells;             /* PLAN: the cells natlab.cells{} declared, or NULL */
	const char *const *params; /* --param KEY=VALUE words (borrowed): natlab.params */
	int nparams;
	const char *cell; /* RUN of one cell: the name natlab.cells{} returns */
	struct capture_set captures;
	struct lab_wires wire_fds; /* TAP fds of wired links, until a forwarder owns them */
	struct wire **wires;       /* per node, under natlab run; NULL where no wire */
	struct results results;
	char *error; /* why the scenario failed (first line), for the report */
	enum scenario_keep keep;
	int lab_name_unique;      /* lab_name (or the scenario's) is a wish: -2, -3... if taken */
	const char *pcap_dir;     /* captures go here (always kept) instead of <out>/pcap */
	int keeper;               /* pid of the daemon keeping the lab after the run, or 0 */
	int keep_ack_fd;          /* with keeper: the pipe keep_ack() writes on, else -1 */
	struct runtime *rt;       /* while scenario_run runs: its loop and clock */
	struct timeline timeline; /* events, expectations and key packets of a run */
	int reuse;       /* a matrix worker's cell: its lab may be the last cell's (lab_reuse.h) */
	int lab_reused;  /* this run's lab was the last cell's */
	int link_downed; /* node:link_down() ran: links and routes may differ from a fresh lab */
};

void scenario_init(struct scenario *s, enum scenario_mode mode, const char *path);
void scenario_close(struct scenario *s);

/*
 * Runs the file under the event loop. Returns 0, or -1 after printing the error
 * (file:line, and a traceback with NATLAB_DEBUG) to stderr. A failed lab:up() has torn
 * down what it built; in SCENARIO_RUN mode the lab is always torn down before return.
 */
int scenario_run(struct scenario *s);

/* Where the Lua bindings find their scenario (stored in the registry). */
struct scenario *scenario_from_lua(struct lua_State *L);
/*
 * Writes the Lua library's directory into buf: NATLAB_LIB if set, else the one next to
 * this binary. 0, -ENOENT if the binary's path is unknown, -ENAMETOOLONG.
 */
int scenario_lib_dir(const struct scenario *s, char *buf, size_t len);

/* Called by lab:up(); builds (or only checks) the lab. Raises a Lua error on failure. */
int scenario_lab_up(struct lua_State *L, struct scenario *s);

/*
 * Under natlab run with the lab up: writes what every NAT holds now into
 * <out>/nat/<name>.json and .txt (nat_state.h), with reason; a failure is only logged.
 */
void scenario_nat_snapshot(struct scenario *s, const char *name, const char *reason);

/* Registers natlab.cells (scenario.c). */
void scenario_lua_cells_open(struct lua_State *L);

/* Registers the natlab module (natlab.lab and the lab and node types). lua_lab.c. */
void lua_lab_open(struct lua_State *L);

#endif
