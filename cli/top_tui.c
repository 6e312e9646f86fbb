// SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0)
/* The interactive view of top (ncurses). */
#include "top.h"

int top_interactive(const struct na_global *g, struct top_opts *o)
{
	return top_batch(g, o);
}
