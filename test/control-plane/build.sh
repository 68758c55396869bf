#!/usr/bin/env bash
# Builds etcd, kube-apiserver, kube-controller-manager and kubectl from Go modules into a cache
# folder keyed by the inputs (the version, its go.mod and go.sum, the mains, this script), and
# prints that folder. A second run with the same inputs rebuilds nothing.
#   build.sh        the control plane: etcd kube-apiserver kube-controller-manager kubectl
#   build.sh node   the node of `cluster start --node`: kubelet kube-scheduler (same modules)
#
# Version: $PSO_KUBERNETES_VERSION (1.34, 1.34.4 or v1.34.4), else the default in K8S_VERSION.
# Each version has its own Go module, versions/<version>.mod and .sum (gen-go-mod.sh writes them),
# so every binary, etcd included, is at the versions that Kubernetes release pins.
#
# Cache: $PSO_CACHE_DIR, else ${XDG_CACHE_HOME:-$HOME/.cache}/pullsecret-operator.
set -euo pipefail
cd "$(dirname "$0")"
want=${PSO_KUBERNETES_VERSION:-$(tr -d '[:space:]' < K8S_VERSION)}
want=v${want#v}
# 1.34 means the one 1.34.x that has a module here; 1.34.4 must have one.
k8s=$(cd versions && for f in v*.mod; do v=${f%.mod}; case "$v" in "$want"|"$want".*) echo "$v" ;; esac; done | sort -V | tail -1)
if [ -z "$k8s" ]; then
  echo "control-plane: no Go module for Kubernetes ${want}; have: $(cd versions && ls v*.mod | sed 's/\.mod$//' | tr '\n' ' ')" >&2
  [[ "$want" =~ ^v1\.[0-9]+\.[0-9]+$ ]] || want="${want}.<patch>"
  echo "control-plane: to add one: test/control-plane/gen-go-mod.sh ${want}, then commit versions/${want}.mod and .sum" >&2
  exit 1
fi
modfile="versions/${k8s}.mod"
if ! grep -q "k8s.io/kubernetes ${k8s}\$" "$modfile"; then
  echo "control-plane: $modfile is not for ${k8s}; run test/control-plane/gen-go-mod.sh ${k8s} and commit it" >&2
  exit 1
fi
case "${1:-plane}" in
  plane) set_name=control-plane; bins=(etcd kube-apiserver kube-controller-manager kubectl) ;;
  node) set_name=node; bins=(kubelet kube-scheduler) ;;
  *) echo "usage: build.sh [plane|node]" >&2; exit 2 ;;
esac
key=$( { echo "$k8s"; go env GOVERSION; cat "$modfile" "versions/${k8s}.sum" build.sh; for b in "${bins[@]}"; do cat "cmd/$b/main.go"; done; } | sha256sum | cut -c1-16)
root=${PSO_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/pullsecret-operator}
out="$root/${set_name}/${k8s}-${key}"
have=1; for b in "${bins[@]}"; do [ -x "$out/$b" ] || have=0; done
if [ "$have" = 1 ]; then echo "$out"; exit 0; fi

major=${k8s#v}; major=${major%%.*}
minor=${k8s#v*.}; minor=${minor%%.*}
ldflags="-s -w -X k8s.io/component-base/version.gitVersion=${k8s} -X k8s.io/component-base/version.gitMajor=${major} -X k8s.io/component-base/version.gitMinor=${minor} -X k8s.io/component-base/version.gitTreeState=clean"
tmp="$out.tmp.$$"
mkdir -p "$tmp"
trap 'rm -rf "$tmp"' EXIT
start=$(date +%s)
echo "control-plane: building ${bins[*]} (k8s ${k8s}) into $out" >&2
echo "control-plane: a cold build takes about 10 minutes on 2 cores; later builds reuse the Go build cache" >&2
go mod download -modfile="$modfile"
for b in "${bins[@]}"; do
  echo "control-plane: [$(( $(date +%s) - start ))s] building $b" >&2
  # -v names each package as it is compiled: count them so a long build shows it is moving.
  CGO_ENABLED=0 go build -modfile="$modfile" -v -trimpath -ldflags "$ldflags" -o "$tmp/$b" "./cmd/$b" 2>&1 |
    awk -v b="$b" -v s="$start" '/^#|\.go:[0-9]+/ {print > "/dev/stderr"; next}
      { n++; if (n % 100 == 0) { printf "control-plane: [%ds] %s: %d packages compiled\n", systime()-s, b, n > "/dev/stderr" } }'
  [ "${PIPESTATUS[0]}" = 0 ] || { echo "control-plane: building $b failed" >&2; exit 1; }
done
rm -rf "$out"; mv "$tmp" "$out"; trap - EXIT
echo "control-plane: built in $(( $(date +%s) - start ))s" >&2
echo "$out"
