/* SPDX-License-Identifier: MIT */
#include "natlab/state.h"
#include "natlab/path.h"
#include "natlab/nat_json.h"
#include "natlab/state6.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int state_path(const char *lab, const char *file, char *buf, size_t len)
{
	int n = file ? snprintf(buf, len, LAB_STATE_DIR "/%s/%s", lab, file)
	             : snprintf(buf, len, LAB_STATE_DIR "/%s", lab);

	return (n < 0 || (size_t)n >= len) ? -ENAMETOOLONG : 0;
}

unsigned long long lab_proc_starttime(pid_t pid)
{
	char path[64], buf[1024];
	unsigned long long start = 0;
	ssize_t n;
	char *p;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	/* The command name may hold spaces and parentheses: fields start after the last ')'. */
	p = strrchr(buf, ')');
	if (!p)
		return 0;
	/* After ") " come state (field 3) ... starttime (field 22): skip 19 fields. */
	p += 2;
	/* A zombie has finished: it no longer keeps anything. */
	if (*p == 'Z' || *p == 'X')
		return 0;
	for (int field = 3; field < 22 && p; field++) {
		p = strchr(p, ' ');
		if (p)
			p++;
	}
	if (p)
		start = strtoull(p, NULL, 10);
	return start;
}

static int write_file(const char *path, const char *data)
{
	char tmp[300];
	size_t len = strlen(data);
	int fd, n, rc = 0;

	n = snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	if (n < 0 || (size_t)n >= sizeof(tmp))
		return -ENAMETOOLONG;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	if (write(fd, data, len) != (ssize_t)len)
		rc = -errno;
	if (close(fd) < 0 && rc == 0)
		rc = -errno;
	if (rc == 0 && rename(tmp, path) < 0)
		rc = -errno;
	if (rc < 0)
		unlink(tmp);
	return rc;
}

/* Writes "pid starttime" into dir/owner. */
static int owner_write(const char *dir, pid_t pid)
{
	char path[300], buf[64];
	int rc = lab_pathf(path, sizeof(path), "%s/owner", dir);

	if (rc < 0)
		return rc;
	snprintf(buf, sizeof(buf), "%d %llu\n", (int)pid, lab_proc_starttime(pid));
	return write_file(path, buf);
}

/* The pid in dir/owner if it is alive (and started when recorded), 0 if not, or -errno. */
static int owner_read(const char *dir)
{
	char path[300];
	unsigned long long start;
	int pid, rc;
	FILE *f;

	rc = lab_pathf(path, sizeof(path), "%s/owner", dir);
	if (rc < 0)
		return rc;
	f = fopen(path, "re");
	if (!f)
		return -errno;
	rc = fscanf(f, "%d %llu", &pid, &start);
	fclose(f);
	if (rc != 2 || pid <= 0)
		return 0;
	if (kill(pid, 0) < 0 && errno == ESRCH)
		return 0;
	return lab_proc_starttime(pid) == start ? pid : 0;
}

/* Removes dir and the files in it (state directories hold no subdirectories). */
static int dir_remove(const char *dir);

/* The lab's state directory, and its hidden name under prefix while made or removed. */
static int state_paths(const char *lab, const char *prefix, char path[256], char aside[256])
{
	int rc = state_path(lab, NULL, path, 256);

	return rc < 0 ? rc
	              : lab_pathf(aside, 256, LAB_STATE_DIR "/%s%s.%d", prefix, lab, (int)getpid());
}

/*
 * The directory is built under a hidden name with its owner file inside, then renamed into
 * place: `natlab cleanup` never sees a lab of ours without a live owner (it took a lab
 * being built for a dead one in the moment between mkdir and writing the owner).
 */
int lab_state_create(const char *lab, pid_t owner)
{
	char path[256], tmp[256];
	int rc = state_paths(lab, LAB_STATE_NEW, path, tmp);

	if (rc < 0)
		return rc;
	if (mkdir(LAB_STATE_DIR, 0755) < 0 && errno != EEXIST)
		return -errno;
	if (access(path, F_OK) == 0)
		return -EEXIST;
	/* One under our pid is a leftover of a dead process that had it before us. */
	dir_remove(tmp);
	if (mkdir(tmp, 0755) < 0)
		return -errno;
	rc = owner_write(tmp, owner);
	if (rc == 0 && renameat2(AT_FDCWD, tmp, AT_FDCWD, path, RENAME_NOREPLACE) < 0)
		rc = -errno;
	if (rc < 0)
		dir_remove(tmp);
	return rc;
}

int lab_state_set_owner(const char *lab, pid_t pid)
{
	char path[256];
	int rc = state_path(lab, NULL, path, sizeof(path));

	return rc < 0 ? rc : owner_write(path, pid);
}

int lab_state_owner(const char *lab)
{
	char path[256];
	int rc = state_path(lab, NULL, path, sizeof(path));

	if (rc < 0)
		return rc;
	rc = owner_read(path);
	/*
	 * A directory without owner file: a lab made by a natlab older than the rename above
	 * whose creator died before writing it, or one whose removal was cut short.
	 */
	if (rc == -ENOENT && access(path, F_OK) == 0)
		return 0;
	return rc;
}

static json_t *addr_json(struct in_addr a)
{
	char s[INET_ADDRSTRLEN];

	inet_ntop(AF_INET, &a, s, sizeof(s));
	return json_string(s);
}

static const char *const kind_names[] = { "internet", "nat", "host" };

static json_t *node_json(const struct lab_model *m, const struct lab_node *n)
{
	json_t *o = json_object(), *addrs = json_array();
	char prefix[INET_ADDRSTRLEN + 4], ns[128];

	for (int j = 0; j < n->naddrs; j++)
		json_array_append_new(addrs, addr_json(n->addrs[j]));
	lab_netns_name(m->name, n->name, ns, sizeof(ns));
	json_object_set_new(o, "name", json_string(n->name));
	json_object_set_new(o, "kind", json_string(kind_names[n->kind]));
	json_object_set_new(o, "netns", json_string(ns));
	if (n->parent >= 0)
		json_object_set_new(o, "net", json_string(m->nodes[n->parent].name));
	json_object_set_new(o, "addrs", addrs);
	if (n->kind != LAB_NODE_HOST) {
		inet_ntop(AF_INET, &n->prefix, prefix, INET_ADDRSTRLEN);
		snprintf(prefix + strlen(prefix), 4, "/%d", n->prefix_len);
		json_object_set_new(o, "lan", json_string(prefix));
		json_object_set_new(o, "gateway", addr_json(lab_node_gateway(n)));
	}
	if (n->kind == LAB_NODE_NAT) {
		json_object_set_new(o, "profile", json_string(n->profile));
		json_object_set_new(o, "knobs", nat_knobs_json(n->profile, &n->knobs));
	}
	lab_state6_node_json(m, n, o);
	return o;
}

/* The internet's prefix, hop count and the routers a packet meets between attachments. */
static json_t *internet_json(const struct lab_model *m)
{
	json_t *routers = json_array();
	char prefix[INET_ADDRSTRLEN + 4];

	inet_ntop(AF_INET, &m->inet_prefix, prefix, INET_ADDRSTRLEN);
	snprintf(prefix + strlen(prefix), 4, "/%d", m->inet_len);
	for (int k = 0; k < m->hops; k++)
		json_array_append_new(routers, addr_json(lab_hop_addr(m, k)));
	json_t *o =
	    json_pack("{s:s, s:i, s:o}", "prefix", prefix, "hops", m->hops, "routers", routers);

	if (o)
		lab_state6_internet_json(m, o);
	return o;
}

static int internet_read(struct lab_model *m, json_t *o)
{
	const char *prefix;
	int hops;
	char err[256];

	if (!o) {
		m->hops =
		    0; /* written before hops existed: a flat internet at the default prefix */
		return 0;
	}
	if (json_unpack(o, "{s:s, s:i}", "prefix", &prefix, "hops", &hops) < 0)
		return -EINVAL;
	if (lab_internet_set(m, prefix, hops, err, sizeof(err)) < 0)
		return -EINVAL;
	return lab_state6_internet_read(m, o);
}

int lab_state_write_model(const char *lab, const struct lab_model *m)
{
	json_t *root = json_object(), *nodes = json_array();
	char path[256];
	char *text;
	int rc;

	for (int i = 0; i < m->nnodes; i++)
		json_array_append_new(nodes, node_json(m, &m->nodes[i]));
	json_object_set_new(root, "name", json_string(m->name));
	json_object_set_new(root, "seed", json_integer((json_int_t)m->seed));
	json_object_set_new(root, "internet", internet_json(m));
	json_object_set_new(root, "nodes", nodes);
	text = json_dumps(root, JSON_INDENT(2));
	json_decref(root);
	if (!text)
		return -ENOMEM;
	rc = state_path(lab, "lab.json", path, sizeof(path));
	if (rc == 0)
		rc = write_file(path, text);
	free(text);
	return rc;
}

/*
 * A knob missing from lab.json (written before the knob existed) keeps the preset of
 * the node's profile.
 */
static int knobs_read(json_t *o, const char *profile, struct nat_knobs *k)
{
	memset(k, 0, sizeof(*k));
	if (profile)
		nat_profile_lookup(profile, k);
	if (json_is_null(o)) {
		k->translate = 0;
		return 0;
	}
	if (!json_is_object(o))
		return -EINVAL;
	k->translate = 1;
	for (const struct nat_knob *kb = nat_knob_table; kb->key; kb++) {
		json_t *v = json_object_get(o, kb->key);
		int rc;

		if (!v)
			continue;
		if (kb->type == NAT_KNOB_WORD)
			rc = json_is_string(v) ? nat_knob_set_word(kb, k, json_string_value(v))
			                       : -EINVAL;
		else if (kb->type == NAT_KNOB_BOOL)
			rc = json_is_boolean(v) ? nat_knob_set(kb, k, json_is_true(v)) : -EINVAL;
		else
			/* Ranged before the cast: -1 would become 4294967295. */
			rc = json_is_integer(v) && json_integer_value(v) >= 0 &&
			             json_integer_value(v) <= UINT_MAX
			         ? nat_knob_set(kb, k, (unsigned)json_integer_value(v))
			         : -EINVAL;
		if (rc < 0)
			return -EINVAL;
	}
	return 0;
}

static int node_read(struct lab_model *m, json_t *o)
{
	const char *name, *kind, *net = NULL, *lan = NULL, *profile = NULL;
	json_t *addrs, *knobs = NULL, *a;
	char err[256];
	size_t j;
	int k, i;

	if (json_unpack(o, "{s:s, s:s, s?s, s:o, s?s, s?s, s?o}", "name", &name, "kind", &kind,
	                "net", &net, "addrs", &addrs, "lan", &lan, "profile", &profile, "knobs",
	                &knobs) < 0)
		return -EINVAL;
	for (k = 0; k < 3 && strcmp(kind_names[k], kind) != 0; k++)
		;
	if (k == 3)
		return -EINVAL;
	i = lab_model_add(m, name, (enum lab_node_kind)k, net ? lab_model_find(m, net) : -1, err,
	                  sizeof(err));
	if (i < 0)
		return i;
	if (lan && lab_prefix_parse(lan, &m->nodes[i].prefix, &m->nodes[i].prefix_len) < 0)
		return -EINVAL;
	if (profile)
		snprintf(m->nodes[i].profile, sizeof(m->nodes[i].profile), "%s", profile);
	if (knobs && knobs_read(knobs, profile, &m->nodes[i].knobs) < 0)
		return -EINVAL;
	json_array_foreach(addrs, j, a)
	{
		if (j >= LAB_ADDRS_MAX || !json_is_string(a) ||
		    inet_pton(AF_INET, json_string_value(a), &m->nodes[i].addrs[j]) != 1)
			return -EINVAL;
		m->nodes[i].naddrs++;
	}
	return lab_state6_node_read(&m->nodes[i], o);
}

int lab_state_read_model(const char *lab, struct lab_model *m)
{
	char path[256];
	json_t *root, *nodes, *o, *inet = NULL;
	json_error_t jerr;
	const char *name;
	size_t i;
	int rc;

	rc = state_path(lab, "lab.json", path, sizeof(path));
	if (rc < 0)
		return rc;
	root = json_load_file(path, 0, &jerr);
	if (!root)
		return access(path, F_OK) < 0 ? -ENOENT : -EINVAL;
	rc = -EINVAL;
	if (json_unpack(root, "{s:s, s:o, s?o}", "name", &name, "nodes", &nodes, "internet",
	                &inet) < 0)
		goto out;
	snprintf(m->name, sizeof(m->name), "%s", name);
	rc = internet_read(m, inet);
	if (rc < 0)
		goto out;
	json_array_foreach(nodes, i, o)
	{
		rc = node_read(m, o);
		if (rc < 0)
			goto out;
	}
	m->built = 1;
	rc = 0;
out:
	json_decref(root);
	return rc;
}

#define MEASURED_PREFIX "measured-"
#define MEASURED_SUFFIX ".json"

int lab_state_write_measured(const char *lab, const char *nat, const json_t *measured)
{
	char file[LAB_NODE_MAX + 32], path[256];
	char *text;
	int rc;

	if (snprintf(file, sizeof(file), MEASURED_PREFIX "%s" MEASURED_SUFFIX, nat) >=
	    (int)sizeof(file))
		return -ENAMETOOLONG;
	rc = state_path(lab, file, path, sizeof(path));
	if (rc < 0)
		return rc;
	text = json_dumps(measured, JSON_COMPACT);
	if (!text)
		return -ENOMEM;
	rc = write_file(path, text);
	free(text);
	return rc;
}

int lab_state_write_note(const char *lab, const char *name, const char *text)
{
	char path[256];
	int rc = state_path(lab, name, path, sizeof(path));

	if (rc < 0)
		return rc;
	if (text)
		return write_file(path, text);
	return unlink(path) < 0 && errno != ENOENT ? -errno : 0;
}

int lab_state_read_note(const char *lab, const char *name, char *buf, size_t len)
{
	char path[256];
	ssize_t n;
	int fd, rc = state_path(lab, name, path, sizeof(path));

	if (rc < 0)
		return rc;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, len - 1);
	rc = n < 0 ? -errno : 0;
	close(fd);
	buf[n < 0 ? 0 : n] = '\0';
	return rc;
}

/* The NAT name in a measured-<nat>.json file name, into nat; 0 if it is not one. */
static int measured_nat(const char *file, char *nat, size_t len)
{
	size_t n = strlen(file), pre = strlen(MEASURED_PREFIX), suf = strlen(MEASURED_SUFFIX);

	if (n <= pre + suf || n - pre - suf >= len || strncmp(file, MEASURED_PREFIX, pre) ||
	    strcmp(file + n - suf, MEASURED_SUFFIX))
		return 0;
	memcpy(nat, file + pre, n - pre - suf);
	nat[n - pre - suf] = '\0';
	return 1;
}

json_t *lab_state_read_measured(const char *lab)
{
	char dir[256], path[512], nat[LAB_NODE_MAX + 1];
	json_t *all = json_object(), *one;
	struct dirent *e;
	DIR *d;

	if (state_path(lab, NULL, dir, sizeof(dir)) < 0 || !(d = opendir(dir)))
		return all;
	while ((e = readdir(d))) {
		if (!measured_nat(e->d_name, nat, sizeof(nat)))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		one = json_load_file(path, 0, NULL);
		if (one)
			json_object_set_new(all, nat, one);
	}
	closedir(d);
	return all;
}

static int remove_entry(const char *dir, const char *name)
{
	char path[512];
	int n = snprintf(path, sizeof(path), "%s/%s", dir, name);

	if (n < 0 || (size_t)n >= sizeof(path))
		return -ENAMETOOLONG;
	return unlink(path) < 0 && errno != ENOENT ? -errno : 0;
}

int lab_state_remove_measured(const char *lab)
{
	char dir[256], nat[LAB_NODE_MAX + 1];
	struct dirent *e;
	int rc = 0, one;
	DIR *d;

	if (state_path(lab, NULL, dir, sizeof(dir)) < 0 || !(d = opendir(dir)))
		return -ENOENT;
	while ((e = readdir(d)))
		if (measured_nat(e->d_name, nat, sizeof(nat)) &&
		    (one = remove_entry(dir, e->d_name)) < 0)
			rc = one;
	closedir(d);
	return rc;
}

static int dir_remove(const char *dir)
{
	struct dirent *e;
	DIR *d = opendir(dir);

	if (!d)
		return errno == ENOENT ? 0 : -errno;
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			remove_entry(dir, e->d_name);
	closedir(d);
	return rmdir(dir) < 0 && errno != ENOENT ? -errno : 0;
}

/*
 * Renamed out of the way first, so that no one sees the lab without its owner file while
 * its files go; a remover killed midway leaves a hidden directory for the sweep below.
 */
int lab_state_remove(const char *lab)
{
	char path[256], old[256];
	int rc = state_paths(lab, LAB_STATE_OLD, path, old);

	if (rc < 0)
		return rc;
	dir_remove(old); /* as in lab_state_create */
	if (rename(path, old) < 0)
		return errno == ENOENT ? 0 : -errno;
	return dir_remove(old);
}

/* A state directory being made or removed (hidden, not a lab), of lab if not NULL? */
static int state_unfinished(const char *name, const char *lab)
{
	const char *rest = NULL;

	if (strncmp(name, LAB_STATE_NEW, strlen(LAB_STATE_NEW)) == 0)
		rest = name + strlen(LAB_STATE_NEW);
	else if (strncmp(name, LAB_STATE_OLD, strlen(LAB_STATE_OLD)) == 0)
		rest = name + strlen(LAB_STATE_OLD);
	if (!rest || !lab)
		return rest != NULL;
	/* LAB.PID: the name, then the pid of the process that made or removed it. */
	return strncmp(rest, lab, strlen(lab)) == 0 && rest[strlen(lab)] == '.';
}

int lab_state_remove_unfinished(const char *lab)
{
	DIR *d = opendir(LAB_STATE_DIR);
	char path[512];
	struct dirent *e;
	int removed = 0;

	if (!d)
		return errno == ENOENT ? 0 : -errno;
	while ((e = readdir(d))) {
		if (!state_unfinished(e->d_name, lab))
			continue;
		/* A creator killed between mkdir and writing the owner leaves no owner file. */
		if (lab_pathf(path, sizeof(path), LAB_STATE_DIR "/%s", e->d_name) < 0 ||
		    owner_read(path) > 0)
			continue;
		if (dir_remove(path) == 0)
			removed++;
	}
	closedir(d);
	return removed;
}

int lab_state_foreach(int (*fn)(const char *lab, void *arg), void *arg)
{
	DIR *d = opendir(LAB_STATE_DIR);
	struct dirent *e;
	int rc = 0;

	if (!d)
		return errno == ENOENT ? 0 : -errno;
	while (rc == 0 && (e = readdir(d)))
		if (e->d_name[0] != '.')
			rc = fn(e->d_name, arg);
	closedir(d);
	return rc;
}
