#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Installs the Debian 12 packages natlab needs to build (libraries, CMake) and to run
# its tests (coturn, tshark, openssl: the TLS oracle, nftables, iproute2, traceroute, jq,
# prove, socat: the raw UDP adapter; miniupnpd with the clients upnpc and natpmpc: port
# mapping) and check its format (clang-format). Run as root.
set -euo pipefail

build_deps=(build-essential cmake pkg-config
	libnl-3-dev libnl-route-3-dev libnftables-dev libpcap-dev liblua5.4-dev
	libuv1-dev libsodium-dev libjansson-dev libssl-dev)
test_deps=(coturn tshark openssl nftables iproute2 iputils-ping traceroute jq perl procps util-linux clang
	clang-format socat miniupnpd miniupnpd-nftables miniupnpc natpmpc)

if [ "$(id -u)" -ne 0 ]; then
	echo "install-deps: run as root (apt-get needs it)" >&2
	exit 1
fi
missing=()
for p in "${build_deps[@]}" "${test_deps[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
	echo "install-deps: everything is installed"
	exit 0
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# miniupnpd runs only inside NAT boxes, started by natlab: never as the host's service.
echo "miniupnpd miniupnpd/start_daemon boolean false" | debconf-set-selections
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "install-deps: done"
