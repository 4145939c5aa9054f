#!/usr/bin/env bash
# Installs the Debian packages rlbuild and its tests use: QEMU for both
# arches, UEFI firmware (OVMF, AAVMF), SeaBIOS, the boot loaders
# (systemd-boot, syslinux), dosfstools (fsck.fat), iPXE and xz-utils
# (Debian kernel packages are data.tar.xz), and the BMC and console tools
# the lab tests cross-check against (ipmitool, redfishtool, pdudaemon,
# ser2net). Installs only what is missing; needs root or sudo.
set -euo pipefail

pkgs=(
  qemu-system-x86 qemu-system-arm qemu-utils
  ovmf qemu-efi-aarch64 seabios
  systemd-boot-efi syslinux syslinux-common
  dosfstools mtools ipxe e2fsprogs bmap-tools
  zstd cpio xz-utils
  iproute2 ipxe-qemu dnsmasq-base atftp tftpd-hpa
  curl netcat-openbsd iputils-ping memcached libmemcached-tools python3-pymemcache apache2-utils
  ipmitool redfishtool pdudaemon ser2net
  chromium libxml2-utils python3-jsonschema
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
# Packages such as tftpd-hpa start a service listening on every address
# when installed; the tests run their own servers inside private network
# namespaces, so keep services from starting during the install.
restore_policy=""
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' | $sudo tee /usr/sbin/policy-rc.d >/dev/null
  $sudo chmod +x /usr/sbin/policy-rc.d
  restore_policy=1
fi
$sudo apt-get update -qq
RUNLEVEL=1 $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
if [ -n "$restore_policy" ]; then $sudo rm -f /usr/sbin/policy-rc.d; fi
