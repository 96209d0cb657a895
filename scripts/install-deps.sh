#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Installs the Debian 12 packages natlab needs to build (libraries, CMake) and to run
# its tests (coturn, tshark, openssl: the TLS oracle, nftables, iproute2, traceroute, jq,
# prove, socat: the raw UDP adapter; miniupnpd with the clients upnpc and natpmpc: port
# mapping; nodejs, npm and @roamhq/wrtc: the webrtc adapter; tinyproxy: the HTTP CONNECT
# proxy of the corporate preset; xmllint: the report XML oracle; chromium-headless-shell:
# the browser that renders report.html's timeline in oracle_timeline_browser; tayga and
# unbound: NAT64 and DNS64 of IPv6-only access) and check its format (clang-format). Run
# as root.
set -euo pipefail

build_deps=(build-essential cmake pkg-config
	libnl-3-dev libnl-route-3-dev libnftables-dev libpcap-dev liblua5.4-dev
	libuv1-dev libsodium-dev libjansson-dev libssl-dev libminiupnpc-dev)
test_deps=(coturn tshark openssl nftables iproute2 iputils-ping traceroute jq perl procps util-linux clang
	clang-format socat miniupnpd miniupnpd-nftables miniupnpc natpmpc nodejs tinyproxy
	libxml2-utils chromium-headless-shell tayga unbound)
# The webrtc adapter's stack: npm installs scripts/webrtc/package-lock.json (@roamhq/wrtc,
# libwebrtc prebuilt for Node, shipped inside the npm package: nothing is downloaded when
# it runs) into this directory; scenarios/lib/adapters.lua looks there.
webrtc_dir=/opt/natlab-webrtc
webrtc_src=$(cd "$(dirname "$0")/webrtc" && pwd)

if [ "$(id -u)" -ne 0 ]; then
	echo "install-deps: run as root (apt-get needs it)" >&2
	exit 1
fi
missing=()
for p in "${build_deps[@]}" "${test_deps[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# Debian's nodejs comes without npm; a nodejs of another origin may bring its own (and
# conflict with Debian's npm package).
command -v npm >/dev/null 2>&1 || missing+=(npm)
if [ ${#missing[@]} -eq 0 ]; then
	echo "install-deps: every package is installed"
else
	echo "install-deps: installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	# miniupnpd runs only inside NAT boxes, started by natlab: never as the host's service.
	echo "miniupnpd miniupnpd/start_daemon boolean false" | debconf-set-selections
	# unbound and tayga run only inside lab namespaces, started by natlab: never as the
	# host's resolver (unbound-resolvconf would rewrite the host's resolv.conf) nor as
	# its translator. Masked before the package can start them.
	if [ -d /run/systemd/system ]; then
		systemctl mask unbound.service unbound-resolvconf.service tayga.service >/dev/null 2>&1 || true
	fi
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Installed again only when the lock file changed or the module does not load.
if cmp -s "$webrtc_src/package-lock.json" "$webrtc_dir/package-lock.json" &&
	NODE_PATH=$webrtc_dir/node_modules node -e 'require("@roamhq/wrtc")' 2>/dev/null; then
	echo "install-deps: $webrtc_dir has @roamhq/wrtc"
else
	echo "install-deps: npm ci @roamhq/wrtc in $webrtc_dir"
	mkdir -p "$webrtc_dir"
	cp "$webrtc_src/package.json" "$webrtc_src/package-lock.json" "$webrtc_dir/"
	(cd "$webrtc_dir" && npm ci --omit=dev --no-audit --no-fund --loglevel=error >/dev/null)
	NODE_PATH=$webrtc_dir/node_modules node -e 'require("@roamhq/wrtc")'
fi
echo "install-deps: done"
