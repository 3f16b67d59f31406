# tools/debtree.sh — shell functions (sourced, POSIX sh) that turn real Debian packages into
# image layer trees: download with `apt-get download`, unpack with `dpkg-deb -x`, and record them
# the way dpkg does (/var/lib/dpkg/status stanzas with "Status: install ok installed",
# /var/lib/dpkg/info/<pkg>.list, .md5sums, .conffiles). Used by tools/demoimage.sh and
# tools/bench.sh. Nothing here needs root except `apt-get update` when the package lists are empty.

DEB_ARCH=$(dpkg --print-architecture)

# deb_need_lists: makes sure apt knows the packages (a fresh container has empty lists).
deb_need_lists() {
	apt-cache show --no-all-versions base-files >/dev/null 2>&1 && return 0
	if [ "$(id -u)" = 0 ]; then
		apt-get update -qq || { echo "apt-get update failed (network?)" >&2; return 1; }
	else
		echo "apt has no package lists: run 'sudo apt-get update' (or sh tools/deps.sh)" >&2
		return 1
	fi
}

# deb_fetch DIR PKG...: downloads the .deb of each PKG into DIR unless one is already there.
deb_fetch() {
	_dir=$1; shift
	mkdir -p "$_dir"
	_want=""
	for _p in "$@"; do
		set -- "$_dir/${_p}"_*.deb
		[ -e "$1" ] || _want="$_want $_p"
	done
	[ -z "$_want" ] && return 0
	deb_need_lists || return 1
	# One download into DIR at a time (tests of two make check passes may fetch the same .debs);
	# what another process fetched meanwhile is not fetched again.
	# shellcheck disable=SC2086
	(
		flock 8
		_get=""
		for _p in $_want; do
			set -- "$_dir/${_p}"_*.deb
			[ -e "$1" ] || _get="$_get $_p"
		done
		[ -z "$_get" ] || (cd "$_dir" && apt-get download -q -o APT::Sandbox::User=root $_get >/dev/null)
	) 8>"$_dir/.lock" || { echo "apt-get download failed for:$_want" >&2; return 1; }
}

# deb_file DIR PKG: prints the path of PKG's .deb in DIR.
deb_file() {
	set -- "$1/${2}"_*.deb
	[ -e "$1" ] || { echo "no .deb for $2 in $(dirname "$1")" >&2; return 1; }
	echo "$1"
}

# deb_install TREE STANZAS DEB: unpacks DEB into TREE, writes its dpkg info files under
# TREE/var/lib/dpkg/info and its status stanza into the directory STANZAS (one file per package;
# deb_write_status assembles them).
deb_install() {
	_tree=$1 _st=$2 _deb=$3
	mkdir -p "$_tree/var/lib/dpkg/info" "$_st"
	dpkg-deb -x "$_deb" "$_tree"
	_pkg=$(dpkg-deb -f "$_deb" Package)
	_name=$_pkg
	[ "$(dpkg-deb -f "$_deb" Multi-Arch)" = same ] && _name="$_pkg:$(dpkg-deb -f "$_deb" Architecture)"
	_info="$_tree/var/lib/dpkg/info/$_name"
	# .list: every path the package ships, "/." first, as dpkg writes it.
	dpkg-deb --fsys-tarfile "$_deb" | tar -t | sed -e 's,^\./,/,' -e 's,/$,,' -e 's,^$,/.,' >"$_info.list"
	_ctl=$(mktemp -d "${TMPDIR:-/tmp}/debctl.XXXXXX")
	dpkg-deb -e "$_deb" "$_ctl"
	[ -f "$_ctl/md5sums" ] && cp "$_ctl/md5sums" "$_info.md5sums"
	{
		dpkg-deb -f "$_deb" | sed '1{/^Package:/a\
Status: install ok installed
}'
		if [ -s "$_ctl/conffiles" ]; then
			cp "$_ctl/conffiles" "$_info.conffiles"
			echo "Conffiles:"
			while read -r _cf; do
				[ -f "$_tree$_cf" ] || continue
				echo " $_cf $(md5sum <"$_tree$_cf" | cut -d' ' -f1)"
			done <"$_ctl/conffiles"
		fi
	} >"$_st/$_name"
	rm -rf "$_ctl"
}

# deb_write_status TREE STANZAS: writes TREE/var/lib/dpkg/status from every stanza so far
# (sorted by package name, blank line between stanzas), plus the files dpkg expects beside it.
deb_write_status() {
	mkdir -p "$1/var/lib/dpkg/info" "$1/var/lib/dpkg/updates"
	: >"$1/var/lib/dpkg/status.tmp"
	for _f in $(cd "$2" && ls | LC_ALL=C sort); do
		cat "$2/$_f" >>"$1/var/lib/dpkg/status.tmp"
		echo >>"$1/var/lib/dpkg/status.tmp"
	done
	mv "$1/var/lib/dpkg/status.tmp" "$1/var/lib/dpkg/status"
	[ -e "$1/var/lib/dpkg/available" ] || : >"$1/var/lib/dpkg/available"
	echo "$DEB_ARCH" >"$1/var/lib/dpkg/arch"
	# A real database says its info/ layout version; without it dpkg-query ignores pkg:arch.list.
	echo 1 >"$1/var/lib/dpkg/info/format"
}

# tar_tree TREE OUT: a layer tar of the contents of TREE like a container builder writes it:
# names without "./", sorted, numeric owners kept, pax headers for long names and xattrs.
tar_tree() {
	(cd "$1" && find . -mindepth 1 -print0 | sed -z 's,^\./,,' | LC_ALL=C sort -z) >"$2.list"
	tar --format=pax --pax-option='exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime' \
		--xattrs --numeric-owner --no-recursion --null -C "$1" -T "$2.list" -cf "$2"
	rm -f "$2.list"
}
