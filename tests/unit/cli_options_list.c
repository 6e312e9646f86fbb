// SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0)
/*
 * The options of each command that has an option table (cli/options.h),
 * read from the command table itself: one line per command, "CMD -s --long
 * --other ...", without the short names a table takes but does not offer
 * (NA_OPTF_SHORT_UNLISTED). cli.completion holds scripts/netacct.bash-completion and
 * `netacct help CMD` to it.
 */
#include <stdio.h>

#include "args.h"

int main(void)
{
	const struct na_option *op;
	const struct na_cmd *c;
	size_t i;

	for (i = 0; (c = na_cmd_at(i)); i++) {
		if (!c->opts)
			continue;
		fputs(c->name, stdout);
		for (op = c->opts->opts; op->name; op++) {
			if (op->short_name && !(op->flags & NA_OPTF_SHORT_UNLISTED))
				printf(" -%c", op->short_name);
			printf(" --%s", op->name);
		}
		putchar('\n');
	}
	return fflush(stdout) ? 1 : 0;
}
