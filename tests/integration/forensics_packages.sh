#!/bin/bash
# tests/integration/forensics_packages.sh — issue 7, integrity.json's "packages" and
# "unowned_executables": layer 1 = real Debian 12 packages (sed, grep, base-files from
# `apt-get download`, recorded the way dpkg does by tools/debtree.sh); layer 2 made with tar
# replaces /bin/sed, deletes /bin/grep (whiteout), edits the conffile /etc/issue and adds an
# executable script in /usr/bin, an ELF library (no x bit) and a text file in /usr/lib.
# References: `md5sum -c` of every package's md5sums file on the layers unpacked with `tar -x`
# (whiteouts applied), the status file's Conffiles digests, and for unowned executables a walk of
# the unpacked tree against the packages' .list files (x bit, or the ELF magic read with od).
# A merged-/usr copy of layer 1 (bin -> usr/bin) verifies clean with nothing unowned.
. "$(dirname "$0")/lib/common.sh"
. "$REPO/tools/debtree.sh"
need_strata
command -v jq >/dev/null || { echo "1..0 # SKIP needs jq"; exit 77; }
debs=$REPO/build/demo/debs
if ! deb_fetch "$debs" sed grep base-files >"$T/fetch.log" 2>&1; then
	echo "1..0 # SKIP could not download sed, grep, base-files (network?)"
	exit 77
fi
for p in sed grep base-files; do deb_install "$T/l1" "$T/st" "$(deb_file "$debs" $p)"; done
deb_write_status "$T/l1" "$T/st"
mkdir -p "$T/l2/bin" "$T/l2/etc" "$T/l2/usr/bin" "$T/l2/usr/lib/x86_64-linux-gnu"
printf '#!/bin/sh\necho not the real sed\n' >"$T/l2/bin/sed" && chmod 755 "$T/l2/bin/sed"
: >"$T/l2/bin/.wh.grep"
printf 'Tampered GNU/Linux \\n \\l\n' >"$T/l2/etc/issue"
printf '#!/bin/sh\nexec nc -l 4444\n' >"$T/l2/usr/bin/backdoor" && chmod 755 "$T/l2/usr/bin/backdoor"
cp "$T/l1/bin/sed" "$T/l2/usr/lib/x86_64-linux-gnu/libevil.so" && chmod 644 "$T/l2/usr/lib/x86_64-linux-gnu/libevil.so"
echo notes >"$T/l2/usr/lib/notes.txt"
tar_tree "$T/l1" "$T/L1.tar"
tar_tree "$T/l2" "$T/L2.tar"
"$REPO/tools/mkimage.sh" --form oci-dir --layer-compress gzip -o "$T/img" "$T/L1.tar" "$T/L2.tar" 2>"$T/mk.err" ||
	diag <"$T/mk.err"
"$STRATA" report "$T/img" integrity.json >"$T/i.json" 2>"$T/r.err"
ok $? "integrity.json renders" || diag <"$T/r.err"

# The reference tree: both layers unpacked with tar, whiteouts applied.
mkdir -p "$T/root"
for l in "$T/L1.tar" "$T/L2.tar"; do
	tar -xf "$l" -C "$T/root"
	(cd "$T/root" && tar -tf "$l" | grep '\.wh\.' | while read -r w; do
		rm -rf "./$(dirname "$w")/$(basename "$w" | sed 's/^\.wh\.//')" "./$w"
	done)
done
(cd "$T/root" && cat var/lib/dpkg/info/*.md5sums | LC_ALL=C md5sum -c 2>/dev/null) >"$T/md5.out"
grep ': FAILED$' "$T/md5.out" | sed 's/: FAILED$//; s,^,/,' | LC_ALL=C sort >"$T/ref_changed"
grep ': FAILED open or read$' "$T/md5.out" | sed 's/: FAILED open or read$//; s,^,/,' | LC_ALL=C sort >"$T/ref_missing"
# Conffiles: the status file's " /etc/x md5" lines against the tree.
awk '/^Conffiles:/{c=1;next} /^[^ ]/{c=0} c&&$1~/^\//{print $1, $2}' "$T/root/var/lib/dpkg/status" |
	while read -r f m; do
		[ -f "$T/root$f" ] && [ "$(md5sum <"$T/root$f" | cut -c1-32)" != "$m" ] && echo "$f"
	done | LC_ALL=C sort >"$T/ref_conf"
jq -r '.packages.list[].changed[] | select(.conffile | not) | .path' "$T/i.json" | LC_ALL=C sort >"$T/our_changed"
jq -r '.packages.list[].missing[].path' "$T/i.json" | LC_ALL=C sort >"$T/our_missing"
jq -r '.packages.list[].changed[] | select(.conffile) | .path' "$T/i.json" | LC_ALL=C sort >"$T/our_conf"
[ -s "$T/ref_changed" ] && diff "$T/ref_changed" "$T/our_changed" >"$T/d1" && [ "$(cat "$T/our_changed")" = /bin/sed ]
ok $? "changed package files = md5sum -c FAILED (/bin/sed)" || diag <"$T/d1"
diff "$T/ref_missing" "$T/our_missing" >"$T/d2" && [ "$(cat "$T/our_missing")" = /bin/grep ]
ok $? "missing package files = md5sum -c 'FAILED open or read' (/bin/grep)" || diag <"$T/d2"
diff "$T/ref_conf" "$T/our_conf" >"$T/d3" && [ "$(cat "$T/our_conf")" = /etc/issue ]
ok $? "changed conffiles = status Conffiles digests vs the tree (/etc/issue), flagged conffile" || diag <"$T/d3"
sed_v=$(dpkg-deb -f "$(deb_file "$debs" sed)" Version)
jq -e --arg v "$sed_v" --arg m "md5:$(md5sum <"$T/root/bin/sed" | cut -c1-32)" \
	--arg e "md5:$(awk '$2 == "bin/sed" {print $1}' "$T/root/var/lib/dpkg/info/sed.md5sums")" \
	'.packages.list[] | select(.name == "sed") | .type == "deb" and .version == $v and .layer == 1 and
	 .changed[0].expected == $e and .changed[0].found == $m and .changed[0].layer == 2' "$T/i.json" >/dev/null
ok $? "sed: type, version, install layer, expected (md5sums) and found (md5sum) digests, layer 2"
jq -e '.packages | .changed_files == 2 and .missing_files == 1 and .conffiles_changed == 1 and
	.packages_affected == 3' "$T/i.json" >/dev/null
ok $? "counts: 2 changed (1 conffile), 1 missing, 3 packages" || diag <"$T/i.json"

# Unowned executables: files of the tree in the system directories, not in any .list, with an x
# bit (bin directories) or the ELF magic (everywhere).
cat "$T/root"/var/lib/dpkg/info/*.list | LC_ALL=C sort -u >"$T/owned"
(cd "$T/root" && find bin sbin usr/bin usr/sbin usr/local/bin usr/local/sbin lib* usr/lib* -type f 2>/dev/null) |
	while read -r f; do
		grep -qxF "/$f" "$T/owned" && continue
		elf=no; [ "$(od -An -c -N4 "$T/root/$f" | tr -d ' ')" = '177ELF' ] && elf=yes
		case $f in lib*|usr/lib*) [ $elf = yes ] && echo "/$f" ;;
		*) { [ -x "$T/root/$f" ] || [ $elf = yes ]; } && echo "/$f" ;; esac
	done | LC_ALL=C sort >"$T/ref_unowned"
jq -r '.unowned_executables[].path' "$T/i.json" | LC_ALL=C sort >"$T/our_unowned"
diff "$T/ref_unowned" "$T/our_unowned" >"$T/d4" &&
	[ "$(tr '\n' ' ' <"$T/our_unowned")" = "/usr/bin/backdoor /usr/lib/x86_64-linux-gnu/libevil.so " ]
ok $? "unowned executables = the tree's unlisted x/ELF files (backdoor, libevil.so)" || diag <"$T/d4"
jq -e --arg s "sha256:$(sha256sum <"$T/root/usr/bin/backdoor" | cut -c1-64)" \
	--argjson n "$(stat -c %s "$T/root/usr/bin/backdoor")" \
	'.unowned_executables[] | select(.path == "/usr/bin/backdoor") | .layer == 2 and .sha256 == $s and
	 .size == $n and .elf == false' "$T/i.json" >/dev/null
ok $? "backdoor: layer 2, sha256 = sha256sum, size = stat"

# Merged /usr: the same packages with /bin moved to /usr/bin and bin -> usr/bin (the .list files
# still say /bin/…): every file is found through the link, nothing missing, nothing unowned
# (dpkg --verify would be silent too).
cp -a "$T/l1" "$T/m1" && mkdir -p "$T/m1/usr/bin" && mv "$T/m1/bin/"* "$T/m1/usr/bin/" && rmdir "$T/m1/bin" &&
	ln -s usr/bin "$T/m1/bin"
tar_tree "$T/m1" "$T/M1.tar"
"$REPO/tools/mkimage.sh" --form oci-dir --layer-compress gzip -o "$T/merged" "$T/M1.tar" 2>>"$T/mk.err"
"$STRATA" report "$T/merged" integrity.json >"$T/m.json" 2>>"$T/r.err"
jq -e '.packages.changed_files == 0 and .packages.missing_files == 0 and .packages.files_verified > 100 and
	.unowned_executables == []' "$T/m.json" >/dev/null
ok $? "merged /usr: /bin/sed etc. found through bin -> usr/bin, none missing, none unowned" ||
	diag < <(jq '.packages | del(.list)' "$T/m.json"; jq -c '.unowned_executables[0:5]' "$T/m.json")

# No OS package database: both parts null, with a reason.
mkdir -p "$T/p/usr/bin" && printf '#!/bin/sh\n' >"$T/p/usr/bin/x" && chmod 755 "$T/p/usr/bin/x"
tar -C "$T/p" -cf "$T/P.tar" usr
"$REPO/tools/mkimage.sh" --form oci-dir --layer-compress gzip -o "$T/plain" "$T/P.tar" 2>>"$T/mk.err"
"$STRATA" report "$T/plain" integrity.json >"$T/p.json" 2>>"$T/r.err"
jq -e '.packages == null and .unowned_executables == null and (.reason | length > 0)' "$T/p.json" >/dev/null
ok $? "no package database: packages and unowned_executables null, with a reason"
tap_done
