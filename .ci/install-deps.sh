#!/usr/bin/env bash
# Install what netbalance's real-testbed tests need on a fresh Debian bookworm
# machine, as root. Idempotent: a second run only checks.
#
#   bash .ci/install-deps.sh            # system packages + CRIU 4.1.1
#   bash .ci/install-deps.sh --python   # ... plus the Python extras (best-effort)
#   bash .ci/install-deps.sh --python-only
#
# Network: only the Debian mirror apt already uses (and PyPI for the extras).
# CRIU is built from Debian's pristine source tarball, fetched from that mirror
# (the host is read from apt's sources at run time, never hard-coded here).
set -euo pipefail

CRIU_VERSION=4.1.1
# sha256 of criu_4.1.1.orig.tar.xz as fetched from the Debian pool on 2026-11-26
# (trust on first use; a different file is refused).
CRIU_SHA256=f80a66cb3726bb2116266d4759ce3bcbfab7abdb6b6d430bf20dd41911717afe
CRIU_BIN=/usr/local/sbin/criu
# Our patches to CRIU (see .ci/patches/*.patch); their digest is recorded
# beside the binary so that a build without them is redone.
SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CRIU_PATCHES=("$SCRIPT_DIR"/patches/criu-"$CRIU_VERSION"-*.patch)
CRIU_STAMP=/usr/local/share/netbalance/criu-build.stamp
# Where CRIU keeps its kernel-feature cache (criu.kdat). CRIU keeps it only on
# a tmpfs (so that a reboot drops it) and probes the kernel afresh on every
# run otherwise: about 100 ms more per dump and per restore. Stock CRIU uses
# /run, which is not a tmpfs on every VM (it is ext4 on the development
# machine), so we build with this directory and mount a small tmpfs on it.
CRIU_KDAT_DIR=/run/netbalance-criu
BUILD_ROOT=${NETBALANCE_BUILD_ROOT:-/var/tmp/netbalance-deps}

APT_PACKAGES=(
  # runtime of the testbed layer
  openssh-server openssh-client iproute2 nftables iptables procps psmisc util-linux
  xz-utils ca-certificates curl patch python3 fonts-dejavu-core
  # CRIU build
  build-essential pkg-config libprotobuf-dev libprotobuf-c-dev protobuf-c-compiler protobuf-compiler
  libnl-3-dev libnet1-dev libcap-dev libnftables-dev libgnutls28-dev uuid-dev libbsd-dev
  python3-protobuf
  # `netbalance lab` (tests/real_vms.rs): QEMU, the image builder
  mmdebstrap e2fsprogs
)
# qemu-system-x86 and qemu-utils: see install_qemu.

T0=$(date +%s.%N)
elapsed() { local s=$1; awk -v a="$s" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b-a}'; }
log() { printf '[install-deps +%ss] %s\n' "$(elapsed "$T0")" "$*" >&2; }

need_root() {
  if [ "$(id -u)" != 0 ]; then
    echo "install-deps.sh: must run as root" >&2
    exit 2
  fi
}

install_apt_packages() {
  local t missing=()
  t=$(date +%s.%N)
  for p in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  if [ ${#missing[@]} -eq 0 ]; then
    log "apt: all ${#APT_PACKAGES[@]} packages present"
    return
  fi
  log "apt: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  log "apt: done in $(elapsed "$t")s"
}

# QEMU for the lab: qemu-system-x86 and qemu-utils at one version (the
# candidate of qemu-system-x86), downgrading a qemu-utils from elsewhere.
install_qemu() {
  local t v have
  t=$(date +%s.%N)
  if command -v qemu-system-x86_64 >/dev/null && command -v qemu-img >/dev/null; then
    log "qemu: $(qemu-system-x86_64 --version | head -1) present"
    return
  fi
  export DEBIAN_FRONTEND=noninteractive
  v=$(apt-cache policy qemu-system-x86 | awk '/Candidate:/ {print $2}')
  if [ -z "$v" ] || [ "$v" = "(none)" ]; then
    apt-get update -qq
    v=$(apt-cache policy qemu-system-x86 | awk '/Candidate:/ {print $2}')
  fi
  have=$(dpkg-query -W -f='${Version}' qemu-utils 2>/dev/null || true)
  log "qemu: installing qemu-system-x86 and qemu-utils $v${have:+ (qemu-utils $have installed)}"
  apt-get install -y -qq --no-install-recommends --allow-downgrades \
    "qemu-system-x86=$v" "qemu-utils=$v" >/dev/null
  log "qemu: done in $(elapsed "$t")s"
}

# Print the Debian archive base URIs apt uses (one per line, main archive
# first), from one-line (*.list) and deb822 (*.sources) files. Security and
# update suites are skipped: the pool lives in the main archive.
debian_mirrors() {
  local f
  {
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
      [ -f "$f" ] || continue
      # deb [opts] URI suite comp...
      awk '$1=="deb" || $1=="deb-src" {
             i=2; if ($2 ~ /^\[/) { while (i<=NF && $i !~ /\]$/) i++; i++ }
             uri=$i; suite=$(i+1);
             if (suite !~ /security/) print uri }' "$f"
    done
    for f in /etc/apt/sources.list.d/*.sources; do
      [ -f "$f" ] || continue
      awk 'BEGIN{RS=""; FS="\n"}
           { uris=""; suites="";
             for (j=1;j<=NF;j++) {
               if ($j ~ /^URIs:/)   { sub(/^URIs:[ \t]*/,"",$j); uris=$j }
               if ($j ~ /^Suites:/) { sub(/^Suites:[ \t]*/,"",$j); suites=$j }
             }
             if (uris != "" && suites !~ /security/) {
               n=split(uris, u, /[ \t]+/); for (k=1;k<=n;k++) print u[k] } }' "$f"
    done
  } | sed 's:/*$::' | awk '!seen[$0]++'
}

criu_ok() {
  local v
  [ -x "$CRIU_BIN" ] || return 1
  v=$("$CRIU_BIN" --version 2>/dev/null | awk '/^Version:/ {print $2}')
  [ -n "$v" ] || return 1
  # >= 4.1 ?
  local major=${v%%.*} rest=${v#*.}
  local minor=${rest%%.*}
  [ "$major" -gt 4 ] || { [ "$major" -eq 4 ] && [ "${minor:-0}" -ge 1 ]; } || return 1
  # A 4.1.x we did not build with our patches fails on Linux >= 6.16 (TCP dump).
  if [ "$v" = "$CRIU_VERSION" ]; then
    [ -f "$CRIU_STAMP" ] && [ "$(cat "$CRIU_STAMP")" = "$(patches_digest)" ] || return 1
  fi
}

patches_digest() {
  { echo "$CRIU_VERSION"; echo "RUNDIR=$CRIU_KDAT_DIR"; cat "${CRIU_PATCHES[@]}" 2>/dev/null; } | sha256sum | cut -d' ' -f1
}

# The tmpfs for CRIU's kdat cache (gone after a reboot: a rerun of this
# script mounts it again; without it CRIU only runs slower).
mount_kdat_dir() {
  mkdir -p "$CRIU_KDAT_DIR"
  if ! mountpoint -q "$CRIU_KDAT_DIR"; then
    mount -t tmpfs -o size=1m,mode=0700 netbalance-criu "$CRIU_KDAT_DIR"
    log "criu: tmpfs mounted on $CRIU_KDAT_DIR (kdat cache)"
  fi
}

# CRIU's lazy pages (post-copy) tee the pages it serves through a 4 MiB
# pipe. A process without CAP_SYS_RESOURCE (root in this development
# machine's container lacks it) may make pipes only up to fs.pipe-max-size
# (1 MiB by default): criu's page server then fails after the restore began
# ("page-pipe: tee: 65536: Operation not permitted"). Hosts where root has
# every capability need nothing; netbalance checks it before a post-copy move.
raise_pipe_max_size() {
  local want=4194304 now
  now=$(cat /proc/sys/fs/pipe-max-size 2>/dev/null || echo 0)
  if [ "$now" -lt "$want" ] && echo "$want" > /proc/sys/fs/pipe-max-size 2>/dev/null; then
    log "criu: fs.pipe-max-size $now -> $want (lazy pages)"
  fi
}

fetch_criu_source() {
  local dest=$1 base url
  local rel="pool/main/c/criu/criu_${CRIU_VERSION}.orig.tar.xz"
  if [ -f "$dest" ] && echo "$CRIU_SHA256  $dest" | sha256sum -c --quiet 2>/dev/null; then
    log "criu: source tarball already downloaded"
    return 0
  fi
  while read -r base; do
    [ -n "$base" ] || continue
    url="$base/$rel"
    log "criu: fetching $url"
    if curl -fsSL --retry 2 --connect-timeout 15 -o "$dest.part" "$url"; then
      if echo "$CRIU_SHA256  $dest.part" | sha256sum -c --quiet; then
        mv "$dest.part" "$dest"
        return 0
      fi
      echo "install-deps.sh: checksum mismatch for $url" >&2
    fi
    rm -f "$dest.part"
  done < <(debian_mirrors)
  echo "install-deps.sh: could not fetch $rel from any Debian mirror in apt's sources" >&2
  return 1
}

install_criu() {
  local t
  t=$(date +%s.%N)
  if criu_ok; then
    log "criu: $("$CRIU_BIN" --version | head -1) already installed at $CRIU_BIN"
    return
  fi
  mkdir -p "$BUILD_ROOT"
  local tarball="$BUILD_ROOT/criu_${CRIU_VERSION}.orig.tar.xz"
  fetch_criu_source "$tarball"
  log "criu: fetched in $(elapsed "$t")s"
  rm -rf "$BUILD_ROOT/criu-$CRIU_VERSION"
  tar -C "$BUILD_ROOT" -xJf "$tarball"
  local p
  for p in "${CRIU_PATCHES[@]}"; do
    [ -f "$p" ] || continue
    log "criu: applying $(basename "$p")"
    patch -d "$BUILD_ROOT/criu-$CRIU_VERSION" -p1 --quiet <"$p"
  done
  local tb
  tb=$(date +%s.%N)
  # `make criu` builds only the binary (no docs: asciidoc not needed).
  make -C "$BUILD_ROOT/criu-$CRIU_VERSION" -j2 criu RUNDIR="$CRIU_KDAT_DIR" >"$BUILD_ROOT/criu-build.log" 2>&1 || {
    tail -40 "$BUILD_ROOT/criu-build.log" >&2
    echo "install-deps.sh: criu build failed (log: $BUILD_ROOT/criu-build.log)" >&2
    return 1
  }
  log "criu: built in $(elapsed "$tb")s"
  # Into place by rename: a criu started meanwhile runs the old or the new binary, never half of one.
  install -D -m 0755 "$BUILD_ROOT/criu-$CRIU_VERSION/criu/criu" "$CRIU_BIN.new"
  mv -f "$CRIU_BIN.new" "$CRIU_BIN"
  mkdir -p "$(dirname "$CRIU_STAMP")"
  patches_digest >"$CRIU_STAMP"
  criu_ok || { echo "install-deps.sh: $CRIU_BIN --version does not report >= 4.1" >&2; return 1; }
  log "criu: installed $("$CRIU_BIN" --version | head -1) at $CRIU_BIN ($(elapsed "$t")s in all)"
}

# Wanted by benches (graph partitioning baseline, topology datasets). Best-effort:
# never fails the script (PyPI may be unreachable).
install_python_extras() {
  local t py
  t=$(date +%s.%N)
  py=$(command -v python3 || true)
  if [ -z "$py" ]; then
    log "python extras: no python3, skipped"
    return 0
  fi
  if "$py" -c 'import pymetis, topohub' 2>/dev/null; then
    log "python extras: pymetis and topohub already importable"
    return 0
  fi
  if ! "$py" -m pip --version >/dev/null 2>&1; then
    log "python extras: pip missing, skipped (apt-get install python3-pip)"
    return 0
  fi
  local extra=()
  # Debian's own python refuses system-wide pip installs (PEP 668).
  if "$py" -c 'import sys; sys.exit(0 if sys.prefix == "/usr" else 1)' 2>/dev/null; then
    extra+=(--break-system-packages)
  fi
  if "$py" -m pip install -q "${extra[@]}" pymetis topohub >&2; then
    log "python extras: installed in $(elapsed "$t")s"
  else
    log "python extras: pip install failed (ignored)"
  fi
  return 0
}

main() {
  local mode=system
  case "${1:-}" in
    "") ;;
    --python) mode=all ;;
    --python-only) mode=python ;;
    -h|--help) sed -n '2,10p' "$0"; exit 0 ;;
    *) echo "usage: $0 [--python|--python-only]" >&2; exit 2 ;;
  esac
  need_root
  if [ "$mode" != python ]; then
    install_apt_packages
    install_qemu
    install_criu
    mount_kdat_dir
    raise_pipe_max_size
  fi
  if [ "$mode" != system ]; then
    install_python_extras
  fi
  log "done"
}

main "$@"
