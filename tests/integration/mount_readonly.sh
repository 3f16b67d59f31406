#!/bin/bash
# tests/integration/mount_readonly.sh — every way of writing to a strata mount fails with EROFS
# ("Read-only file system"), and the image is unchanged afterwards.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "$(dirname "$0")/lib/common.sh"
. "$(dirname "$0")/lib/mount.sh"
need_strata
need_fuse
need_fixtures
export LC_ALL=C

mnt=$T/mnt
smount "$FIX/images/oci-gzip" "$mnt" --index "$T/idx.db" 2>"$T/err" </dev/null; ok $? "mount"
f=$(cd "$mnt" && find . -type f -size +0 ! -path './.*' | head -1)
f=${f#./}
d=$(cd "$mnt" && find . -mindepth 1 -type d ! -path './.*' | head -1)
d=${d#./}
before=$(ref_list "$mnt"; file_hashes "$mnt" | sha256sum)

erofs() { # DESCRIPTION COMMAND…: the command fails and says "Read-only file system"
	local what=$1
	shift
	if "$@" >"$T/out" 2>&1; then fail "$what fails"; return; fi
	grep -q 'Read-only file system' "$T/out"; ok $? "$what fails with EROFS"
	grep -v 'Read-only file system' "$T/out" | diag
}
erofs "touch a new file" touch "$mnt/newfile"
erofs "touch an existing file" touch "$f" -c "$mnt/$f"
erofs "rm a file" rm -f "$mnt/$f"
erofs "rmdir" rmdir "$mnt/$d"
erofs "mkdir" mkdir "$mnt/newdir"
erofs "mv" mv "$mnt/$f" "$mnt/$f.moved"
erofs "chmod" chmod 600 "$mnt/$f"
erofs "chown" chown 1:1 "$mnt/$f"
erofs "ln (hard link)" ln "$mnt/$f" "$mnt/hl"
erofs "ln -s" ln -s x "$mnt/sl"
erofs "setfattr" setfattr -n user.x -v 1 "$mnt/$f"
erofs "setfattr -x" setfattr -x user.strata.sha256 "$mnt/$f"
erofs "truncate" truncate -s 0 "$mnt/$f"
erofs "shell > redirect" sh -c "echo x > '$mnt/$f'"
erofs "shell >> redirect" sh -c "echo x >> '$mnt/$f'"
erofs "open O_RDWR" python3 -c "
import os, sys
try:
    os.open(sys.argv[1], os.O_RDWR)
except OSError as e:
    sys.exit(e.strerror)" "$mnt/$f"
erofs "mknod fifo" mkfifo "$mnt/fifo"
after=$(ref_list "$mnt"; file_hashes "$mnt" | sha256sum)
[ "$before" = "$after" ]; ok $? "the tree and its contents are unchanged"
sumount "$mnt"; ok $? "umount"
tap_done
