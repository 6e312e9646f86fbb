// SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0)
/*
 * The BPF object embedded in the binary (bpftool skeleton): opening a copy
 * of its programs on the pinned maps, loading it, and running its `syscall`
 * programs. The only file that instantiates the skeleton, so that the
 * object's bytes are in the binary once.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include "internal.h"
#include "netacct.skel.h"

int na_map_is_shared(const struct bpf_map *map)
{
	/* Each copy has its own totals and its own scratch space. */
	return !bpf_map__is_internal(map) && strcmp(bpf_map__name(map), "na_totals") &&
	       strcmp(bpf_map__name(map), "na_dns_scratch");
}

int na_skel_open(const char *root, const struct na_meta *meta, int reuse, struct netacct_bpf **out)
{
	struct netacct_bpf *skel = netacct_bpf__open();
	struct bpf_map *map;
	char p[PATH_MAX];
	int err;

	if (!skel)
		return na_err(-errno, "open BPF object");
	err = na_links_check(skel->obj);
	if (err)
		goto fail;
	err = libbpf_num_possible_cpus();
	if (err < 0) {
		na_err(err, "count the possible CPUs");
		goto fail;
	}
	skel->rodata->nr_cpus = (__u32)err;
	bpf_map__set_max_entries(skel->maps.na_socks, meta->max_sockets);
	bpf_map__set_max_entries(skel->maps.na_closed, meta->max_closed);
	bpf_map__set_max_entries(skel->maps.na_log, meta->log_bytes);
	bpf_map__set_max_entries(skel->maps.na_peers, meta->max_peers);
	bpf_object__for_each_map(map, skel->obj) {
		if (!reuse || !na_map_is_shared(map))
			continue;
		if ((size_t)snprintf(p, sizeof(p), "%s/%s", root, bpf_map__name(map)) >= sizeof(p)) {
			err = na_err(-ENAMETOOLONG, "pin path %s/%s", root, bpf_map__name(map));
			goto fail;
		}
		/* libbpf would make and pin a new map for a missing pin: the copies must share one. */
		if (access(p, F_OK)) {
			na_log(NA_LOG_ERROR, "%s: missing from the pinned state (not made by netacct, or damaged): detach --all, then attach again",
			       p);
			err = -ENOENT;
			goto fail;
		}
		err = bpf_map__set_pin_path(map, p);
		if (err) {
			na_err(err, "pin path %s", p);
			goto fail;
		}
	}
	*out = skel;
	return 0;
fail:
	netacct_bpf__destroy(skel);
	return err;
}

int na_skel_load(struct netacct_bpf *skel)
{
	int err = netacct_bpf__load(skel);

	if (err)
		na_err(err, "load BPF programs%s",
		       err == -EPERM ? " (need CAP_BPF, CAP_NET_ADMIN, CAP_PERFMON; see -v for the verifier log)"
				     : " (see -v for libbpf's log)");
	return err;
}

struct bpf_object *na_object_open(void)
{
	DECLARE_LIBBPF_OPTS(bpf_object_open_opts, opts, .object_name = "netacct_bpf");
	struct bpf_object *obj;
	const void *bytes;
	size_t sz;

	bytes = netacct_bpf__elf_bytes(&sz);
	obj = bpf_object__open_mem(bytes, sz, &opts);
	if (!obj) {
		na_err(-errno, "open BPF object");
		return NULL;
	}
	return obj;
}

int na_cgroup_hooks(struct na_hook *hooks, size_t max)
{
	struct bpf_object *obj = na_object_open();
	struct bpf_program *prog;
	size_t i;
	int n = 0;

	if (!obj)
		return -EINVAL;
	for (i = 0; i < na_nlinks && (size_t)n < max; i++) {
		if (na_links[i].kind != NA_LINK_CGROUP)
			continue;
		prog = bpf_object__find_program_by_name(obj, na_links[i].prog);
		if (!prog)
			continue;
		hooks[n].type = bpf_program__expected_attach_type(prog);
		hooks[n].name = na_links[i].pin;
		n++;
	}
	bpf_object__close(obj);
	return n;
}

int na_syscall_run_each(const char *root, const struct na_meta *meta, const char *name, void *ctx, size_t size,
			size_t count)
{
	DECLARE_LIBBPF_OPTS(bpf_test_run_opts, run, .ctx_size_in = (__u32)size);
	struct netacct_bpf *skel = NULL;
	struct bpf_program *prog, *want;
	size_t i;
	int err;

	err = na_skel_open(root, meta, 1, &skel);
	if (err)
		return err;
	want = bpf_object__find_program_by_name(skel->obj, name);
	if (!want) {
		netacct_bpf__destroy(skel);
		return -ENOENT;
	}
	bpf_object__for_each_program(prog, skel->obj)
		bpf_program__set_autoload(prog, prog == want);
	err = na_skel_load(skel);
	for (i = 0; !err && i < count; i++) {
		run.ctx_in = (char *)ctx + i * size;
		err = bpf_prog_test_run_opts(bpf_program__fd(want), &run);
		if (err)
			na_err(err, "run %s", name);
	}
	netacct_bpf__destroy(skel);
	return err;
}

int na_syscall_run(const char *root, const struct na_meta *meta, const char *name, void *ctx, size_t size)
{
	return na_syscall_run_each(root, meta, name, ctx, size, 1);
}

static int listed(const char *buf, const char *name)
{
	const char *p = buf;
	size_t n = strlen(name);

	while ((p = strstr(p, name))) {
		if ((p == buf || p[-1] == ' ') && (p[n] == ' ' || p[n] == ',' || !p[n]))
			return 1;
		p += n;
	}
	return 0;
}

int na_object_probe(char *missing, size_t mlen, char *present, size_t plen)
{
	struct bpf_object *obj = na_object_open();
	struct bpf_program *prog;
	struct bpf_map *map;
	struct btf *btf;
	int nmissing = 0;

	missing[0] = present[0] = '\0';
	if (!obj)
		return -EINVAL;
	btf = btf__load_vmlinux_btf();
	bpf_object__for_each_program(prog, obj) {
		enum bpf_prog_type t = bpf_program__type(prog);
		const char *name = libbpf_bpf_prog_type_str(t), *sec = bpf_program__section_name(prog);
		char tp[128];

		/* libbpf cannot probe tracing programs (they need a BTF target): their tracepoints are checked below. */
		if (t != BPF_PROG_TYPE_TRACING && !listed(present, name)) {
			na_str_append(present, plen, "%s%s", present[0] ? " " : "", name);
			if (libbpf_probe_bpf_prog_type(t, NULL) != 1) {
				na_str_append(missing, mlen, " %s", name);
				nmissing++;
			}
		}
		/* Tracing programs are not probed by libbpf: the tracepoints they attach to are looked up in BTF. */
		if (!strncmp(sec, "tp_btf/", 7)) {
			snprintf(tp, sizeof(tp), "btf_trace_%s", sec + 7);
			na_str_append(present, plen, " %s", tp);
			if (!btf || btf__find_by_name_kind(btf, tp, BTF_KIND_TYPEDEF) < 0) {
				na_str_append(missing, mlen, " %s", tp);
				nmissing++;
			}
		}
	}
	bpf_object__for_each_map(map, obj) {
		enum bpf_map_type t = bpf_map__type(map);
		const char *name = libbpf_bpf_map_type_str(t);

		if (bpf_map__is_internal(map) || listed(present, name))
			continue;
		na_str_append(present, plen, " %s", name);
		if (libbpf_probe_bpf_map_type(t, NULL) != 1) {
			na_str_append(missing, mlen, " %s", name);
			nmissing++;
		}
	}
	btf__free(btf);
	bpf_object__close(obj);
	return nmissing;
}
