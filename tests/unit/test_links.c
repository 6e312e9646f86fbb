// SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0)
/*
 * unit.links: agent/links.c's link table against the BPF object embedded
 * in the binary (agent/object.c opens it, parses it and loads nothing): no
 * program left out, no line naming a program that is not there, and the
 * pin names netacct calls its own. No privilege, no BPF syscall.
 *
 * One line per failed check ("FAIL file:line: what: actual ..., expected ...")
 * and a last line "N passed, N failed". Exit 0 when all passed, 1 otherwise.
 */
#include <stdio.h>

#include <bpf/libbpf.h>

#include "internal.h"
#include "netacct.h"

#pragma GCC poison u8 u16 u32 u64

#include "check.h"

/* ---- the link table against the BPF object ------------------------------ */
/*
 * Every program of the embedded object is in agent/links.c's table or is a
 * syscall program, and every line of the table names a program of the
 * object: attach, detach, status and doctor count and attach by that table.
 * Opening the object parses it only (no BPF syscall, no privilege).
 */
static void test_link_table(void)
{
	struct bpf_object *obj = na_object_open();
	struct bpf_program *prog;
	int ncg = 0, nglobal = 0, nsyscall = 0;
	size_t i;

	ASSERT_EQ(obj != NULL, 1, "the embedded BPF object opens");
	if (!obj)
		return;
	ASSERT_EQ(na_links_check(obj), 0, "link table and BPF object agree");
	bpf_object__for_each_program(prog, obj)
		nsyscall += bpf_program__type(prog) == BPF_PROG_TYPE_SYSCALL;
	for (i = 0; i < na_nlinks; i++) {
		prog = bpf_object__find_program_by_name(obj, na_links[i].prog);
		if (na_links[i].kind == NA_LINK_CGROUP) {
			ncg++;
			/* a cgroup link attaches to a cgroup hook */
			ASSERT_EQ(prog && bpf_program__type(prog) != BPF_PROG_TYPE_TRACING &&
					  bpf_program__type(prog) != BPF_PROG_TYPE_SYSCALL,
				  1, na_links[i].prog);
		} else {
			nglobal++;
		}
		ASSERT_EQ(na_att_pin_is_ours(na_links[i].pin) || na_pin_name_is_ours(na_links[i].pin), 1,
			  na_links[i].pin);
	}
	ASSERT_EQ(ncg, na_cgroup_prog_count(), "cgroup links counted");
	ASSERT_EQ(nglobal, na_global_link_count(), "global links counted");
	ASSERT_EQ(nsyscall > 0, 1, "the object has syscall programs (na_sweep, na_set_owner)");
	ASSERT_EQ(na_pin_name_is_ours("cg_12"), 0, "an attachment directory is not a top-level pin name");
	ASSERT_EQ(na_pin_name_is_ours("other_tool_map"), 0, "a foreign name");
	ASSERT_EQ(na_att_pin_is_ours("totals"), 1, "totals");
	bpf_object__close(obj);
}

int main(void)
{
	test_link_table();
	return check_summary();
}
