#!/usr/bin/env bash
# Builds helm (helm.sh/helm/v3/cmd/helm, the `tool` of go.mod) from Go modules into a cache folder
# keyed by the inputs (go.mod, go.sum, this script, the Go version), and prints that folder. A
# second run with the same inputs rebuilds nothing; a cold build takes about 2-4 minutes on 2 cores.
#
# To move to another helm: `go get -tool helm.sh/helm/v3/cmd/helm@<version>` here, write the
# version into HELM_VERSION, commit go.mod, go.sum and HELM_VERSION.
#
# Cache: $PSO_CACHE_DIR, else ${XDG_CACHE_HOME:-$HOME/.cache}/pullsecret-operator (as the control plane).
set -euo pipefail
cd "$(dirname "$0")"
version=$(tr -d '[:space:]' < HELM_VERSION)
if ! grep -Eq "^\s*helm.sh/helm/v3 ${version}( //.*)?\$" go.mod; then
  echo "helm: go.mod does not require helm.sh/helm/v3 ${version}; run: go get -tool helm.sh/helm/v3/cmd/helm@${version}" >&2
  exit 1
fi
key=$( { echo "$version"; go env GOVERSION; cat go.mod go.sum build.sh; } | sha256sum | cut -c1-16)
root=${PSO_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/pullsecret-operator}
out="$root/helm/${version}-${key}"
if [ -x "$out/helm" ]; then echo "$out"; exit 0; fi

# The Kubernetes version helm reports as its own (lint rules, .Capabilities) comes from client-go's.
kmod=$(awk '$1 == "k8s.io/client-go" { print $2 }' go.mod); kmod=${kmod#v0.}
ldflags="-s -w -X helm.sh/helm/v3/internal/version.version=${version} -X helm.sh/helm/v3/internal/version.gitTreeState=clean
  -X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMajor=1 -X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMinor=${kmod%%.*}
  -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMajor=1 -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMinor=${kmod%%.*}"
tmp="$out.tmp.$$"
mkdir -p "$tmp"
trap 'rm -rf "$tmp"' EXIT
start=$(date +%s)
echo "helm: building helm ${version} into $out (a cold build takes about 2-4 minutes on 2 cores)" >&2
go mod download
CGO_ENABLED=0 go build -trimpath -ldflags "$ldflags" -o "$tmp/helm" helm.sh/helm/v3/cmd/helm
rm -rf "$out"; mv "$tmp" "$out"; trap - EXIT
echo "helm: built in $(( $(date +%s) - start ))s" >&2
echo "$out"
