#!/usr/bin/env bash
# Build the cgroup-hook test VM image: Debian's stock kernel, extracted from
# its .deb (nothing is installed into /boot), and a 4 MiB initramfs holding a
# static C init (init.c), busybox-static and the 14 modules needed to
# reach the host's / over virtio-9p. Idempotent: a second run only rebuilds
# the initramfs (~2 s). First run ~30 s (apt + a 70 MB kernel .deb).
#
# Adapted from the project's shared cgvm reference (proven on the CI machine).
#
#   build-image.sh                       # into tests/vm/cache (git-ignored)
#   CGVM_CACHE=/tmp/cgvm build-image.sh  # elsewhere (vm-run.sh reads CGVM_CACHE too)
#   CGVM_REFRESH_KERNEL=1 build-image.sh # fetch the current linux-image-amd64 again
#
# Output in $CGVM_CACHE:
#   vmlinuz, config  the Debian kernel and its config
#   vmlinux          the same kernel uncompressed (PVH boot: no decompression)
#   kroot/lib/modules/<ver>/  all its modules + depmod output; the guest
#                    bind-mounts this (read over 9p) so any module autoloads
#   initrd.cpio      uncompressed newc cpio (TCG decompresses slowly)
#   kver             kernel version string
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CACHE=$(realpath -m "${CGVM_CACHE:-$HERE/cache}")
mkdir -p "$CACHE"
log() { echo "build-cgvm: $*" >&2; }

# --- 1. host packages (Debian's) ----------------------------------------------
"$HERE/../../scripts/ensure-packages.sh" qemu-system-x86 busybox-static kmod cpio xz-utils gcc libc6-dev >&2

# --- 2. kernel (download the .deb, extract; nothing goes into /boot) --------
if [ ! -e "$CACHE/kernel.ok" ] || [ -n "${CGVM_REFRESH_KERNEL:-}" ]; then
  rm -f "$CACHE/kernel.ok"
  pkg=$(apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/{print $2; exit}')
  if [ -z "$pkg" ]; then apt-get update -qq; pkg=$(apt-cache depends linux-image-amd64 | awk '/Depends: linux-image-[0-9]/{print $2; exit}'); fi
  log "kernel package: $pkg"
  rm -rf "$CACHE/deb" "$CACHE/kroot"; mkdir -p "$CACHE/deb" "$CACHE/kroot"
  # _apt cannot write into root-only folders: download as root, quietly
  dl() { (cd "$CACHE/deb" && apt-get download -q "$pkg" 2>&1 | grep -v 'unsandboxed' >&2); ls "$CACHE"/deb/"$pkg"_*.deb >/dev/null 2>&1; }
  dl || { apt-get update -qq; dl; }
  deb=$(ls "$CACHE"/deb/"$pkg"_*.deb | head -1)
  dpkg-deb -x "$deb" "$CACHE/kroot"
  rm -rf "$CACHE/deb"
  kv=$(ls "$CACHE/kroot/lib/modules" | head -1)
  echo "$kv" > "$CACHE/kver"
  cp "$CACHE/kroot/boot/vmlinuz-$kv" "$CACHE/vmlinuz"
  cp "$CACHE/kroot/boot/config-$kv" "$CACHE/config"
  depmod -b "$CACHE/kroot" "$kv"
  # uncompressed ELF for PVH boot: under TCG, skipping the bzImage's own xz
  # decompression saves ~1 s per boot
  # (|| true: with pipefail, head/xz closing the pipe early is not an error)
  off=$(LC_ALL=C grep -obUaP '\xfd7zXZ\x00' "$CACHE/vmlinuz" | head -1 | cut -d: -f1 || true)
  tail -c +$((${off:-0} + 1)) "$CACHE/vmlinuz" | xz -dc --single-stream > "$CACHE/vmlinux" || true
  [ "$(head -c 4 "$CACHE/vmlinux" | od -An -c | tr -d ' ')" = 177ELF ] || { log "vmlinux extraction failed"; exit 1; }
  echo "$pkg" > "$CACHE/kernel.ok"
fi
kv=$(cat "$CACHE/kver")
KM="$CACHE/kroot/lib/modules/$kv"
if [ -s "$CACHE/initrd.cpio" ] && [ "$CACHE/initrd.cpio" -nt "$HERE/init.c" ] \
   && [ "$CACHE/initrd.cpio" -nt "$0" ] && [ "$CACHE/initrd.cpio" -nt "$CACHE/kernel.ok" ]; then
  exit 0   # image cached and up to date
fi

# --- 3. initramfs -------------------------------------------------------------
# Only what is needed to reach the host's / over 9p goes into the initramfs;
# the guest then bind-mounts the full module tree ($CACHE/kroot/lib/modules,
# read through the 9p root) so every Debian module autoloads on demand.
BOOT_MODS="virtio_mmio virtio_pci virtio_console virtio_blk 9pnet_virtio 9p overlay"
STAGE=$(mktemp -d "$CACHE/stage.XXXXXX")
trap 'rm -rf "$STAGE"' EXIT
mkdir -p "$STAGE"/{bin,sbin,etc,proc,sys,dev,ctl,tmp,hostroot,newroot,ovl,lib/modules/$kv}
# PID 1: a small static C program (see init.c for why not a script)
gcc -static -O2 -Wall -o "$STAGE/init" "$HERE/init.c"
# busybox: /sbin/modprobe for the kernel's module autoloading, sh for debugging
cp /bin/busybox "$STAGE/bin/busybox"
for a in sh modprobe insmod lsmod mount cat ls; do ln -s busybox "$STAGE/bin/$a"; done
ln -s ../bin/modprobe "$STAGE/sbin/modprobe"
: > "$STAGE/etc/cgvm-modules"
for m in $BOOT_MODS; do
  modprobe -d "$CACHE/kroot" -S "$kv" --show-depends "$m" | awk '$1=="insmod"{print $2}'
done | awk '!seen[$0]++' | while read -r f; do
  rel=${f#*/lib/modules/$kv/}
  mkdir -p "$STAGE/lib/modules/$kv/$(dirname "$rel")"
  cp "$KM/$rel" "$STAGE/lib/modules/$kv/$rel"
  echo "/lib/modules/$kv/$rel" >> "$STAGE/etc/cgvm-modules"
done
(cd "$STAGE" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc --quiet -R 0:0) > "$CACHE/initrd.cpio.tmp"
mv "$CACHE/initrd.cpio.tmp" "$CACHE/initrd.cpio"
log "kernel $kv; initrd $(du -h "$CACHE/initrd.cpio" | cut -f1) with $(wc -l < "$STAGE/etc/cgvm-modules") boot modules -> $CACHE"
