/* SPDX-License-Identifier: MIT */
#include "natlab/wire_sched.h"
#include "natlab/log.h"

#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>

int wire_sched_realtime(void)
{
	const char *want = getenv("NATLAB_WIRE_SCHED");
	struct sched_param sp = { .sched_priority = WIRE_SCHED_PRIORITY };

	if (want && strcmp(want, "normal") == 0)
		return 0;
	if (sched_setscheduler(0, SCHED_FIFO | SCHED_RESET_ON_FORK, &sp) < 0) {
		int rc = -errno;

		log_debug("wires: SCHED_FIFO refused (%s): their timing follows the machine's load",
		          strerror(-rc));
		return rc;
	}
	return 1;
}
