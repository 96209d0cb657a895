/* SPDX-License-Identifier: MIT */
/* Out dirs: the directories natlab run and the matrix write into (outdir.c). */
#ifndef NATLAB_OUTDIR_H
#define NATLAB_OUTDIR_H

/* mkdir -p: creates path and its missing parents (mode 0755). Returns 0 or -errno. */
int lab_mkdir_p(const char *path);

#endif
