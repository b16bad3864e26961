#!/usr/bin/env bash
# Capture benchmark (make bench-capture; root): frames are offered at rising
# rates on a veth pair between two network namespaces made here, and
# `sensor run` (full dissection and detection) and `tcpdump -w /dev/null`
# read the other end in turns, with the same total ring size. For each
# offered rate and tool: the median over RUNS (default 3) of the frames
# captured and the kernel's drops. The last rows use tcpreplay --topspeed
# and tapgen inject unpaced (the fastest injectors here).
set -euo pipefail
pcap=${BENCH_PCAP:?BENCH_PCAP: the capture to offer}
sensor=${SENSOR:-bin/sensor}
tapgen=${TAPGEN:-bin/tapgen}
runs=${RUNS:-3}
seconds=${SECONDS_PER_RUN:-3}
rates=${RATES:-"50000 100000 200000 300000 500000 800000"}
ring_mib=${RING_MIB:-8}

[ "$(id -u)" = 0 ] || { echo "bench-capture: needs root (network namespaces, AF_PACKET)" >&2; exit 1; }
for tool in ip tcpdump tcpreplay capinfos; do
	command -v "$tool" >/dev/null || { echo "bench-capture: $tool is not installed" >&2; exit 1; }
done
sensor=$(readlink -f "$sensor"); tapgen=$(readlink -f "$tapgen"); pcap=$(readlink -f "$pcap")

tag=twb$$
nsA=${tag}a nsB=${tag}b ifA=${tag}a0 ifB=${tag}b0
work=$(mktemp -d)
cleanup() { ip netns del "$nsA" 2>/dev/null || true; ip netns del "$nsB" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
ip netns add "$nsA"; ip netns add "$nsB"
ip link add "$ifA" netns "$nsA" type veth peer name "$ifB" netns "$nsB"
ip -n "$nsA" link set "$ifA" up; ip -n "$nsB" link set "$ifB" up
for i in $(seq 100); do
	ip -n "$nsB" link show "$ifB" | grep -q "state UP" && ip -n "$nsA" link show "$ifA" | grep -q "state UP" && break
	sleep 0.05
done
sleep 1 # veth attaches its queue when the kernel's link watch runs

cat >"$work/sensor.yaml" <<CFG
version: 1
capture:
  block_size: 1MiB
  num_blocks: $ring_mib
output:
  emit: [stats]
CFG
file_packets=$(capinfos -M -c -T "$pcap" | awk -F'\t' 'NR==2 {print $2}')

# start_tool TOOL starts the reader in nsB; stop_tool TOOL stops it and
# sets captured and dropped (both run in this shell: wait needs the child).
start_tool() {
	case $1 in
	sensor)
		ip netns exec "$nsB" "$sensor" run --config "$work/sensor.yaml" --iface "$ifB" --out "$work/out.jsonl" 2>"$work/err" &
		pid=$!
		for _ in $(seq 200); do grep -q "sensor running" "$work/err" && break; sleep 0.05; done ;;
	tcpdump)
		ip netns exec "$nsB" tcpdump -i "$ifB" -n -B $((ring_mib * 1024)) -w /dev/null 2>"$work/err" &
		pid=$!
		for _ in $(seq 200); do grep -q "listening on" "$work/err" && break; sleep 0.05; done ;;
	esac
}
stop_tool() {
	sleep 0.5
	kill -INT "$pid"; wait "$pid" || true
	case $1 in
	sensor)
		local line
		line=$(tail -n 1 "$work/out.jsonl")
		captured=$(sed -n 's/.*"inputs":\[{"name":"[^"]*","kind":"interface","packets":\([0-9]*\),.*/\1/p' <<<"$line")
		dropped=$(sed -n 's/.*"inputs":\[{"name":"[^"]*","kind":"interface","packets":[0-9]*,"drops":\([0-9]*\).*/\1/p' <<<"$line") ;;
	tcpdump)
		captured=$(sed -n 's/^\([0-9]*\) packets captured.*/\1/p' "$work/err")
		dropped=$(sed -n 's/^\([0-9]*\) packets dropped by kernel.*/\1/p' "$work/err") ;;
	esac
	rm -f "$work/out.jsonl"
}

# offer RATE: sends about $seconds of frames at RATE ("max": unpaced;
# "tcpreplay": tcpreplay --topspeed); prints the achieved rate.
offer() {
	local loops
	if [ "$1" = tcpreplay ]; then
		loops=$(( (300000 * seconds + file_packets - 1) / file_packets ))
		ip netns exec "$nsA" tcpreplay -q --topspeed --loop "$loops" -i "$ifA" "$pcap" 2>&1 | sed -n 's/.*Rated: [0-9.]* Bps, [0-9.]* Mbps, \([0-9.]*\) pps.*/\1/p' | tail -1
		return
	fi
	local rate=$1 args=()
	if [ "$rate" = max ]; then
		loops=$(( (1500000 * seconds + file_packets - 1) / file_packets ))
	else
		loops=$(( (rate * seconds + file_packets - 1) / file_packets ))
		args=(-rate "$rate")
	fi
	ip netns exec "$nsA" "$tapgen" inject -i "$ifA" "${args[@]}" -loop "$loops" "$pcap" 2>&1 | sed -n 's/.* \([0-9]*\) pps.*/\1/p' | tail -1
}

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

printf '%-10s %12s | %12s %10s | %12s %10s\n' "offered" "achieved pps" "sensor capt" "drops" "tcpdump capt" "drops"
for rate in $rates tcpreplay max; do
	declare -A res=()
	achieved=()
	for tool in sensor tcpdump; do
		caps=() drops=()
		for _ in $(seq "$runs"); do
			start_tool "$tool"
			a=$(offer "$rate")
			stop_tool "$tool"
			caps+=("$captured") drops+=("$dropped") achieved+=("${a%.*}")
		done
		res[$tool.c]=$(printf '%s\n' "${caps[@]}" | median)
		res[$tool.d]=$(printf '%s\n' "${drops[@]}" | median)
	done
	ach=$(printf '%s\n' "${achieved[@]}" | median)
	printf '%-10s %12s | %12s %10s | %12s %10s\n' "$rate" "$ach" "${res[sensor.c]}" "${res[sensor.d]}" "${res[tcpdump.c]}" "${res[tcpdump.d]}"
	unset res
done
