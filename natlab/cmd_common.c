/* SPDX-License-Identifier: MIT */
#include "natlab/cmd.h"
#include "natlab/log.h"
#include "natlab/model.h"
#include "natlab/state.h"
#include "natlab/topology.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CAP_NET_ADMIN_BIT 12
#define CAP_SYS_ADMIN_BIT 21

static unsigned long long effective_caps(void)
{
	unsigned long long caps = 0;
	char line[256];
	FILE *f = fopen("/proc/self/status", "re");

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "CapEff: %llx", &caps) == 1)
			break;
	fclose(f);
	return caps;
}

void cmd_require_admin(const char *cmd)
{
	unsigned long long need = (1ULL << CAP_NET_ADMIN_BIT) | (1ULL << CAP_SYS_ADMIN_BIT);

	if ((effective_caps() & need) != need)
		log_fatalx("%s: needs root (CAP_NET_ADMIN and CAP_SYS_ADMIN) to manage network "
		           "namespaces: run it as root (sudo), or rootless in namespaces of "
		           "your own: unshare -Urnm sh -c 'mount -t tmpfs tmpfs /run && natlab "
		           "...' (docs/lab.md, \"Rootless\")",
		           cmd);
}

void cmd_require_scenario_file(const char *cmd, const char *path)
{
	struct stat st;

	if (stat(path, &st) < 0)
		log_fatalx("%s: scenario \"%s\": %s%s", cmd, path, strerror(errno),
		           errno == ENOENT ? "; give the path of a .lua scenario" : "");
	if (S_ISDIR(st.st_mode))
		log_fatalx("%s: scenario \"%s\" is a directory; give a scenario file "
		           "(.lua) in it",
		           cmd, path);
	if (!S_ISREG(st.st_mode))
		log_fatalx("%s: scenario \"%s\" is not a regular file; give a .lua file", cmd,
		           path);
	if (access(path, R_OK) < 0)
		log_fatalx("%s: scenario \"%s\": %s", cmd, path, strerror(errno));
}

int cmd_wants_help(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0)
			return 0;
		if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0)
			return 1;
	}
	return 0;
}

void cmd_load_lab(const char *cmd, const char *lab, struct lab_model *m)
{
	int rc;

	lab_model_init(m);
	rc = lab_state_read_model(lab, m);
	if (rc == -ENOENT)
		log_fatalx("%s: no lab named \"%s\" is up; `natlab ls` lists the labs", cmd, lab);
	if (rc < 0)
		log_fatalx("%s: cannot read the state of lab \"%s\" (" LAB_STATE_DIR "/%s): %s",
		           cmd, lab, lab, strerror(-rc));
}

int cmd_find_node(const char *cmd, const struct lab_model *m, const char *name)
{
	int i = lab_model_find(m, name);
	char list[1024] = "";
	size_t off = 0;

	if (i >= 0)
		return i;
	for (int j = 0; j < m->nnodes && off < sizeof(list) - 1; j++) {
		int n = snprintf(list + off, sizeof(list) - off, "%s%s", j ? ", " : "",
		                 m->nodes[j].name);
		if (n < 0)
			break;
		off += (size_t)n;
	}
	log_fatalx("%s: lab \"%s\" has no node \"%s\" (it has: %s)", cmd, m->name, name, list);
}

int cmd_lab_remove(const char *lab)
{
	int removed = lab_topology_down(lab);
	int rc = lab_state_remove(lab);

	if (removed < 0)
		return removed;
	return rc < 0 ? rc : removed;
}
