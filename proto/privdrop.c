/* SPDX-License-Identifier: MIT */
#include "natlab/privdrop.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

int priv_drop(const char *user, char *err, size_t errlen)
{
	struct passwd *pw;
	char *end;
	unsigned long id;
	int rc;

	errno = 0;
	pw = getpwnam(user);
	if (!pw && user[0] >= '0' && user[0] <= '9') {
		id = strtoul(user, &end, 10);
		if (!*end && id <= 0xfffffffe) {
			errno = 0;
			pw = getpwuid((uid_t)id);
		}
	}
	if (!pw) {
		rc = errno ? -errno : -ENOENT;
		snprintf(err, errlen, "--user %s: %s: name a user of this machine (getent passwd)",
		         user, errno ? strerror(errno) : "no such user");
		return rc;
	}
	if (pw->pw_uid == 0) {
		snprintf(err, errlen, "--user %s: is root: name an unprivileged user (e.g. nobody)",
		         user);
		return -EINVAL;
	}
	if (setgroups(0, NULL) < 0 || setresgid(pw->pw_gid, pw->pw_gid, pw->pw_gid) < 0 ||
	    setresuid(pw->pw_uid, pw->pw_uid, pw->pw_uid) < 0) {
		rc = -errno;
		snprintf(err, errlen, "--user %s: cannot switch to uid %u: %s (start as root)",
		         user, (unsigned)pw->pw_uid, strerror(-rc));
		return rc;
	}
	/* Nothing we exec may gain privileges back (setuid binaries, file capabilities). */
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) {
		rc = -errno;
		snprintf(err, errlen, "--user %s: no_new_privs: %s", user, strerror(-rc));
		return rc;
	}
	if (setuid(0) == 0 || seteuid(0) == 0 || setgid(0) == 0 || getuid() != pw->pw_uid ||
	    geteuid() != pw->pw_uid) {
		snprintf(err, errlen,
		         "--user %s: root could be regained after switching: refusing "
		         "to go on",
		         user);
		return -EPERM;
	}
	return 0;
}
