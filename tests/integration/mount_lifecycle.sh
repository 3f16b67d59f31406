#!/bin/bash
# tests/integration/mount_lifecycle.sh — mount and unmount as a user meets them: the command
# returns once the mount answers, a second mount reuses the index (file not rewritten), cycles
# leave no process behind, a foreground mount unmounts on SIGTERM, and a missing, non-empty or
# already mounted mount point (and umount of something else) is a one-line error, exit 2.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "$(dirname "$0")/lib/common.sh"
. "$(dirname "$0")/lib/mount.sh"
need_strata
need_fuse
need_fixtures
export LC_ALL=C

img=$FIX/images/oci-gzip mnt=$T/mnt idx=$T/idx.db
smount "$img" "$mnt" --index "$idx" 2>"$T/err" </dev/null && ls "$mnt" | grep -q .
ok $? "strata mount returns once the mount answers (ls right after)"
diag <"$T/err"
grep -q "fuse.strata" <(grep " $mnt " /proc/self/mountinfo); ok $? "mountinfo shows a fuse.strata mount"
before=$(stat -c '%i %Y %s' "$idx")
sumount "$mnt"; ok $? "strata umount; the serving process exits"

for i in 1 2 3; do
	smount "$img" "$mnt" --index "$idx" 2>"$T/err" </dev/null && [ -d "$mnt/.history/4" ] && sumount "$mnt"
	ok $? "mount/umount cycle $i"
done
[ "$(stat -c '%i %Y %s' "$idx")" = "$before" ]; ok $? "later mounts reuse the index (inode, mtime, size unchanged)"
! mountpoint -q "$mnt" && ! strata_procs "$mnt"; ok $? "no mount and no strata process left"

# Errors: exit 2 and one line.
"$STRATA" mount "$img" "$T/missing" --index "$idx" 2>"$T/err" </dev/null
[ $? = 2 ] && one_line_err "$T/err"; ok $? "missing mount point: exit 2, one line: $(cat "$T/err")"
mkdir -p "$T/full" && touch "$T/full/x"
"$STRATA" mount "$img" "$T/full" --index "$idx" 2>"$T/err" </dev/null
[ $? = 2 ] && one_line_err "$T/err" && grep -q "not empty" "$T/err"; ok $? "non-empty mount point: $(cat "$T/err")"
smount "$img" "$mnt" --index "$idx" 2>/dev/null </dev/null
"$STRATA" mount "$img" "$mnt" --index "$idx" 2>"$T/err" </dev/null
[ $? = 2 ] && one_line_err "$T/err" && grep -q "already a mount" "$T/err"; ok $? "already mounted: $(cat "$T/err")"
sumount "$mnt"
mkdir -p "$T/plain"
"$STRATA" umount "$T/plain" 2>"$T/err"
[ $? = 2 ] && one_line_err "$T/err"; ok $? "umount of a plain directory: $(cat "$T/err")"
"$STRATA" umount /proc 2>"$T/err"
[ $? = 2 ] && grep -q "not a strata mount" "$T/err"; ok $? "umount of another file system: $(cat "$T/err")"

# Foreground: serves until SIGTERM, then unmounts by itself.
MOUNTS+=("$mnt")
"$STRATA" mount -f "$img" "$mnt" --index "$idx" 2>"$T/err" </dev/null &
pid=$!
for i in $(seq 1 100); do [ -d "$mnt/.audit" ] && break; sleep 0.1; done
[ -f "$mnt/.audit/image.json" ]; ok $? "-f: the mount answers while the command runs"
kill -TERM $pid
wait $pid; rc=$?
[ $rc = 0 ] && ! mountpoint -q "$mnt"; ok $? "-f: SIGTERM unmounts cleanly (exit $rc)"
tap_done
