#!/usr/bin/env bash
# setup.sh: install what ringo's tests and demo need on a Debian machine.
# Idempotent. Installs qemu-system-x86 (and tshark, iproute2, which the host
# tests use) from Debian's packages and unpacks a Debian linux-image package
# into .cache/kernel (apt-get download + dpkg -x: no postinst, /boot untouched).
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
cache="$top/.cache"
kdir="$cache/kernel"

need=()
command -v qemu-system-x86_64 >/dev/null || need+=(qemu-system-x86)
command -v ip >/dev/null || need+=(iproute2)
command -v zstd >/dev/null || need+=(zstd)
command -v tshark >/dev/null || need+=(tshark)
command -v ping >/dev/null || need+=(iputils-ping)
command -v nc >/dev/null || need+=(netcat-openbsd)
command -v dnsmasq >/dev/null || need+=(dnsmasq-base)
command -v curl >/dev/null || need+=(curl)
command -v radvd >/dev/null || need+=(radvd) # IPv6 SLAAC test: a real router advertisement daemon
command -v python3 >/dev/null || need+=(python3)
command -v gnuplot >/dev/null || need+=(gnuplot-nox) # scripts/bench.sh draws its chart with it
command -v chromium >/dev/null || need+=(chromium)  # the appliance's web page, tested in a headless browser
command -v dpdk-testpmd >/dev/null || need+=(dpdk-dev) # DPDK's e1000 PMD, the anchor of the driver benchmark (in the guest)
if ((${#need[@]})); then
	echo "setup: installing ${need[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

if [ ! -f "$kdir/vmlinuz" ]; then
	echo "setup: fetching the Debian kernel into $kdir"
	[ -n "$(apt-cache policy linux-image-amd64 2>/dev/null | grep Candidate)" ] || apt-get update -qq
	# linux-image-amd64 is a meta package: resolve it to the real image.
	pkg=$(apt-cache depends linux-image-amd64 | awk '/Depends: linux-image-[0-9]/ {print $2; exit}')
	[ -n "$pkg" ] || { echo "setup: cannot resolve linux-image-amd64" >&2; exit 1; }
	tmp=$(mktemp -d)
	trap 'rm -rf "$tmp"' EXIT
	(cd "$tmp" && apt-get download -qq "$pkg")
	rm -rf "$kdir.new" && mkdir -p "$kdir.new/root"
	dpkg -x "$tmp"/*.deb "$kdir.new/root"
	ver=${pkg#linux-image-}
	cp "$kdir.new/root/boot/vmlinuz-$ver" "$kdir.new/vmlinuz"
	mv "$kdir.new/root/lib/modules/$ver" "$kdir.new/modules"
	echo "$ver" >"$kdir.new/version"
	rm -rf "$kdir.new/root" "$kdir"
	mv "$kdir.new" "$kdir"
fi
echo "setup: kernel $(cat "$kdir/version") in $kdir"

# promtool checks the appliance's /metrics: from Debian's prometheus
# package, unpacked like the kernel (installing it would start a server).
if [ ! -x "$cache/bin/promtool" ]; then
	echo "setup: fetching promtool into $cache/bin"
	tmp=$(mktemp -d)
	(cd "$tmp" && apt-get download -qq prometheus 2>/dev/null)
	dpkg -x "$tmp"/prometheus_*.deb "$tmp/root"
	mkdir -p "$cache/bin"
	cp "$tmp/root/usr/bin/promtool" "$cache/bin/promtool"
	rm -rf "$tmp"
fi

(cd "$top" && go mod download)
echo "setup: done"
