/* SPDX-License-Identifier: MIT */
#include "natlab/nat_state.h"
#include "natlab/conntrack.h"
#include "natlab/nat.h"
#include "natlab/netns.h"
#include "natlab/outdir.h"
#include "natlab/path.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

json_t *nat_state_read_node(const struct lab_model *m, int i, char *err, size_t errlen)
{
	json_t *ct = NULL, *nft = NULL;
	int rc = lab_node_netns_enter(m->name, m->nodes[i].name, err, errlen);

	if (rc < 0)
		return NULL;
	rc = lab_conntrack_read(&ct, err, errlen);
	if (rc == 0)
		rc = nat_state_read(&nft, err, errlen);
	lab_netns_leave();
	if (rc < 0) {
		json_decref(ct);
		return NULL;
	}
	json_object_set_new(nft, "conntrack", ct);
	return nft;
}

static const char *jstr(const json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));

	return s ? s : "";
}

static void print_mappings(FILE *f, const json_t *ct)
{
	size_t i;
	json_t *e;

	fprintf(f, "mappings (conntrack, %zu entries):\n", json_array_size(ct));
	json_array_foreach(ct, i, e)
	{
		const json_t *o = json_object_get(e, "original"), *r = json_object_get(e, "reply");
		json_t *fl = json_object_get(e, "flags"), *x;
		size_t k;

		fprintf(f, "  %-4s %s -> %s", jstr(e, "proto"), jstr(o, "src"), jstr(o, "dst"));
		fprintf(f, "  | reply %s -> %s", jstr(r, "src"), jstr(r, "dst"));
		if (json_object_get(e, "mapped"))
			fprintf(f, "  | mapped %s", jstr(e, "mapped"));
		if (json_object_get(e, "tcp_state"))
			fprintf(f, "  %s", jstr(e, "tcp_state"));
		fprintf(f, "  %llds",
		        (long long)json_integer_value(json_object_get(e, "timeout_s")));
		json_array_foreach(fl, k, x)
		    fprintf(f, "%s%s", k ? "," : " [", json_string_value(x));
		fprintf(f, "%s\n", json_array_size(fl) ? "]" : "");
	}
}

void nat_state_print(FILE *f, const char *nat, const json_t *state)
{
	const char *key;
	json_t *v, *r;
	size_t i;

	fprintf(f, "NAT %s\n", nat);
	if (json_object_get(state, "error")) {
		fprintf(f, "  cannot read its state: %s\n\n", jstr(state, "error"));
		return;
	}
	print_mappings(f, json_object_get(state, "conntrack"));
	fprintf(f, "rules (packets matched, bytes, chain, rule):\n");
	json_array_foreach(json_object_get(state, "rules"), i, r)
	    fprintf(f, "  %8lld %10lld  %-12s %s\n",
	            (long long)json_integer_value(json_object_get(r, "packets")),
	            (long long)json_integer_value(json_object_get(r, "bytes")), jstr(r, "chain"),
	            jstr(r, "rule"));
	fprintf(f, "sets and maps (learned):\n");
	json_object_foreach(json_object_get(state, "sets"), key, v)
	{
		json_t *el;
		size_t k;

		fprintf(f, "  %s: %zu\n", key, json_array_size(v));
		json_array_foreach(v, k, el) fprintf(f, "    %s\n", json_string_value(el));
	}
	fputc('\n', f);
}

int nat_state_snapshot(const struct lab_model *m, const char *dir, const char *name,
                       const char *reason, double t_ms)
{
	char path[4200], err[256];
	json_t *nats = json_object(), *doc;
	const char *key;
	json_t *st;
	FILE *f;
	int rc;

	for (int i = 0; i < m->nnodes; i++) {
		if (m->nodes[i].kind != LAB_NODE_NAT)
			continue;
		st = nat_state_read_node(m, i, err, sizeof(err));
		json_object_set_new(nats, m->nodes[i].name,
		                    st ? st : json_pack("{s:s}", "error", err));
	}
	doc = json_pack("{s:s, s:f, s:o}", "reason", reason, "t_ms", t_ms, "nats", nats);
	rc = lab_pathf(path, sizeof(path), "%s/%s.json", dir, name);
	if (rc == 0)
		rc = outdir_write_json(doc, path);
	if (rc == 0)
		rc = lab_pathf(path, sizeof(path), "%s/%s.txt", dir, name);
	if (rc == 0 && !(f = outdir_fopen(path, "w")))
		rc = -errno;
	if (rc == 0) {
		fprintf(f, "%s (at %.0f ms)\n\n", reason, t_ms);
		json_object_foreach(nats, key, st) nat_state_print(f, key, st);
		if (fclose(f) != 0)
			rc = -errno;
	}
	json_decref(doc);
	return rc;
}
