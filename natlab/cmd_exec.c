/* SPDX-License-Identifier: MIT */
/* natlab exec NAME HOST -- CMD and natlab shell NAME HOST: entering a node. */
#include "natlab/cmd.h"
#include "natlab/confine.h"
#include "natlab/log.h"
#include "natlab/model.h"
#include "natlab/nat64.h"
#include "natlab/netns.h"

#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <unistd.h>

/*
 * Like `ip netns exec`: a private mount namespace with a fresh /sys, so tools that read
 * /sys/class/net see the node's interfaces rather than the root namespace's.
 */
static int remount_sys(void)
{
	if (unshare(CLONE_NEWNS) < 0 || mount("", "/", "none", MS_SLAVE | MS_REC, NULL) < 0) {
		log_debug("private mount namespace: %s", strerror(errno));
		return -1;
	}
	if (umount2("/sys", MNT_DETACH) == 0 && mount("sysfs", "/sys", "sysfs", 0, NULL) < 0)
		log_debug("mount /sys: %s", strerror(errno));
	return 0;
}

/*
 * A host behind a NAT64 box resolves through its DNS64 as the scenario's processes do
 * (nat64.h): text becomes /etc/resolv.conf in our own mount namespace, from a file
 * unlinked once mounted.
 */
static void use_resolv(const char *cmd, const char *text)
{
	char path[] = "/tmp/natlab-resolv.XXXXXX", err[256];
	int fd = mkstemp(path);
	size_t len = strlen(text);

	if (fd < 0 || write(fd, text, len) != (ssize_t)len ||
	    lab_confine_resolv(path, 0, err, sizeof(err)) < 0)
		log_warnx("%s: the NAT64 box's resolver is not this shell's: %s", cmd,
		          fd < 0 ? strerror(errno) : err);
	if (fd >= 0) {
		close(fd);
		unlink(path);
	}
}

/*
 * Moves this process into node of lab, or into backbone router "<internet>.hop<k>", or
 * exits with a message.
 */
static void enter_node(const char *cmd, const char *lab, const char *node)
{
	struct lab_model m;
	char ns[128], *resolv = NULL;
	int fd, rc, box;

	cmd_load_lab(cmd, lab, &m);
	/* A backbone router's namespace is named like a node's: nl-<lab>.<inet>.hop<k>. */
	if (lab_hop_find(&m, node) < 0 &&
	    (box = nat64_box_of(&m, cmd_find_node(cmd, &m, node))) >= 0 &&
	    nat64_resolv_text(&m.nodes[box], &resolv) < 0)
		log_fatalx("%s: out of memory", cmd);
	lab_model_close(&m);
	if (lab_netns_name(lab, node, ns, sizeof(ns)) < 0)
		log_fatalx("%s: name too long", cmd);
	rc = lab_netns_open(ns, &fd);
	if (rc < 0)
		log_fatalx("%s: netns \"%s\": %s; is the lab half torn down? `natlab cleanup`", cmd,
		           ns, strerror(-rc));
	rc = lab_netns_enter(fd);
	if (rc < 0)
		log_fatalx("%s: netns \"%s\": setns: %s", cmd, ns, strerror(-rc));
	close(fd);
	if (remount_sys() == 0 && resolv)
		use_resolv(cmd, resolv);
	else if (resolv)
		log_warnx(
		    "%s: no mount namespace of our own: the machine's resolver, not the NAT64 "
		    "box's",
		    cmd);
	free(resolv);
	setenv("NATLAB_LAB", lab, 1);
	setenv("NATLAB_NODE", node, 1);
}

static void exec_usage(FILE *f)
{
	fprintf(f,
	        "Usage: natlab exec NAME HOST -- CMD [ARGS...]\n\n"
	        "Runs CMD inside node HOST of lab NAME (its network namespace), with stdin,\n"
	        "stdout and stderr inherited. The exit code is CMD's; 127 if CMD cannot be run.\n"
	        "HOST may also be a backbone router of the internet: internet.hop1, ...\n");
}

int cmd_exec(int argc, char **argv)
{
	int dash = 3;

	if (argc >= 2 && cmd_wants_help(argc, argv)) {
		exec_usage(stdout);
		return 0;
	}
	if (argc < 5 || strcmp(argv[dash], "--") != 0) {
		exec_usage(stderr);
		return 2;
	}
	cmd_require_admin("natlab exec");
	enter_node("natlab exec", argv[1], argv[2]);
	execvp(argv[dash + 1], argv + dash + 1);
	fprintf(stderr, "natlab exec: %s: %s\n", argv[dash + 1], strerror(errno));
	return errno == ENOENT ? 127 : 126;
}

static void shell_usage(FILE *f)
{
	fprintf(f, "Usage: natlab shell NAME HOST\n\n"
	           "Opens an interactive shell ($SHELL, else /bin/bash) inside node HOST of lab\n"
	           "NAME. The prompt names the lab and node; exit leaves it.\n");
}

int cmd_shell(int argc, char **argv)
{
	const char *sh = getenv("SHELL");
	char prompt[128];

	if (cmd_wants_help(argc, argv)) {
		shell_usage(stdout);
		return 0;
	}
	if (argc != 3) {
		shell_usage(stderr);
		return 2;
	}
	cmd_require_admin("natlab shell");
	enter_node("natlab shell", argv[1], argv[2]);
	if (!sh || !*sh)
		sh = "/bin/bash";
	snprintf(prompt, sizeof(prompt), "[%s/%s] \\w\\$ ", argv[1], argv[2]);
	setenv("PS1", prompt, 1);
	execl(sh, sh, "-i", (char *)NULL);
	fprintf(stderr, "natlab shell: %s: %s\n", sh, strerror(errno));
	return 127;
}
