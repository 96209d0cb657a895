/* SPDX-License-Identifier: MIT */
#include "natlab/cmd.h"

#include <stdio.h>

int cmd_probe(int argc, char **argv)
{
	fprintf(stderr, "natlab probe: not built yet\n");
	return 1;
}
