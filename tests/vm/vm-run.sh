#!/usr/bin/env bash
# Run one command in a throw-away VM that has a pure cgroup v2 hierarchy.
# (Adapted from the project's shared cgvm reference; image from build-image.sh.)
#
#   vm-run.sh [-e VAR=VALUE]... DIR CMD [ARG]...
#
# DIR (a host folder) is mounted read-write at the same absolute path in the
# guest and is the command's working directory. The guest's / is the host's /
# (9p, read-only) under a tmpfs overlay, so host programs and glibc binaries
# (cargo test binaries, bash, ip, nft, iptables, ...) run unchanged; writes
# outside DIR vanish with the VM; /tmp, /run, /var/tmp are empty tmpfs.
# /sys/fs/cgroup is cgroup2 with cpuset cpu io memory pids enabled in the
# root's cgroup.subtree_control. A 64 MiB virtio disk /dev/vda (null backend:
# reads zeroes, discards writes) is there for io.max tests. Every Debian kernel
# module autoloads (veth, bridge, nf_tables, ...). CGVM=1 is set in the guest.
#
# CMD is exec'd directly (no shell: use `sh -c '...'` for shell syntax) with
# stdin /dev/null; its stdout/stderr stream to vm-run's stdout/stderr, byte
# for byte; vm-run exits with its exit code (128+N if killed by signal N),
# 124 on timeout, 125 if the VM failed.
#
# Environment knobs:
#   CGVM_CACHE    build output (default tests/vm/cache; build-image.sh makes it)
#   CGVM_SMP      vCPUs (default 2)          CGVM_MEM  guest RAM (default 1G)
#   CGVM_TIMEOUT  seconds (default 600)      CGVM_LOG  copy the guest console log here
#   CGVM_SERIAL=1 one VM at a time on this host (flock); parallel VMs share 2 cores
#   CGVM_ACCEL    tcg (default) | kvm: kvm only for hosts with real VMX/SVM;
#                 on a PVM-nested host (this workplace: kvm_pvm) a stock
#                 kernel under kvm crawls, then dies (emulation failure)
#   CGVM_MACHINE  microvm (default) | pc     CGVM_APPEND  extra kernel cmdline
#   CGVM_CPU      TCG cpu model (default max) CGVM_TCG_OPTS  extra ,k=v for -accel tcg
#   CGVM_CGROUP=0 no cgroup2 mount           CGVM_OVERLAY=0  read-only root
#   CGVM_PASS_ENV regex of host variable names passed into the guest
#                 (default ^(RUST_|CARGO_), so `cargo test` runner use works)
#   CGVM_SHARE_CACHE  9p cache mode for DIR (default loose; none = see host
#                 changes made while the VM runs, but exec from DIR is ~10x slower)
#   CGVM_VERBOSE=1 print boot timings to stderr
#   CGVM_TRACE=1  timestamped init steps in the console log (with CGVM_LOG=file)
set -uo pipefail
usage() { sed -n '2,/^set /p' "$0" | sed '$d; s/^# \{0,1\}//' >&2; exit 2; }
envs=()
while [ $# -gt 0 ]; do
  case "$1" in
    -e) [ $# -ge 2 ] || usage; envs+=("$2"); shift 2 ;;
    -h|--help) usage ;;
    --) shift; break ;;
    *) break ;;
  esac
done
[ $# -ge 2 ] || usage
DIR=$(realpath -e "$1") || { echo "vm-run: no such dir: $1" >&2; exit 125; }
shift
[ -d "$DIR" ] && [ "$DIR" != / ] || { echo "vm-run: DIR must be a folder other than /" >&2; exit 125; }
case "$DIR" in *$'\n'*) echo "vm-run: DIR must not contain a newline" >&2; exit 125 ;; esac
CACHE=$(realpath -m "${CGVM_CACHE:-$(dirname "$(realpath "$0")")/cache}")
for f in initrd.cpio vmlinux; do
  [ -s "$CACHE/$f" ] || { echo "vm-run: $CACHE/$f missing: run tests/vm/build-image.sh" >&2; exit 125; }
done
command -v qemu-system-x86_64 >/dev/null || { echo "vm-run: qemu-system-x86_64 missing: run tests/vm/build-image.sh" >&2; exit 125; }
ACCEL=${CGVM_ACCEL:-tcg}
SMP=${CGVM_SMP:-2}
MEM=${CGVM_MEM:-1G}
TIMEOUT=${CGVM_TIMEOUT:-600}
MACHINE=${CGVM_MACHINE:-microvm}

if [ -n "${CGVM_SERIAL:-}" ]; then
  exec 9>/tmp/cgvm.lock
  flock 9
fi

T=$(mktemp -d /tmp/cgvm.XXXXXX)
CTL=$T/ctl
mkdir "$CTL"
# guest virtio-serial ports -> FIFOs -> cat -> our own stdout/stderr. (A chardev
# on /proc/self/fd/1 would re-open the file and clobber a caller's log file.)
mkfifo "$T/out.fifo" "$T/err.fifo"
cat "$T/out.fifo" & COUT=$!
cat "$T/err.fifo" >&2 & CERR=$!
QPID=
cleanup() {
  [ -n "$QPID" ] && kill "$QPID" 2>/dev/null && wait "$QPID" 2>/dev/null
  # the cats end at EOF once qemu has closed the FIFOs; if qemu never
  # opened them (failed start), they are still blocked in open(): end them
  for _ in 1 2 3 4 5 6 7 8 9 10; do
    kill -0 "$COUT" 2>/dev/null || kill -0 "$CERR" 2>/dev/null || break
    sleep 0.1
  done
  kill "$COUT" "$CERR" 2>/dev/null
  wait "$COUT" "$CERR" 2>/dev/null
  if [ -n "${CGVM_LOG:-}" ]; then cp "$CTL/console.log" "$CGVM_LOG" 2>/dev/null; fi
  rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

{
  echo "CGVM_SHARE=$DIR"
  echo "CGVM_KMODS=$CACHE/kroot/lib/modules"
  echo "CGVM_SHARE_CACHE=${CGVM_SHARE_CACHE:-loose}"
  echo "CGVM_CGROUP=${CGVM_CGROUP:-1}"
  echo "CGVM_OVERLAY=${CGVM_OVERLAY:-1}"
  echo "CGVM_TRACE=${CGVM_TRACE:-0}"
} > "$CTL/config"
printf '%s\0' "$@" > "$CTL/argv"
# host variables forwarded by name (regex), then -e ones (later ones win)
fwd=()
while IFS= read -r -d '' kv; do
  [[ "${kv%%=*}" =~ ${CGVM_PASS_ENV:-^(RUST_|CARGO_)} ]] && fwd+=("$kv")
done < <(env -0)
printf '%s\0' CGVM=1 ${fwd[@]+"${fwd[@]}"} ${envs[@]+"${envs[@]}"} > "$CTL/env"

# Kernel command line: everything here only trims boot time under TCG
# (self-tests, tracers, W+X scan, security modules); none affects cgroups.
APPEND="console=ttyS0 quiet loglevel=4 panic=-1 rdinit=/init nokaslr mitigations=off \
random.trust_cpu=on tsc=reliable no_timer_check lpj=10000000 i8042.noaux i8042.nopnp \
cryptomgr.notests apparmor=0 audit=0 rodata=off \
initcall_blacklist=crypto_kdf108_init,init_kprobe_trace,init_blk_tracer,load_system_certificate_list"
case "$ACCEL" in
  kvm) accel=(-accel kvm -cpu host,-arch-capabilities) ;;
  *)   accel=(-accel "tcg,thread=multi${CGVM_TCG_OPTS:+,$CGVM_TCG_OPTS}" -cpu "${CGVM_CPU:-max}")
       # TCG's guest TSC ticks at the host's TSC rate; saying so skips a
       # calibration that hangs without HPET/PM timer (microvm has neither)
       khz=$(awk -F: '/^cpu MHz/{printf "%d", $2*1000; exit}' /proc/cpuinfo)
       [ -n "$khz" ] && APPEND="$APPEND tsc_early_khz=$khz" ;;
esac
if [ "$MACHINE" = microvm ]; then
  # no PCI, no legacy PC devices; virtio-mmio devices are described in ACPI
  mach=(-M microvm,acpi=on,pit=on,pic=off,rtc=on,isa-serial=on,x-option-roms=off,auto-kernel-cmdline=off)
  VIO=device
  APPEND="$APPEND pci=off"
else
  mach=(-M pc -bios /usr/share/qemu/qboot.rom)
  VIO=pci
fi
APPEND="$APPEND ${CGVM_APPEND:-}"

t0=$(date +%s%N)
timeout --foreground -k 5 "$TIMEOUT" qemu-system-x86_64 \
  -nodefaults -no-user-config -display none -no-reboot \
  "${mach[@]}" "${accel[@]}" -smp "$SMP" -m "$MEM" \
  -kernel "$CACHE/vmlinux" -initrd "$CACHE/initrd.cpio" -append "$APPEND" \
  -serial "file:$CTL/console.log" \
  -device virtio-serial-$VIO \
  -chardev file,id=cout,path="$T/out.fifo",append=on -device virtserialport,chardev=cout,name=cgvm.out \
  -chardev file,id=cerr,path="$T/err.fifo",append=on -device virtserialport,chardev=cerr,name=cgvm.err \
  -fsdev local,id=fsctl,path="$CTL",security_model=none \
  -device virtio-9p-$VIO,fsdev=fsctl,mount_tag=cgvm_ctl \
  -fsdev local,id=fsroot,path=/,security_model=none,readonly=on,multidevs=remap \
  -device virtio-9p-$VIO,fsdev=fsroot,mount_tag=cgvm_root \
  -fsdev local,id=fsshare,path="$DIR",security_model=passthrough,multidevs=remap \
  -device virtio-9p-$VIO,fsdev=fsshare,mount_tag=cgvm_share \
  -blockdev driver=null-co,node-name=null0,size=67108864,read-zeroes=on \
  -device virtio-blk-$VIO,drive=null0 \
  </dev/null &
QPID=$!
wait "$QPID"; qrc=$?; QPID=
t1=$(date +%s%N)
if [ -s "$CTL/rc" ]; then
  rc=$(cat "$CTL/rc")
elif [ "$qrc" = 124 ]; then
  echo "vm-run: timeout after ${TIMEOUT}s" >&2; rc=124
else
  echo "vm-run: VM ended without an exit code (qemu rc=$qrc); console tail:" >&2
  tail -n 30 "$CTL/console.log" >&2 2>/dev/null
  rc=125
fi
if [ -n "${CGVM_VERBOSE:-}" ]; then
  g0=; g1=; g2=
  [ -r "$CTL/boot-times" ] && read -r g0 g1 g2 < "$CTL/boot-times"
  echo "vm-run: wall $(( (t1 - t0) / 1000000 )) ms; guest uptime: /init ${g0:-?}s," \
    "command start ${g1:-?}s, command end ${g2:-?}s" >&2
fi
exit "$rc"
