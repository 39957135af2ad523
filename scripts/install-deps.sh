#!/bin/sh
# Install what jobreport's build, tests and demo need, and only what is missing, so repeated runs
# are fast. Debian packages (as root, or through sudo) and the pinned npm packages of the local S3
# server (tests/s3/package-lock.json). Used by `make check`, `make demo` and CI.
set -eu

PKGS="libpq-dev libcsv-dev libcurl4-openssl-dev libssl-dev libjansson-dev libexpat1-dev
libcmocka-dev postgresql awscli pkg-config mandoc clang-format cppcheck python3"

missing=""
for p in $PKGS; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing="$missing $p"
    fi
done

if [ -n "$missing" ]; then
    echo "install-deps: installing Debian packages:$missing" >&2
    if [ "$(id -u)" -eq 0 ]; then
        SUDO=""
    elif command -v sudo >/dev/null 2>&1; then
        SUDO="sudo"
    else
        echo "install-deps: error: missing packages:$missing (run as root or install them)" >&2
        exit 1
    fi
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    # shellcheck disable=SC2086
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi

top=$(cd "$(dirname "$0")/.." && pwd)
if [ -f "$top/tests/s3/package-lock.json" ] && [ ! -d "$top/tests/s3/node_modules/@20minutes/s3rver" ]; then
    if ! command -v npm >/dev/null 2>&1; then
        echo "install-deps: error: npm is needed for the local S3 server (Node.js 20)" >&2
        exit 1
    fi
    echo "install-deps: installing the local S3 server (npm ci)" >&2
    npm ci --prefix "$top/tests/s3" --no-audit --no-fund --loglevel=error >/dev/null
fi
