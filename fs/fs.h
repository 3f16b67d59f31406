/* fs/fs.h — the FUSE driver: serves an opened index as a read-only file system.
 *
 * fs_main mounts, serves with a multithreaded loop until unmounted (fusermount3 -u, umount) or
 * signalled (SIGINT, SIGTERM, SIGHUP: the mount is then removed cleanly), and returns. It never
 * forks; daemonising is the caller's job (tools/cmd_mount.c), told through ready_fd when the
 * mount answers. */
#ifndef STRATA_FS_H
#define STRATA_FS_H

#include "../index/index.h"

struct fs_mount; /* opaque: the state of one mount (fs/fs_int.h) */

struct fs_options {
	const char *mountpoint; /* an existing empty directory; borrowed */
	const char *image_name; /* for log lines ("strata: IMAGE: layer N: /path: …"); borrowed */
	/* Comma-separated mount options. strata's own: meta=NAME (put the reserved trees under
	 * /NAME/), hide_meta (leave them out of readdir of /), log=PATH (append log lines to PATH
	 * instead of stderr). Everything else goes to FUSE / the kernel (allow_other,
	 * default_permissions, …). May be NULL. */
	const char *mount_opts;
	bool debug;             /* FUSE request tracing on stderr */
	/* -1, or the write end of a pipe: fs_main writes "OK\n" once the kernel's INIT request has
	 * been answered (the mount answers), or "ERR <message>\n" if it fails before, and closes it. */
	int ready_fd;
};

/* Mounts db (borrowed; must stay open until fs_main returns) at o->mountpoint and serves until
 * unmounted. Returns 0 after a clean unmount, or -1 with *err (bad options, mount refused). */
int fs_main(const struct fs_options *o, struct index_db *db, struct strata_err **err);

#endif
