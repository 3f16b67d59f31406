# tests/integration/lib/mount.sh — sourced after common.sh by the mount_*.sh tests: real FUSE
# mounts that are always unmounted on exit, and helpers to compare a mounted tree with a
# reference tree.
MOUNTS=()
mount_cleanup() {
	local m
	for m in "${MOUNTS[@]}"; do
		mountpoint -q "$m" 2>/dev/null && { fusermount3 -u "$m" 2>/dev/null || umount -l "$m" 2>/dev/null; }
	done
	rm -rf "$T"
}
trap mount_cleanup EXIT

# need_fuse: skip the whole test without a usable /dev/fuse and fusermount3.
need_fuse() {
	if [ ! -c /dev/fuse ] || ! command -v fusermount3 >/dev/null; then
		echo "1..0 # SKIP no FUSE (/dev/fuse, fusermount3)"; exit 77
	fi
}

# smount IMAGE MNT [ARGS…]: strata mount (daemonised); status of strata mount.
smount() {
	local img=$1 mnt=$2
	shift 2
	mkdir -p "$mnt"
	MOUNTS+=("$mnt")
	"$STRATA" mount "$@" "$img" "$mnt"
}

# sumount MNT: strata umount, then waits (up to 10 s) until the serving process is gone.
sumount() {
	"$STRATA" umount "$1" || return 1
	local i
	for i in $(seq 1 100); do
		strata_procs "$1" || return 0
		sleep 0.1
	done
	return 1
}

# strata_procs MNT: status 0 when a strata process serving MNT still runs.
strata_procs() {
	pgrep -f -- "strata mount .*$1\$" >/dev/null
}

# hardlink_groups DIR: "path<TAB>first path with the same inode", for files with several links.
hardlink_groups() {
	(cd "$1" && find . -mindepth 1 ! -type d -links +1 -printf '%i\t%P\n') | LC_ALL=C sort -t$'\t' -k2 |
		awk -F'\t' '{ if (!($1 in first)) first[$1] = $2; print $2 "\t" first[$1] }'
}

# file_hashes DIR: sha256sum of every regular file, read through DIR, sorted by path.
file_hashes() {
	(cd "$1" && find . -mindepth 1 -type f -printf '%P\0' | LC_ALL=C sort -z | xargs -0 -r sha256sum --)
}
