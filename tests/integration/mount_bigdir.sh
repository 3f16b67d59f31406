#!/bin/bash
# tests/integration/mount_bigdir.sh — directories far larger than one readdir buffer, through a
# mount, against the same layers extracted with `tar -x`: `ls -f` and `find -printf` list the
# same names and attributes; a Perl program using telldir/seekdir/rewinddir gets stable
# positions, both while the kernel still asks the driver (first pass) and once the kernel has the
# listing cached; 20 directories read interleaved (more than the driver's listing cache holds)
# and concurrent listers all see complete listings; /.history/1 and /.layers/2 too.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "$(dirname "$0")/lib/common.sh"
. "$(dirname "$0")/lib/mount.sh"
need_strata
need_fuse
export LC_ALL=C
command -v perl >/dev/null || { echo "1..0 # SKIP no perl"; exit 77; }

# ---- two layers made with real tar ---------------------------------------------------------
# Layer 1: big/ (3000 entries: files with names of 1 to 200 bytes, UTF-8 and spaces, symlinks,
# subdirectories) and d00..d19 (300 entries each). Layer 2: 500 more names in big/ and whiteouts
# for 200 of layer 1's.
perl -e '
	use strict;
	my ($s1, $s2) = @ARGV;
	mkdir $_ for $s1, "$s1/big", $s2, "$s2/big";
	my $name = sub { my ($i, $tag) = @_; my $len = 1 + ($i * 37) % 200; my $b = "$tag$i-";
		$b .= "x" x ($len - length $b) if length $b < $len; $b };
	for my $i (0 .. 2999) {
		my $p = "$s1/big/" . $name->($i, "f");
		if ($i % 97 == 0) { mkdir $p; open(my $f, ">", "$p/inner") or die; close $f }
		elsif ($i % 31 == 0) { symlink("target-$i", $p) or die }
		elsif ($i % 53 == 0) { open(my $f, ">", "$s1/big/caf\x{c3}\x{a9} $i") or die; print $f "x" x $i; close $f }
		else { open(my $f, ">", $p) or die "$p: $!"; print $f "y" x ($i % 7); close $f }
	}
	for my $d (0 .. 19) {
		my $dir = sprintf("%s/d%02d", $s1, $d); mkdir $dir;
		for my $i (0 .. 299) { open(my $f, ">", "$dir/" . $name->($i + $d, "e")) or die; close $f }
	}
	for my $i (0 .. 499) { open(my $f, ">", "$s2/big/" . $name->($i, "g")) or die; print $f "z"; close $f }
	for my $i (1 .. 200) {
		my $v = $i * 13;
		next if $v % 97 == 0 || $v % 31 == 0 || $v % 53 == 0;
		open(my $f, ">", "$s2/big/.wh." . $name->($v, "f")) or die; close $f;
	}
' "$T/src1" "$T/src2"
tarl() { tar --sort=name --owner=0 --group=0 --numeric-owner --mtime=@1700000000 -cf "$2" -C "$1" .; }
tarl "$T/src1" "$T/L1.tar" && tarl "$T/src2" "$T/L2.tar" &&
	bash "$REPO/tools/mkimage.sh" --form docker --layer-compress gzip -o "$T/img.tar" "$T/L1.tar" "$T/L2.tar" >"$T/mk.log" 2>&1
ok $? "two layers with tar ($(tar -tf "$T/L1.tar" | wc -l) and $(tar -tf "$T/L2.tar" | wc -l) entries), image with mkimage.sh"
rm -rf "$T/src1" "$T/src2"

# The reference trees: layer 1 alone, and both layers with the whiteouts applied.
mkdir -p "$T/ref1" "$T/ref" && tar -xf "$T/L1.tar" -C "$T/ref1" && tar -xf "$T/L1.tar" -C "$T/ref" &&
	tar -xf "$T/L2.tar" -C "$T/ref" &&
	(cd "$T/ref" && find . -name '.wh.*' -print0 | perl -0ne 'chomp; my ($d, $b) = m{^(.*)/\.wh\.(.*)$} or next;
		unlink "$d/$b" or die "$d/$b: $!"; unlink $_ or die')
ok $? "reference trees extracted with tar -x (whiteouts applied by name)"

# ---- the Perl listers ---------------------------------------------------------------------
# seek.pl DIR OUT: reads DIR with readdir, recording telldir before each entry. Halfway, seeks
# back to every recorded position and re-reads (the kernel does not have the listing yet: the driver
# answers these offsets), then resumes to the end; then the same seeks once the kernel has the
# whole listing cached; seekdir to the end; rewinddir. Writes the names (sorted) to OUT; prints
# FAIL lines and exits 1 on any mismatch.
cat >"$T/seek.pl" <<'EOF'
use strict; use warnings;
my ($dir, $out) = @ARGV;
opendir(my $d, $dir) or die "opendir $dir: $!";
my (@names, @pos, $bad);
sub rd { my $p = telldir($d); my $x = readdir($d); return 0 unless defined $x; push @pos, $p; push @names, $x; 1 }
sub check { my ($what, $ok) = @_; unless ($ok) { print "FAIL: $what\n"; $bad = 1 } }
# Every recorded position, then re-reads 3 entries from there (40 from a few of them).
sub seeks { my ($phase) = @_;
	my %long = map { $_ => 1 } (0, 100, 181, 700, 1400, int(@names / 2), @names - 2);
	for my $i (0 .. $#names) {
		my $hi = $i + ($long{$i} ? 39 : 2); $hi = $#names if $hi > $#names;
		seekdir($d, $pos[$i]);
		my @got; for ($i .. $hi) { my $x = readdir($d); last unless defined $x; push @got, $x }
		check("$phase: seekdir to entry $i", join("\0", @got) eq join("\0", @names[$i .. $hi]));
	}
}
for (1 .. 1500) { rd() or last }
my $resume = telldir($d);
seeks("first pass");
seekdir($d, $resume);
1 while rd();
my $end = telldir($d);
my %seen; $seen{$_}++ for @names;
check("no name twice", !grep { $seen{$_} > 1 } keys %seen);
seeks("cached");
seekdir($d, $end); check("seekdir to the end reads nothing", !defined readdir($d));
rewinddir($d); my @again = readdir($d);
check("rewinddir lists the same names in the same order", join("\0", @again) eq join("\0", @names));
closedir($d);
open(my $o, ">", $out) or die; print $o "$_\n" for sort @names; close $o;
exit($bad ? 1 : 0);
EOF
# il.pl OUT DIR...: opens every DIR, then reads one entry from each in turn until all end;
# writes "DIR/NAME" lines (sorted) to OUT.
cat >"$T/il.pl" <<'EOF'
use strict; use warnings;
my ($out, @dirs) = @ARGV;
my %h; for my $p (@dirs) { opendir($h{$p}, $p) or die "opendir $p: $!" }
my @lines;
while (%h) { for my $p (sort keys %h) { my $x = readdir($h{$p}); if (defined $x) { push @lines, "$p/$x" } else { closedir($h{$p}); delete $h{$p} } } }
open(my $o, ">", $out) or die; print $o "$_\n" for sort @lines; close $o;
EOF
names() { (cd "$1" && ls -f -a) | sort; }
# listing DIR: path, type, size (0 for directories), mode, link target of every entry, sorted.
listing() {
	(cd "$1" && find . \( -path ./.audit -o -path ./.layers -o -path ./.history \) -prune -o -printf '%p\t%y\t%s\t%m\t%l\n') |
		awk -F'\t' 'BEGIN { OFS = "\t" } $2 == "d" { $3 = 0 } { print }' | sort
}

# ---- the checks ---------------------------------------------------------------------------
mnt=$T/mnt
smount "$T/img.tar" "$mnt" --index "$T/idx.db" 2>"$T/err" </dev/null; ok $? "mount"
diag <"$T/err"

perl "$T/seek.pl" "$mnt/big" "$T/got.seek" >"$T/seek.out" 2>&1
ok $? "telldir/seekdir/rewinddir on big/ ($(wc -l <"$T/got.seek") names) on a fresh mount"
diag <"$T/seek.out"
names "$T/ref/big" >"$T/want.big"
same_output "the Perl lister saw the names of tar -x's big/" "$T/want.big" "$T/got.seek"
names "$mnt/big" >"$T/got.big"
same_output "ls -f big/ equals tar -x's ($(wc -l <"$T/want.big") names)" "$T/want.big" "$T/got.big"

perl "$T/il.pl" "$T/got.il" $(cd "$mnt" && printf "$mnt/%s " d??) 2>"$T/il.err"
ok $? "20 directories of 300 entries read interleaved"; diag <"$T/il.err"
perl "$T/il.pl" "$T/want.il" $(cd "$T/ref" && printf "$T/ref/%s " d??) && sed -i "s|^$T/ref/||" "$T/want.il" &&
	sed -i "s|^$mnt/||" "$T/got.il"
same_output "the interleaved listings equal tar -x's ($(wc -l <"$T/want.il") names)" "$T/want.il" "$T/got.il"

listing "$T/ref" >"$T/want.find"
listing "$mnt" >"$T/got.find"
same_output "find -printf of the whole tree equals tar -x's ($(wc -l <"$T/want.find") lines)" "$T/want.find" "$T/got.find"
sumount "$mnt"; ok $? "umount"

# A fresh mount: concurrent listers of the same large directories, and the reserved views.
smount "$T/img.tar" "$mnt" --index "$T/idx.db" 2>"$T/err" </dev/null; ok $? "mount again"
for i in 1 2 3 4; do
	perl "$T/seek.pl" "$mnt/big" "$T/par.seek.$i" >"$T/par.out.$i" 2>&1 &
	(perl "$T/il.pl" "$T/par.il.$i" $(cd "$mnt" && printf "$mnt/%s " d??) && sed -i "s|^$mnt/||" "$T/par.il.$i") &
	names "$mnt/big" >"$T/par.ls.$i" &
done
wait
bad=0
for i in 1 2 3 4; do
	cmp -s "$T/want.big" "$T/par.seek.$i" && cmp -s "$T/want.big" "$T/par.ls.$i" && cmp -s "$T/want.il" "$T/par.il.$i" &&
		! grep -q FAIL "$T/par.out.$i" || bad=1
done
ok $bad "12 concurrent listers (seekdir, interleaved, ls -f) all see complete listings"
cat "$T"/par.out.* | head -5 | diag

names "$T/ref1/big" >"$T/want.h1"
names "$mnt/.history/1/big" >"$T/got.h1"
same_output "/.history/1/big equals tar -x of layer 1 alone ($(wc -l <"$T/want.h1") names)" "$T/want.h1" "$T/got.h1"
{ printf '.\n..\n'; tar -tf "$T/L2.tar" | sed -n 's|^\./big/\(..*[^/]\)/\{0,1\}$|\1|p'; } | sort >"$T/want.l2"
names "$mnt/.layers/2/big" >"$T/got.l2"
same_output "/.layers/2/big lists layer 2's tar, whiteouts included ($(wc -l <"$T/want.l2") names)" "$T/want.l2" "$T/got.l2"
sumount "$mnt"; ok $? "umount"
tap_done
