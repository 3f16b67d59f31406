#!/bin/sh
# tools/deps.sh — installs every build, test, demo and benchmark dependency of strata from Debian
# packages (Debian 12 "bookworm" or later). Idempotent: when every package is already installed it
# prints nothing and exits 0. Otherwise it runs `apt-get update` and installs what is missing
# (as root, or through sudo when available).
#   sh tools/deps.sh          install what is missing
#   sh tools/deps.sh --check  only list what is missing; exit 1 if anything is
set -eu

# Build: compiler, pkg-config and the libraries the Makefile asks pkg-config for.
BUILD_PKGS="build-essential pkg-config clang clang-format libfuse3-dev libarchive-dev libzstd-dev
zlib1g-dev libsqlite3-dev libjansson-dev libssl-dev libpcre2-dev libvectorscan-dev libisal-dev
node-spdx-license-ids node-spdx-exceptions"
# Tests: FUSE runtime, the real tools fixtures are made and checked with.
TEST_PKGS="fuse3 zstd gzip pigz tar xz-utils sqlite3 umoci skopeo attr openssl ca-certificates coreutils
findutils diffutils file jq sleuthkit python3-junitparser rpm db5.3-util zip unzip
node-spdx-expression-parse python3-packaging ruby"
# Demo (apt-get download, dpkg-deb) and benchmark (debootstrap, archivemount, GNU time).
DEMO_PKGS="apt dpkg debootstrap archivemount time"

PKGS="$BUILD_PKGS $TEST_PKGS $DEMO_PKGS"

# Test-only tools from the npm registry (never used by strata itself): a JSON-schema validator
# (ajv-cli + ajv-formats) and the official schemas the reports are checked against — CycloneDX 1.5
# (shipped in @cyclonedx/cdxgen's data/) and SARIF 2.1.0 (shipped in @microsoft/jest-sarif).
# Installed once under /var/cache/strata-test (STRATA_TEST_NPM overrides); the tests that need
# them skip when they are absent (no npm, no network).
npm_tools() {
	NPM_DIR=${STRATA_TEST_NPM:-/var/cache/strata-test}
	if [ ! -f "$NPM_DIR/.ok-1" ] && command -v npm >/dev/null 2>&1; then
		echo "tools/deps.sh: installing the test schema validator under $NPM_DIR (npm)" >&2
		if mkdir -p "$NPM_DIR/schemas" "$NPM_DIR/pack" &&
			npm install --silent --no-audit --no-fund --prefix "$NPM_DIR" ajv-cli@5.0.0 ajv-formats@2.1.1 >/dev/null 2>&1 &&
			(cd "$NPM_DIR/pack" && npm pack --silent @cyclonedx/cdxgen@12.8.4 @microsoft/jest-sarif@1.0.0-beta.0 >/dev/null 2>&1) &&
			tar -xzf "$NPM_DIR/pack/cyclonedx-cdxgen-12.8.4.tgz" -C "$NPM_DIR/schemas" --strip-components=2 \
				package/data/bom-1.5.schema.json package/data/spdx.schema.json package/data/jsf-0.82.schema.json &&
			tar -xzf "$NPM_DIR/pack/microsoft-jest-sarif-1.0.0-beta.0.tgz" -C "$NPM_DIR/schemas" --strip-components=3 \
				package/lib/schemas/sarif-2.1.0-rtm.5.json; then
			rm -rf "$NPM_DIR/pack"
			touch "$NPM_DIR/.ok-1"
		else
			echo "tools/deps.sh: warning: npm install failed; schema validation tests will be skipped" >&2
		fi
	fi
}

missing=""
for p in $PKGS; do
	st=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
	[ "$st" = installed ] || missing="$missing $p"
done

if [ "${1:-}" = --check ]; then
	[ -z "$missing" ] && exit 0
	echo "missing Debian packages:$missing" >&2
	exit 1
fi
[ -z "$missing" ] && { npm_tools; exit 0; }

if [ "$(id -u)" = 0 ]; then
	SUDO=""
elif command -v sudo >/dev/null 2>&1; then
	SUDO="sudo"
else
	echo "tools/deps.sh: need root to install:$missing" >&2
	exit 1
fi

echo "tools/deps.sh: installing:$missing" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >/dev/null
echo "tools/deps.sh: done" >&2

npm_tools
