#!/usr/bin/env bash
# Regenerates go.mod/go.sum for the version in K8S_VERSION.
#
# k8s.io/kubernetes requires every staging module (k8s.io/api, k8s.io/client-go, ...)
# at v0.0.0 and replaces it with ./staging/src/...; those replaces do not apply to a
# module that depends on it (kubernetes/kubernetes#79384). So we read the pinned
# k8s.io/kubernetes go.mod and replace each staging module with its published v0.<minor>.<patch>.
set -euo pipefail
cd "$(dirname "$0")"
k8s=$(tr -d '[:space:]' < K8S_VERSION)            # v1.36.3
staging="v0.${k8s#v1.}"                            # v0.36.3
gomod=$(go mod download -json "k8s.io/kubernetes@${k8s}" | sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",$/\1/p')
[ -f "$gomod" ] || { echo "gen-go-mod: no go.mod for k8s.io/kubernetes@${k8s}" >&2; exit 1; }
mods=$(sed -n 's#^[[:space:]]*\(k8s.io/[A-Za-z0-9._-]*\) => ./staging/src/.*#\1#p' "$gomod" | sort -u)
[ -n "$mods" ] || { echo "gen-go-mod: found no staging replaces in $gomod" >&2; exit 1; }
goversion=$(sed -n 's/^go \([0-9.]*\)$/\1/p' "$gomod")

rm -f go.mod go.sum
go mod init pullsecret-operator/test/control-plane >/dev/null 2>&1
go mod edit -go="$goversion"
args=()
for m in $mods; do args+=("-replace=${m}=${m}@${staging}"); done
go mod edit "${args[@]}" -require="k8s.io/kubernetes@${k8s}"
go mod tidy
echo "gen-go-mod: k8s.io/kubernetes ${k8s}, $(echo "$mods" | wc -l) staging modules at ${staging}" >&2
