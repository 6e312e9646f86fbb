// SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0)
/*
 * na_bench_attach: attach reference programs for tests/bench/run.
 *
 *   na_bench_attach OBJECT CGROUP PINDIR PROGRAM...
 *
 * Loads OBJECT (all its programs), attaches each PROGRAM named: a cgroup
 * program to CGROUP (a link, with multi-attach semantics), a tracing program
 * where its section says, and pins each link as PINDIR/PROGRAM, so that
 * they stay attached after this process exits. Removing the pins detaches
 * them. bpftool cannot attach a tp_btf program to stay, which the floor
 * reference needs. Exit 0, or 1 with a message.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

int main(int argc, char **argv)
{
	struct bpf_object *obj;
	char path[4096];
	int cg, i, err;

	if (argc < 5) {
		fprintf(stderr, "usage: na_bench_attach OBJECT CGROUP PINDIR PROGRAM...\n");
		return 2;
	}
	obj = bpf_object__open_file(argv[1], NULL);
	if (!obj || bpf_object__load(obj)) {
		fprintf(stderr, "na_bench_attach: load %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	cg = open(argv[2], O_RDONLY | O_DIRECTORY);
	if (cg < 0 || (mkdir(argv[3], 0700) && errno != EEXIST)) {
		fprintf(stderr, "na_bench_attach: %s / %s: %s\n", argv[2], argv[3], strerror(errno));
		return 1;
	}
	for (i = 4; i < argc; i++) {
		struct bpf_program *p = bpf_object__find_program_by_name(obj, argv[i]);
		struct bpf_link *l;

		if (!p) {
			fprintf(stderr, "na_bench_attach: no program %s in %s\n", argv[i], argv[1]);
			return 1;
		}
		l = bpf_program__type(p) == BPF_PROG_TYPE_TRACING ? bpf_program__attach(p)
								     : bpf_program__attach_cgroup(p, cg);
		err = libbpf_get_error(l);
		if (!err) {
			snprintf(path, sizeof(path), "%s/%s", argv[3], argv[i]);
			err = bpf_link__pin(l, path);
		}
		if (err) {
			fprintf(stderr, "na_bench_attach: attach %s: %s\n", argv[i], strerror(-err));
			return 1;
		}
	}
	return 0;
}
