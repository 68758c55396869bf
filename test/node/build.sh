#!/usr/bin/env bash
# Builds what the node of `npm run cluster -- start --node` needs besides kubelet and
# kube-scheduler (test/control-plane/build.sh node): the registry (distribution v3, from Go
# modules), and the static binaries of the pause (sandbox) image and the private test image.
# Cached in a folder keyed by the inputs, which it prints. A second run rebuilds nothing.
set -euo pipefail
cd "$(dirname "$0")"
registry_version=v3.0.0
key=$( { echo "$registry_version"; go env GOVERSION; cat go.mod build.sh cmd/*/main.go; } | sha256sum | cut -c1-16)
root=${PSO_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/pullsecret-operator}
out="$root/node-extras/$key"
if [ -x "$out/registry" ] && [ -x "$out/pause" ] && [ -x "$out/app" ]; then echo "$out"; exit 0; fi
tmp="$out.tmp.$$"
mkdir -p "$tmp"
trap 'rm -rf "$tmp"' EXIT
start=$(date +%s)
echo "node: building registry ${registry_version}, pause and app into $out" >&2
GOBIN="$tmp" CGO_ENABLED=0 GOFLAGS=-trimpath go install -ldflags "-s -w" "github.com/distribution/distribution/v3/cmd/registry@${registry_version}"
for b in pause app; do CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$tmp/$b" "./cmd/$b"; done
rm -rf "$out"; mv "$tmp" "$out"; trap - EXIT
echo "node: built in $(( $(date +%s) - start ))s" >&2
echo "$out"
