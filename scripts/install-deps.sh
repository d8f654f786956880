#!/usr/bin/env bash
# Installs the Debian packages melon needs to build and test, if missing.
set -euo pipefail

packages=(build-essential cmake pkg-config clang libopenblas-openmp-dev
          zlib1g-dev libbz2-dev liblzma-dev libcurl4-openssl-dev libssl-dev
          libcmocka-dev python3 libgsl-dev libcjson-dev gnuplot-nox libyajl-dev
          libmicrohttpd-dev curl libopenmpi-dev openmpi-bin python3-cffi
          python3-numpy python3-pytest python3-pandas chromium)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
    missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "melon: installing Debian packages: ${missing[*]}"
sudo=""
[ "$(id -u)" -ne 0 ] && sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
[ "${MELON_APT_UPDATED:-0}" = 1 ] || $sudo apt-get update
$sudo apt-get install -y --no-install-recommends "${missing[@]}"
