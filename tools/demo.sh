#!/bin/sh
# tools/demo.sh STRATA — `make demo`: builds the demo image (tools/demoimage.sh: three gzip layers
# of real Debian 12 packages, layer 3 deleting a file of layer 2), mounts it read-only with
# `STRATA mount` in a temporary directory, shows what an analyst sees, and unmounts.
# Exit 0 when every step worked.
set -eu
strata=${1:?usage: tools/demo.sh PATH/TO/strata}
case "$strata" in /*) ;; *) strata=$(pwd)/$strata ;; esac
here=$(cd "$(dirname "$0")" && pwd)
work=${DEMO_WORK:-build/demo}
mkdir -p "$work" && work=$(cd "$work" && pwd) # absolute: the steps run from other directories
img=$work/demo.tar

# ---- prerequisites --------------------------------------------------------------------------
missing=""
for c in apt-get dpkg-deb dpkg-query tar gzip getfattr fusermount3 sha256sum bash; do
	command -v "$c" >/dev/null 2>&1 || missing="$missing $c"
done
[ -e /dev/fuse ] || missing="$missing /dev/fuse"
if [ -n "$missing" ]; then
	echo "demo: missing:$missing — run 'sh tools/deps.sh' first (as root)" >&2
	[ -e /dev/fuse ] || echo "demo: /dev/fuse is absent: in a container, start it with --device /dev/fuse --cap-add SYS_ADMIN" >&2
	exit 2
fi
[ -x "$strata" ] || { echo "demo: $strata: not an executable (run 'make' first)" >&2; exit 2; }

sh "$here/demoimage.sh" "$img"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/strata-demo.XXXXXX")
mnt=$tmp/mnt
mkdir "$mnt"
cleanup() {
	cd /
	if mountpoint -q "$mnt" 2>/dev/null; then
		"$strata" umount "$mnt" 2>/dev/null || fusermount3 -u -z "$mnt" 2>/dev/null || true
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP PIPE

failed=0
bold='' norm=''
if [ -t 1 ]; then bold=$(printf '\033[1m') norm=$(printf '\033[0m'); fi
# step TEXT CMD...: prints "$ TEXT" then runs CMD, reporting a failure without stopping.
step() {
	_text=$1; shift
	printf '\n%s$ %s%s\n' "$bold" "$_text" "$norm"
	"$@" || { echo "(exit $?)"; failed=$((failed + 1)); }
}

echo "demo image: $img ($(du -h "$img" | cut -f1), docker-archive, 3 gzip layers of real Debian packages)"
printf '\n%s$ strata mount %s %s%s\n' "$bold" "$img" "$mnt" "$norm"
if ! "$strata" mount --index "$work/demo.index" "$img" "$mnt"; then
	echo "demo: strata mount failed" >&2
	exit 1
fi

printf '%s$ cd %s%s\n' "$bold" "$mnt" "$norm"
cd "$mnt" # the steps use paths relative to the mount point
step "ls -la" ls -la
step "cat etc/os-release" cat etc/os-release
step "dpkg-query --admindir=var/lib/dpkg -W   # the image's real dpkg database" \
	sh -c 'dpkg-query --admindir=var/lib/dpkg -W -f="\${Package}=\${Version}\n" | paste - - -'
step "ls -li opt/demo/bin   # a hard link: one inode" ls -li opt/demo/bin
step "getfattr -d -m user.strata bin/bash etc/motd" getfattr -d -m user.strata bin/bash etc/motd
step "sha256sum bin/bash   # the same as user.strata.sha256" sha256sum bin/bash
step "ls etc/demo-secret.conf   # deleted by layer 3" sh -c 'ls etc/demo-secret.conf 2>&1; true'
step "ls -la .layers/3/etc   # layer 3 as in its tar: the whiteout" ls -la .layers/3/etc
# The deleted file holds (example) credentials: strata never prints secrets in clear, and neither
# does its demo — show its first lines and its size, not the keys.
step "head -2 .history/2/etc/demo-secret.conf   # the merged view as of layer 2" head -2 .history/2/etc/demo-secret.conf
step "wc -c .history/2/etc/demo-secret.conf" wc -c .history/2/etc/demo-secret.conf
step "ls -la .audit" ls -la .audit
step "cat .audit/verdict   # the default policy's decision" cat .audit/verdict
step "cat .audit/report.txt" cat .audit/report.txt
step "jq -c '.[] | [.rule, .path, .status, .preview]' .audit/findings/secrets.json   # masked, never in clear" \
	sh -c "jq -c '.[] | [.rule, .path, .status, .preview]' .audit/findings/secrets.json 2>/dev/null || cat .audit/findings/secrets.json"
step "head -4 .audit/packages.tsv" head -4 .audit/packages.tsv
step "touch etc/motd   # read-only" sh -c 'touch etc/motd 2>&1; true'
cd "$tmp"

printf '\n%s$ strata umount MNT%s\n' "$bold" "$norm"
"$strata" umount "$mnt" || failed=$((failed + 1))
step "strata audit --index $work/demo.index $img; echo \"exit \$?\"   # for CI: 0 pass, 1 fail, 2 error" \
	sh -c '"$0" audit -q --index "$1" "$2" >/dev/null; rc=$?; echo "exit $rc"; [ "$rc" = 1 ]' "$strata" "$work/demo.index" "$img"
echo
if [ "$failed" = 0 ]; then
	echo "demo: all steps worked (MNT was $mnt)"
else
	echo "demo: $failed step(s) failed" >&2
	exit 1
fi
