/* SPDX-License-Identifier: MIT */
/*
 * Failing to return to the home network namespace is never silent (issue 19: five
 * callers ignored lab_netns_leave()'s result and went on in a lab namespace). Without
 * lab_netns_init() there is no home to return to: the process must stop, saying so.
 */
#include "natlab/netns.h"
#include "tap.h"

#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

int main(void)
{
	char msg[512] = "";
	int fds[2], status = -1;
	ssize_t n;
	pid_t pid;

	if (pipe(fds) < 0)
		tap_skip_all("pipe");
	pid = fork();
	if (pid == 0) {
		dup2(fds[1], 2);
		lab_netns_leave();
		_exit(0); /* went on as if home */
	}
	close(fds[1]);
	n = read(fds[0], msg, sizeof(msg) - 1);
	msg[n > 0 ? n : 0] = '\0';
	waitpid(pid, &status, 0);
	ok(WIFEXITED(status) && WEXITSTATUS(status) != 0,
	   "a thread that cannot return home stops the process (status %d)", status);
	ok(strstr(msg, "cannot return to the home network namespace") != NULL, "and says why: %s",
	   msg);
	return tap_done();
}
