#!/usr/bin/env bash
# Installs the Debian packages rlbuild and its tests use: QEMU for both
# arches, UEFI firmware (OVMF, AAVMF), SeaBIOS, the boot loaders
# (systemd-boot, syslinux), dosfstools (fsck.fat) and iPXE. Installs only
# what is missing; needs root or sudo.
set -euo pipefail

pkgs=(
  qemu-system-x86 qemu-system-arm qemu-utils
  ovmf qemu-efi-aarch64 seabios
  systemd-boot-efi syslinux syslinux-common
  dosfstools mtools ipxe e2fsprogs bmap-tools
  zstd cpio
)

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

sudo=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "install-deps: need root (or sudo) to install: ${missing[*]}" >&2; exit 1; }
  sudo=sudo
fi
echo "install-deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
