#!/usr/bin/env bash
# Writes versions/<version>.mod and versions/<version>.sum, the Go module of one Kubernetes
# version's control plane and node (built by build.sh with `go build -modfile`).
#   gen-go-mod.sh             the default version (K8S_VERSION)
#   gen-go-mod.sh v1.34.4     another one; commit the two files, then it can be started
#                             (npm run cluster -- start --kubernetes-version 1.34.4)
#
# k8s.io/kubernetes requires every staging module (k8s.io/api, k8s.io/client-go, ...)
# at v0.0.0 and replaces it with ./staging/src/...; those replaces do not apply to a
# module that depends on it (kubernetes/kubernetes#79384). So we read the pinned
# k8s.io/kubernetes go.mod and replace each staging module with its published v0.<minor>.<patch>.
# Every other module (etcd included) is then at the version that Kubernetes release pins.
set -euo pipefail
cd "$(dirname "$0")"
k8s=${1:-$(tr -d '[:space:]' < K8S_VERSION)}       # v1.36.3
k8s=v${k8s#v}
[[ "$k8s" =~ ^v1\.[0-9]+\.[0-9]+$ ]] || { echo "gen-go-mod: not a Kubernetes version: $k8s (want v1.MINOR.PATCH)" >&2; exit 2; }
staging="v0.${k8s#v1.}"                            # v0.36.3
gomod=$(go mod download -json "k8s.io/kubernetes@${k8s}" | sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",$/\1/p')
[ -f "$gomod" ] || { echo "gen-go-mod: no go.mod for k8s.io/kubernetes@${k8s}" >&2; exit 1; }
mods=$(sed -n 's#^[[:space:]]*\(k8s.io/[A-Za-z0-9._-]*\) => ./staging/src/.*#\1#p' "$gomod" | sort -u)
[ -n "$mods" ] || { echo "gen-go-mod: found no staging replaces in $gomod" >&2; exit 1; }
goversion=$(sed -n 's/^go \([0-9.]*\)$/\1/p' "$gomod")

mkdir -p versions
modfile="versions/${k8s}.mod"
rm -f "$modfile" "versions/${k8s}.sum"
printf 'module pullsecret-operator/test/control-plane\n\ngo %s\n' "$goversion" > "$modfile"
args=()
for m in $mods; do args+=("-replace=${m}=${m}@${staging}"); done
go mod edit -modfile="$modfile" "${args[@]}" -require="k8s.io/kubernetes@${k8s}"
go mod tidy -modfile="$modfile"
etcd=$(awk '$1 == "go.etcd.io/etcd/server/v3" { print $2 }' "$modfile")
echo "gen-go-mod: $modfile: k8s.io/kubernetes ${k8s}, $(echo "$mods" | wc -l) staging modules at ${staging}, etcd ${etcd}" >&2
