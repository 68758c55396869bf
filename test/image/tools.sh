#!/usr/bin/env bash
# Installs what the image test needs and the machine lacks: podman (build and run), buildah
# (podman's builder), mmdebstrap (the Debian rootfs of the local Node base image), runc (the OCI
# runtime that works here; crun cannot set the ulimits). Debian/Ubuntu, as root (or with sudo).
set -euo pipefail
missing=()
for tool in podman:podman buildah:buildah mmdebstrap:mmdebstrap runc:runc; do
  command -v "${tool%%:*}" >/dev/null 2>&1 || missing+=("${tool#*:}")
done
[ "${#missing[@]}" = 0 ] && exit 0
echo "image-test: installing ${missing[*]} with apt-get (about 30 s)" >&2
sudo=(); [ "$(id -u)" = 0 ] || sudo=(sudo)
"${sudo[@]}" apt-get update -qq
DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq podman buildah mmdebstrap runc >/dev/null
