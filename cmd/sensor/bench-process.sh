#!/usr/bin/env bash
# Whole-process benchmark (make bench-process): the sensor and tshark read the
# same capture, each pinned to one core, in turns; prints packets per second
# of each and the ratio. Figures are wall-clock rates of whole runs, best of
# RUNS (default 3), so they include start-up and file reading.
set -euo pipefail
pcap=${BENCH_PCAP:?BENCH_PCAP: the capture to read}
sensor=${SENSOR:-bin/sensor}
runs=${RUNS:-3}
core=${CORE:-0}

for tool in taskset tshark capinfos; do
	command -v "$tool" >/dev/null || { echo "bench: $tool is not installed" >&2; exit 1; }
done

packets=$(capinfos -M -c -T "$pcap" | awk -F'\t' 'NR==2 {print $2}')
pdus=""

best() { # best elapsed seconds of $runs runs of "$@"
	local b=""
	for _ in $(seq "$runs"); do
		local s e d
		s=$(date +%s.%N)
		"$@" >/dev/null 2>&1
		e=$(date +%s.%N)
		d=$(echo "$e - $s" | bc -l)
		if [ -z "$b" ] || [ "$(echo "$d < $b" | bc -l)" = 1 ]; then b=$d; fi
	done
	echo "$b"
}

# The sensor's own count of PDUs, for the record.
pdus=$(taskset -c "$core" "$sensor" read --emit stats "$pcap" | sed -n 's/.*"events":{"modbus":\([0-9]*\)}.*/\1/p')

st=$(best taskset -c "$core" "$sensor" read --emit alert,stats "$pcap")
tt=$(best taskset -c "$core" tshark -n -r "$pcap" -T fields -e modbus.func_code)

srate=$(echo "$packets / $st" | bc -l)
trate=$(echo "$packets / $tt" | bc -l)
printf 'capture: %s (%d packets, %s Modbus PDUs)\n' "$pcap" "$packets" "$pdus"
printf 'sensor read --emit alert,stats  (core %s): %8.3f s  %12.0f packets/s\n' "$core" "$st" "$srate"
printf 'tshark -T fields -e modbus.func_code (core %s): %8.3f s  %12.0f packets/s\n' "$core" "$tt" "$trate"
printf 'ratio sensor/tshark: %.1fx\n' "$(echo "$srate / $trate" | bc -l)"
