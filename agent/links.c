// SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0)
/*
 * What each program of the BPF object becomes once attached. Attach, detach,
 * the repair of an interrupted one, detach --all, status and doctor all read
 * this table: none of them counts programs or names pins by hand. A program
 * of the object that is not here must be a `syscall` program (run on
 * demand, never attached); na_links_check() refuses anything else, so a
 * program added to bpf/netacct.bpf.c without a line here fails at once
 * (and in unit.links) instead of being silently left unattached.
 */
#include <errno.h>
#include <string.h>

#include <bpf/libbpf.h>

#include "internal.h"

const struct na_link_spec na_links[] = {
	{ "na_egress", "egress", NA_LINK_CGROUP },
	{ "na_ingress", "ingress", NA_LINK_CGROUP },
	{ "na_sock_create", "sock_create", NA_LINK_CGROUP },
	{ "na_connect4", "connect4", NA_LINK_CGROUP },
	{ "na_connect6", "connect6", NA_LINK_CGROUP },
	{ "na_release", "sock_release", NA_LINK_CGROUP },
	/* Attached once for all attachments, before the first cgroup's (no row may outlive its socket). */
	{ "na_tcp_destroy", "tcp_destroy", NA_LINK_GLOBAL },
	{ "na_cgroup_mkdir", "cgroup_mkdir", NA_LINK_GLOBAL },
};
const size_t na_nlinks = NA_ARRAY_SIZE(na_links);

_Static_assert(NA_ARRAY_SIZE(na_links) <= NA_MAX_LINKS, "NA_MAX_LINKS too small");

/*
 * Pins at the pin root that an earlier netacct made and this one no longer
 * does: `detach --all` and the repair of a half-made pin root still know
 * them as netacct's. A global link dropped from the table above moves here.
 */
static const char *const retired_pins[] = {
	"tcp_state", /* ABI 3: the inet_sock_set_state tracepoint */
	NULL,
};

/* Pins in an attachment's directory that an earlier netacct made (ABI 3: sendmsg hooks). */
const char *const na_retired_att_pins[] = { "sendmsg4", "sendmsg6", NULL };

/* The per-attachment copy of na_totals, pinned beside the cgroup links. */
const char na_totals_pin[] = "totals";

int na_links_count(enum na_link_kind kind)
{
	size_t i;
	int n = 0;

	for (i = 0; i < na_nlinks; i++)
		n += na_links[i].kind == kind;
	return n;
}

int na_cgroup_prog_count(void)
{
	return na_links_count(NA_LINK_CGROUP);
}

int na_global_link_count(void)
{
	return na_links_count(NA_LINK_GLOBAL);
}

const struct na_link_spec *na_link_by_pin(const char *pin, enum na_link_kind kind)
{
	size_t i;

	for (i = 0; i < na_nlinks; i++)
		if (na_links[i].kind == kind && !strcmp(na_links[i].pin, pin))
			return &na_links[i];
	return NULL;
}

int na_pin_name_is_ours(const char *name)
{
	size_t i;

	if (!strncmp(name, "na_", 3) && name[3])
		return 1; /* every map netacct pins is named na_* */
	if (na_link_by_pin(name, NA_LINK_GLOBAL))
		return 1;
	for (i = 0; retired_pins[i]; i++)
		if (!strcmp(name, retired_pins[i]))
			return 1;
	return 0;
}

int na_att_pin_is_ours(const char *name)
{
	size_t i;

	for (i = 0; na_retired_att_pins[i]; i++)
		if (!strcmp(name, na_retired_att_pins[i]))
			return 1;
	return !strcmp(name, na_totals_pin) || na_link_by_pin(name, NA_LINK_CGROUP) != NULL;
}

int na_links_check(struct bpf_object *obj)
{
	struct bpf_program *prog;
	size_t i;
	int err = 0;

	bpf_object__for_each_program(prog, obj) {
		const char *name = bpf_program__name(prog);

		for (i = 0; i < na_nlinks && strcmp(na_links[i].prog, name); i++)
			;
		if (i == na_nlinks && bpf_program__type(prog) != BPF_PROG_TYPE_SYSCALL) {
			na_log(NA_LOG_ERROR, "BPF object: program %s (%s) has no line in the link table (agent/links.c)",
			       name, bpf_program__section_name(prog));
			err = -EINVAL;
		}
	}
	for (i = 0; i < na_nlinks; i++) {
		if (!bpf_object__find_program_by_name(obj, na_links[i].prog)) {
			na_log(NA_LOG_ERROR, "link table: no program %s in the BPF object", na_links[i].prog);
			err = -EINVAL;
		}
	}
	return err;
}
