#!/bin/bash
# tests/integration/mount_sigterm_busy.sh — SIGTERM while six readers `cat` a directory of 4,000
# small files (so READs are in flight and the prefetcher pushes the next files into the page
# cache): each time the daemon exits within 10 s and the mount point is unmounted. The daemon
# stops the prefetcher while its workers still answer READs (a store can wait for a page a READ
# holds locked); stopping it after the workers had stopped could hang the daemon for ever.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "$(dirname "$0")/lib/common.sh"
. "$(dirname "$0")/lib/mount.sh"
need_strata
need_fuse
command -v python3 >/dev/null || { echo "1..0 # SKIP no python3"; exit 77; }
export LC_ALL=C

python3 - "$T/L1.tar" <<'PY' || { echo "Bail out! python tarfile"; exit 1; }
import io, sys, tarfile
with tarfile.open(sys.argv[1], "w", format=tarfile.GNU_FORMAT) as t:
    ti = tarfile.TarInfo("d"); ti.type, ti.mode = tarfile.DIRTYPE, 0o755; t.addfile(ti)
    for i in range(4000):
        data = (b"%06d " % i) * (200 + i % 3000)
        ti = tarfile.TarInfo("d/f%06d" % i); ti.size, ti.mode = len(data), 0o644
        t.addfile(ti, io.BytesIO(data))
PY
bash "$REPO/tools/mkimage.sh" --form docker --layer-compress gzip -o "$T/img.tar" "$T/L1.tar" >"$T/mk.log" 2>&1
ok $? "image of 4,000 small files"; diag <"$T/mk.log"

mnt=$T/mnt
for it in 1 2 3 4; do
	smount "$T/img.tar" "$mnt" --index "$T/idx.db" 2>"$T/err" </dev/null || { fail "mount $it"; diag <"$T/err"; continue; }
	pid=$(pgrep -f -- "strata mount .*$mnt\$" | head -1)
	[ -n "$pid" ] || { fail "mount $it: no serving process found"; continue; }
	readers=()
	for k in 0 40 80 120 160 200; do
		( cd "$mnt/d" && ls | tail -n +$((k + it)) | xargs cat >/dev/null 2>&1 ) 2>/dev/null & readers+=($!)
	done
	sleep "0.$((3 + it * 2))"
	kill -TERM "$pid"
	for i in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
	if kill -0 "$pid" 2>/dev/null; then
		fail "SIGTERM $it with readers busy: the daemon exits within 10 s"
		tr '\0' ' ' </proc/"$pid"/wchan 2>/dev/null | diag
		umount -l "$mnt" 2>/dev/null; kill -KILL "$pid" 2>/dev/null
	else
		pass "SIGTERM $it with readers busy: the daemon exits within 10 s"
	fi
	for p in "${readers[@]}"; do kill "$p" 2>/dev/null; done
	wait 2>/dev/null
	! mountpoint -q "$mnt"; ok $? "SIGTERM $it: the mount point is unmounted"
done
tap_done
