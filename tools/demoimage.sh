#!/bin/sh
# tools/demoimage.sh OUT — builds the demo image (docker-archive, gzip layers) from real Debian
# packages fetched with `apt-get download` and unpacked with `dpkg-deb -x`, with a real
# /var/lib/dpkg/status. Three layers, like a small Dockerfile:
#   1. base:    base-files, base-passwd, libc6, bash, dash, ... (+ /etc/passwd, /etc/group)
#   2. tools:   coreutils, grep, sed, findutils, tar, gzip, dpkg and their libraries, plus an
#               application under /opt/demo (setuid, a world-writable cache directory), a
#               configuration file /etc/demo-secret.conf (a token), /etc/ssh/sshd_config with
#               PermitRootLogin yes and a second uid-0 account in /etc/passwd: the problems the
#               default policy must find
#   3. cleanup: deletes /etc/demo-secret.conf (file whiteout) and /usr/share/info (directory
#               whiteout), adds /etc/motd
# Work files and the .debs are kept in build/demo/; OUT is rebuilt only when it is missing or
# these scripts changed. Needs network access to a Debian mirror the first time (about 15 MB).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
out=${1:?usage: tools/demoimage.sh OUT}
work=${DEMO_WORK:-build/demo}
. "$here/debtree.sh"

stamp=$(cat "$here/demoimage.sh" "$here/debtree.sh" "$here/mkimage.sh" | sha256sum | cut -d' ' -f1)
if [ -f "$out" ] && [ -f "$out.stamp" ] && [ "$(cat "$out.stamp")" = "$stamp" ]; then
	exit 0
fi
# One builder at a time (make check runs the plain and the sanitizer passes side by side).
mkdir -p "$(dirname "$out")"
exec 9>"$out.lock"
flock 9
if [ -f "$out" ] && [ -f "$out.stamp" ] && [ "$(cat "$out.stamp")" = "$stamp" ]; then
	exit 0
fi

L1_PKGS="base-files base-passwd libc6 libgcc-s1 libtinfo6 ncurses-base bash dash debianutils"
L2_PKGS="coreutils libacl1 libattr1 libselinux1 libpcre2-8-0 libgmp10 grep sed findutils tar
gzip dpkg libbz2-1.0 liblzma5 libmd0 libzstd1 zlib1g"

echo "demoimage: fetching Debian packages into $work/debs" >&2
# shellcheck disable=SC2086
deb_fetch "$work/debs" $L1_PKGS $L2_PKGS

rm -rf "$work/tree" && mkdir -p "$work/tree"
t1=$work/tree/1 t2=$work/tree/2 t3=$work/tree/3 st=$work/tree/stanzas
mkdir -p "$t1" "$t2" "$t3"
epoch=1700000000 # fixed mtime for the files written here (2023-11-14)

# ---- layer 1: base system ----------------------------------------------------------------
for p in $L1_PKGS; do deb_install "$t1" "$st" "$(deb_file "$work/debs" "$p")"; done
deb_write_status "$t1" "$st"
# What base-passwd's and dash's maintainer scripts would create.
cp "$t1/usr/share/base-passwd/passwd.master" "$t1/etc/passwd"
cp "$t1/usr/share/base-passwd/group.master" "$t1/etc/group"
[ -e "$t1/bin/sh" ] || ln -s dash "$t1/bin/sh"
mkdir -p "$t1/root" "$t1/tmp" "$t1/home" "$t1/proc" "$t1/sys" "$t1/dev"
chmod 0700 "$t1/root"
chmod 1777 "$t1/tmp"
touch -h -d "@$epoch" "$t1/etc/passwd" "$t1/etc/group" "$t1/root" "$t1/tmp" "$t1/home" "$t1/proc" \
	"$t1/sys" "$t1/dev"

# ---- layer 2: tools and the application -----------------------------------------------------
for p in $L2_PKGS; do deb_install "$t2" "$st" "$(deb_file "$work/debs" "$p")"; done
deb_write_status "$t2" "$st"
mkdir -p "$t2/etc" "$t2/opt/demo/bin"
cat >"$t2/etc/demo-secret.conf" <<'CONF'
# demo service configuration (deleted again by layer 3, still readable in /.history/2)
endpoint = https://api.example.com/v1
# AWS's documented example key pair, not a real credential
aws_access_key_id = AKIAIOSFODNN7EXAMPLE
aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY
CONF
# A token in the GitHub format, derived at build time (no live-looking token sits in this
# repository): the secret scanner finds it although layer 3 deletes the file.
printf 'deploy_token = ghp_%s\n' "$(printf 'strata demo token' | sha256sum | cut -c1-36)" >>"$t2/etc/demo-secret.conf"
chmod 0600 "$t2/etc/demo-secret.conf"
# Planted problems for the default policy (strata audit): root login over ssh, a second uid-0
# account, a setuid program and a world-writable directory.
mkdir -p "$t2/etc/ssh" "$t2/opt/demo/cache"
printf '# demo sshd configuration\nPort 22\nPermitRootLogin yes\nPasswordAuthentication no\n' >"$t2/etc/ssh/sshd_config"
cp "$t1/etc/passwd" "$t2/etc/passwd"
printf 'toor:x:0:0:second root:/root:/bin/sh\n' >>"$t2/etc/passwd"
chmod 0777 "$t2/opt/demo/cache"
cat >"$t2/opt/demo/bin/hello" <<'APP'
#!/bin/sh
echo "hello from the strata demo image"
APP
chmod 4755 "$t2/opt/demo/bin/hello" # setuid root: the default policy warns
ln -s demo/bin/hello "$t2/opt/hello"
ln "$t2/opt/demo/bin/hello" "$t2/opt/demo/bin/hello-again" # a hard link
find "$t2/etc/demo-secret.conf" "$t2/etc/ssh" "$t2/etc/passwd" "$t2/opt" -exec touch -h -d "@$epoch" {} +

# ---- layer 3: cleanup ---------------------------------------------------------------------------
mkdir -p "$t3/etc" "$t3/usr/share"
: >"$t3/etc/.wh.demo-secret.conf"
: >"$t3/usr/share/.wh.info"
printf 'Welcome to the strata demo image: real Debian 12 packages in three layers.\n' >"$t3/etc/motd"
find "$t3" -exec touch -h -d "@$epoch" {} +

# ---- the image ---------------------------------------------------------------------------------
for i in 1 2 3; do tar_tree "$work/tree/$i" "$work/tree/layer$i.tar"; done
mkdir -p "$(dirname "$out")"
bash "$here/mkimage.sh" --form docker --layer-compress gzip --tag strata/demo:bookworm \
	--arch "$DEB_ARCH" \
	--created-by "/bin/sh -c #(nop) ADD base: $(echo $L1_PKGS) in /" \
	--created-by "RUN apt-get install -y $(echo $L2_PKGS | sed 's/ lib[^ ]*//g') && install /opt/demo" \
	--created-by "RUN rm /etc/demo-secret.conf && rm -rf /usr/share/info && echo ... >/etc/motd" \
	-o "$out" "$work/tree/layer1.tar" "$work/tree/layer2.tar" "$work/tree/layer3.tar"
echo "$stamp" >"$out.stamp"
rm -rf "$work/tree"
echo "demoimage: wrote $out ($(du -h "$out" | cut -f1))" >&2
