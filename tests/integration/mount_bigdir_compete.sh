#!/bin/bash
# tests/integration/mount_bigdir_compete.sh — two large directories listed at the same time on a
# fresh mount: together their listings exceed the driver's listing cache budget, so each listing
# must survive the other's insertion while its reader is part-way (before, every READDIRPLUS of
# ~22 entries rebuilt a whole listing and two `ls -f` of 60,000 names took 1 min 45 s). Both
# listers must finish (a generous timeout, far above the few seconds they take) and see the names
# `tar -x` gives; then the same with a telldir/seekdir lister in one directory while `ls -f` reads
# the other and `cat` reads every file of a third (the prefetcher follows that listing).
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "$(dirname "$0")/lib/common.sh"
. "$(dirname "$0")/lib/mount.sh"
need_strata
need_fuse
export LC_ALL=C
command -v perl >/dev/null && command -v python3 >/dev/null || { echo "1..0 # SKIP no perl or python3"; exit 77; }
N=60000
LIMIT=${STRATA_COMPETE_TIMEOUT:-45}

python3 - "$T/L1.tar" "$N" <<'PY' || { echo "Bail out! python tarfile"; exit 1; }
import io, sys, tarfile
out, n = sys.argv[1], int(sys.argv[2])
with tarfile.open(out, "w", format=tarfile.GNU_FORMAT) as t:
    for d in ("A", "B", "C"):
        ti = tarfile.TarInfo(d); ti.type, ti.mode, ti.mtime = tarfile.DIRTYPE, 0o755, 1700000000
        t.addfile(ti)
        for i in range(n if d != "C" else 2000):
            ti = tarfile.TarInfo(f"{d}/file-{i:06d}-{'x' * (i % 23)}")
            data = b"%d\n" % i if d == "C" else b""
            ti.size, ti.mode, ti.mtime = len(data), 0o644, 1700000000
            t.addfile(ti, io.BytesIO(data))
PY
bash "$REPO/tools/mkimage.sh" --form docker -o "$T/img.tar" "$T/L1.tar" >"$T/mk.log" 2>&1
ok $? "image: A/ and B/ with $N files each, C/ with 2000 small files"; diag <"$T/mk.log"
mkdir -p "$T/ref" && tar -xf "$T/L1.tar" -C "$T/ref"; ok $? "reference tree extracted with tar -x"
for d in A B C; do (cd "$T/ref/$d" && ls -f -a) | sort >"$T/want.$d"; done
"$STRATA" index "$T/img.tar" --index "$T/idx.db" -q >/dev/null 2>"$T/err"; ok $? "index"; diag <"$T/err"

mnt=$T/mnt
smount "$T/img.tar" "$mnt" --index "$T/idx.db" 2>"$T/err" </dev/null; ok $? "fresh mount"; diag <"$T/err"
start=$(date +%s.%N)
timeout "$LIMIT" ls -f -a "$mnt/A" >"$T/got.A" 2>"$T/err.A" & pa=$!
timeout "$LIMIT" ls -f -a "$mnt/B" >"$T/got.B" 2>"$T/err.B" & pb=$!
wait $pa; ra=$?
wait $pb; rb=$?
echo "two listers: $(echo "$(date +%s.%N) - $start" | bc) s" | diag
ok "$([ $ra = 0 ] && [ $rb = 0 ]; echo $?)" "ls -f of A/ and B/ at the same time both finish (status $ra $rb)"
cat "$T/err.A" "$T/err.B" | head -3 | diag
for d in A B; do
	sort -o "$T/got.$d" "$T/got.$d"
	same_output "ls -f $d/ saw the $(wc -l <"$T/want.$d") names of tar -x's $d/" "$T/want.$d" "$T/got.$d"
done
sumount "$mnt"; ok $? "umount"

# seek.pl DIR OUT: reads DIR recording telldir before each entry; every 1000 entries seeks back 500
# entries and checks that the same names follow; writes the names (sorted) to OUT.
cat >"$T/seek.pl" <<'PL'
use strict; use warnings;
my ($dir, $out) = @ARGV;
opendir(my $d, $dir) or die "opendir $dir: $!";
my (@names, @pos, $bad);
while (1) {
	my $p = telldir($d); my $x = readdir($d); last unless defined $x;
	push @pos, $p; push @names, $x;
	next unless @names % 1000 == 0;
	my $i = @names - 500; seekdir($d, $pos[$i]);
	for my $k ($i .. $#names) { my $y = readdir($d); unless (defined $y && $y eq $names[$k]) { print "FAIL: seekdir to entry $i\n"; $bad = 1; last } }
}
closedir($d);
open(my $o, ">", $out) or die; print $o "$_\n" for sort @names; close $o;
exit($bad ? 1 : 0);
PL
smount "$T/img.tar" "$mnt" --index "$T/idx.db" 2>"$T/err" </dev/null; ok $? "fresh mount"; diag <"$T/err"
timeout "$LIMIT" perl "$T/seek.pl" "$mnt/A" "$T/got.A" >"$T/seek.out" 2>&1 & pa=$!
timeout "$LIMIT" ls -f -a "$mnt/B" >"$T/got.B" 2>"$T/err.B" & pb=$!
(cd "$mnt/C" && timeout "$LIMIT" find . -type f -exec cat {} + | wc -l) >"$T/got.catC" 2>"$T/err.C" & pc=$!
wait $pa; ra=$?
wait $pb; rb=$?
wait $pc; rc=$?
ok "$([ $ra = 0 ] && [ $rb = 0 ] && [ $rc = 0 ]; echo $?)" \
	"telldir/seekdir in A/, ls -f in B/, cat of every file of C/ at the same time finish (status $ra $rb $rc)"
cat "$T/seek.out" "$T/err.B" "$T/err.C" | head -5 | diag
sort -o "$T/got.B" "$T/got.B"
same_output "the seekdir lister saw tar -x's A/" "$T/want.A" "$T/got.A"
same_output "ls -f saw tar -x's B/" "$T/want.B" "$T/got.B"
[ "$(cat "$T/got.catC")" = 2000 ]; ok $? "cat read the 2000 lines of C/ ($(cat "$T/got.catC"))"
sumount "$mnt"; ok $? "umount"
tap_done
