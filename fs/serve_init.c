/* fs/serve_init.c — the start of serving: answering the kernel's INIT before the worker threads
 * start, then raising the mount's read-ahead so that file data travels in READs of up to 1 MiB.
 *
 * The kernel sizes a FUSE mount's readahead from its backing device info (bdi, shown as
 * /sys/class/bdi/MAJOR:MINOR/, the numbers of the mount's st_dev): 128 KiB by default, and the
 * INIT reply can only lower it (the kernel takes the smaller of its value and the reply's). A
 * sequential reader therefore sees READs of at most 128 KiB, each a round trip through
 * /dev/fuse with its wake-ups. libfuse already offers max_pages = 256 (1 MiB READs), so raising
 * read_ahead_kb after INIT is enough for the kernel to send bigger READs. It must be written after
 * the kernel has processed the INIT reply (else the reply's minimum undoes it), which is why INIT
 * is answered here on the main thread, before the multithreaded loop and before the waiting
 * parent hears that the mount answers. Where /sys is not writable (no privilege, a container) the
 * mount keeps the default, silently: it is a speed-up, not a requirement. */
#include "fs_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

int fs_serve_until_init(struct fuse_session *se, const bool *done)
{
	struct fuse_buf fbuf = {.mem = NULL};
	int rc = 0;
	while (!__atomic_load_n(done, __ATOMIC_ACQUIRE) && !fuse_session_exited(se)) {
		int r = fuse_session_receive_buf(se, &fbuf);
		if (r == -EINTR)
			continue;
		if (r <= 0) {
			rc = -1;
			break;
		}
		fuse_session_process_buf(se, &fbuf);
	}
	free(fbuf.mem);
	return rc;
}

/* True when the mount table has a FUSE mount at mountpoint whose device is major:minor. The
 * device behind the path is checked, not assumed: were something else mounted over the path
 * meanwhile, the host's setting of a real disk must not change. statfs() cannot tell: it would
 * send a STATFS request that nobody answers yet. */
static bool dev_is_our_fuse_mount(const char *mountpoint, unsigned major, unsigned minor)
{
	if (major != 0) /* FUSE devices are anonymous (major 0) */
		return false;
	cleanup_fclose FILE *f = fopen("/proc/self/mountinfo", "re");
	if (!f)
		return false;
	char want[32];
	snprintf(want, sizeof(want), "%u:%u", major, minor);
	cleanup_free char *line = NULL;
	size_t cap = 0;
	bool found = false;
	/* "ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS... - FSTYPE SOURCE SUPEROPTS"; the mount point
	 * is octal-escaped, so a path with blanks compares unequal and the setting is skipped. */
	while (!found && getline(&line, &cap, f) > 0) {
		char dev[32], mnt[4096];
		if (sscanf(line, "%*u %*u %31s %*s %4095s", dev, mnt) != 2 || strcmp(dev, want) != 0)
			continue;
		const char *sep = strstr(line, " - ");
		found = sep && !strncmp(sep + 3, "fuse", 4) && !strcmp(mnt, mountpoint);
	}
	return found;
}

bool fs_bdi_set_readahead(const char *mountpoint, unsigned kb)
{
	/* AT_STATX_DONT_SYNC with an empty mask: the kernel answers st_dev from the superblock without
	 * a GETATTR, which nobody would answer yet (this runs before the worker threads start). */
	struct statx stx;
	if (statx(AT_FDCWD, mountpoint, AT_STATX_DONT_SYNC, 0, &stx) != 0)
		return false;
	if (!dev_is_our_fuse_mount(mountpoint, stx.stx_dev_major, stx.stx_dev_minor))
		return false;
	char path[96];
	snprintf(path, sizeof(path), "/sys/class/bdi/%u:%u/read_ahead_kb", stx.stx_dev_major, stx.stx_dev_minor);
	cleanup_close int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	char val[16];
	int n = snprintf(val, sizeof(val), "%u\n", kb);
	return write(fd, val, (size_t)n) == n;
}
