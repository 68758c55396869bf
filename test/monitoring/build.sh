#!/usr/bin/env bash
# Builds promtool and prometheus (github.com/prometheus/prometheus/cmd/{promtool,prometheus}, the
# `tool`s of go.mod) from Go modules into a cache folder keyed by the inputs (go.mod, go.sum, this
# script, the Go version), and prints that folder. A second run with the same inputs rebuilds
# nothing. The monitoring tests use them: `promtool check rules`, `promtool test rules`, and a real
# Prometheus scraping the operator (test/integration/monitoring.test.ts).
#
# The module github.com/prometheus/prometheus publishes Prometheus v3.x.y as v0.3xx.y (v0.316.0 is
# v3.16.0). A version-suffixed `go install` refuses it (its go.mod has exclude and replace lines),
# so it is a dependency of this small module instead. To move to another version:
#   GOFLAGS=-mod=mod go get -tool github.com/prometheus/prometheus/cmd/promtool@<v> github.com/prometheus/prometheus/cmd/prometheus@<v>
# here, write <v> into PROMETHEUS_VERSION, commit go.mod, go.sum and PROMETHEUS_VERSION.
#
# Built with the tag remove_all_sd: no cloud service discovery (the tests use static targets), a
# much smaller build. Built without the builtinassets tag: the server has no UI files and answers
# 500 on its UI pages; its HTTP API, /metrics and /-/ready work (it runs headless).
#
# Cache: $PSO_CACHE_DIR, else ${XDG_CACHE_HOME:-$HOME/.cache}/pullsecret-operator (as the control plane).
set -euo pipefail
cd "$(dirname "$0")"
version=$(tr -d '[:space:]' < PROMETHEUS_VERSION)
if ! grep -Eq "^\s*github.com/prometheus/prometheus ${version}( //.*)?\$" go.mod; then
  echo "prometheus: go.mod does not require github.com/prometheus/prometheus ${version}; see the header of $0" >&2
  exit 1
fi
key=$( { echo "$version"; go env GOVERSION; cat go.mod go.sum build.sh; } | sha256sum | cut -c1-16)
root=${PSO_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/pullsecret-operator}
out="$root/prometheus/${version}-${key}"
if [ -x "$out/promtool" ] && [ -x "$out/prometheus" ]; then echo "$out"; exit 0; fi

tmp="$out.tmp.$$"
mkdir -p "$tmp"
trap 'rm -rf "$tmp"' EXIT
start=$(date +%s)
echo "prometheus: building promtool and prometheus ${version} into $out (a cold build takes about 5 minutes on 2 cores)" >&2
# The version promtool and prometheus report (--version, prometheus_build_info).
ldflags="-s -w -X github.com/prometheus/common/version.Version=${version} -X github.com/prometheus/common/version.Branch=module"
for cmd in promtool prometheus; do
  CGO_ENABLED=0 go build -trimpath -tags remove_all_sd -ldflags "$ldflags" -o "$tmp/$cmd" "github.com/prometheus/prometheus/cmd/$cmd"
done
rm -rf "$out"; mv "$tmp" "$out"; trap - EXIT
echo "prometheus: built in $(( $(date +%s) - start ))s" >&2
echo "$out"
