/* SPDX-License-Identifier: MIT */
#include "natlab/memstream.h"

#include <errno.h>
#include <stdlib.h>

int memstream_done(FILE *f, char **out)
{
	if (fclose(f) != 0) {
		free(*out);
		*out = NULL;
		return -ENOMEM;
	}
	return 0;
}
