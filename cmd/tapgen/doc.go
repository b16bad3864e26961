// Command tapgen writes realistic, deterministic Modbus/TCP capture files for
// Tapwire's tests and benchmarks:
//
//	tapgen modbus [flags] -o FILE.pcap [-truth FILE.jsonl]
//	tapgen version
//	tapgen --help
//
// The output is a classic pcap (LINKTYPE_ETHERNET, microsecond timestamps)
// of Ethernet II / IPv4 / TCP frames with valid IP and TCP checksums. Every
// random choice comes from math/rand/v2 PCG streams seeded from -seed, and
// packet time starts at -start, so the same flags always give the same bytes.
// The Modbus encoding (modbus.go) is written from the Modbus Application
// Protocol Specification V1.1b3 and the Messaging on TCP/IP Implementation
// Guide, independently of Tapwire's dissector, and checked against tshark.
//
// # The plant
//
// One flat Ethernet segment, 10.10.0.0/16, seen from a SPAN port:
//
//   - Masters 10.10.1.1… Even-numbered masters (the first is 10.10.1.1) are
//     HMIs (Advantech panel PCs): they only read (FC 3 mostly, FC 4, FC 1,
//     FC 2) and poll every -period. Odd-numbered masters (10.10.1.2 …) are
//     SCADA/engineering servers (Dell): the same reads, every 4 periods, and
//     in 10% of their cycles one write of a setpoint or command (FC 6 45%,
//     FC 16 25%, FC 5 15%, FC 15 10%, FC 23 5%). SCADA setpoint values stay
//     within ±50 of each setpoint's default, so a baseline can learn them.
//     Masters run Linux: TTL 64, DF set, window 64240, IP id per connection,
//     SYN options MSS 1460 and SACK permitted.
//   - PLCs 10.10.2.1…, vendor by index (Schneider Electric, WAGO, Phoenix
//     Contact, ABB, Siemens, repeating; product and firmware vary with the
//     index, e.g. "Schneider Electric" / "BMX P34 2020" / "v3.10"), each with
//     its vendor's OUI, TTL (64, 64, 128, 255, 30), window, IP id counter per
//     host, response time range (within 1–20 ms) and delayed-ACK timer. PLC i
//     with i%3 == 0 answers unit id 1, i%3 == 2 unit id 255; i%3 == 1 is a
//     gateway to a serial line with units 1..3–5 (unit 1 the gateway itself,
//     the others meters and drives with their own identities). A gateway
//     answers other unit ids with exception 0x0B (ids up to 16, after a
//     40–60 ms serial timeout) or 0x0A (higher ids, at once); a PLC that is
//     not a gateway ignores the unit id.
//   - Masters 0 and 1 poll every PLC; further masters poll every other PLC.
//
// The plant depends only on -masters and -plcs, never on -seed: poll tables,
// unit ids, identities and MAC addresses are the same for every seed, so
// seed 2 is the same plant on another day (learn on one, detect on the
// other). The seed changes timing, ports, initial sequence numbers, IP ids,
// pipelining, process values, written values and rare exceptions.
//
// # Traffic
//
// Each master opens one TCP connection per PLC it polls, within 300 ms of
// -start: SYN, SYN-ACK after 150–600 µs, ACK. It then reads the PLC's basic
// device identification (FC 43 / MEI 14, read code 1: VendorName,
// ProductCode, MajorMinorRevision) and starts polling. A master's poll table
// per PLC is 2–5 reads (every unit of a gateway covered; SCADA masters also
// read the setpoint block 1000..1009). Each cycle sends the next 1 (65%),
// 2 (25%) or 3 (10%) table entries back to back, 20–150 µs apart, with
// consecutive transaction ids, before any answer: several requests are
// outstanding. The PLC answers in order, each after its response time and at
// least 0.2–1.5 ms after the previous answer. Cycles repeat every period
// (times the role's multiplier) ± -jitter.
//
// Responses carry a process image that is a function of (plant, address,
// packet time): slowly varying analog values with a little noise (triangle
// waves of 1–10 minutes), counters of 1–20 per second, status words with a
// slowly toggling bit, constants; holding registers 1000..1099 are setpoints
// that keep what was last written; coils 100..115 are commands. One read in
// 400 gets exception 2 (illegal data address) — about one per PLC every two
// minutes at default rates, far below 20 in 10 s.
//
// Clients ACK a response with their next request, with a pure ACK 20–60 µs
// after a second unACKed response, or with a delayed pure ACK after 40 ms
// (Linux) or 200 ms (the Windows attackers). PLCs piggyback their ACK on the response; a request
// they do not answer is ACKed after the vendor's delayed-ACK time. With a
// duration, every connection closes 3–13 ms before the end: client FIN-ACK,
// server FIN-ACK, client ACK; no poll cycle starts in the last 100 ms. With
// -packets the capture stops after exactly that many packets, without FINs.
//
// Function-code mix of requests in the benchmark capture
// (-masters 8 -plcs 32 -packets 2000000 -period 100ms -seed 1, 727 124
// requests): FC 3 64.5%, FC 4 15.0%, FC 1 10.2%, FC 2 9.0%, writes 1.4%
// (FC 6 0.62%, FC 16 0.35%, FC 5 0.20%, FC 15 0.13%, FC 23 0.07%), FC 43/14
// once per connection; 0.24% of responses are exception 2.
//
// # Attacks
//
// -attacks (comma list or "all") adds scripted sessions from hosts never
// seen before, each at a fixed fraction of -duration (of -packets, counted
// in packets of the model, when given). Each runs to completion with its
// own handshake and FIN (unless -packets ends the capture first), and draws from its own PCG stream, so the rest of
// the traffic keeps its random choices.
//
//	new-writer   72%  10.10.9.66 (Windows laptop) → the first PLC: FC 5 coil
//	                  103 on, FC 15 coils 0..15 on, FC 6 setpoint 1001 = 9999,
//	                  200–600 ms apart.
//	restart      78%  10.10.9.67 (Windows laptop) → the third PLC (index 2 mod
//	                  -plcs): FC 8 sub-function 1 (restart communications
//	                  option); the PLC echoes it.
//	listen-only  84%  10.10.9.69 (Linux PC) → the fourth PLC (index 3 mod
//	                  -plcs; the first with the defaults): FC 8 sub-function
//	                  4 (force listen only mode). The PLC answers no request
//	                  from anyone for 10 s (its TCP stack still ACKs); the
//	                  attacker gives up after 1 s and closes. An FC 8/1
//	                  restart ends the silence early, unanswered.
//	scan         90%  10.10.9.68 (Raspberry Pi) → the first gateway (the
//	                  second PLC): FC 43/14 to unit ids 1..247, one at a time,
//	                  2–5 ms after each answer. The gateway's units answer
//	                  with their identity, the others with 0x0B or 0x0A:
//	                  about 240 exceptions in about 2 s.
//
// Writes change the PLC's process image, so masters read what the attacker
// wrote, and a silent PLC changes its masters' traffic: after the first
// attack the capture is no longer the clean capture plus extra packets.
//
// # Impairments
//
// -impair (comma list or "all") changes only how the same logical byte
// streams are cut into segments. The segmenter draws from its own PCG
// stream; with -impair-rate F each data PDU is impaired with probability F by
// one impairment drawn from the list. The model never sees the segmenter,
// so a capture with impairments has the same PDUs (transaction ids, bytes,
// order) as the one without, and each PDU is complete at the same packet
// time:
//
//	split       the PDU goes out in 2–3 segments cut anywhere (also inside the
//	            MBAP header); the earlier parts 100–400 µs apart before the
//	            last, which goes out at the PDU's time.
//	coalesce    the PDUs of one pipelined burst (up to 3 of one side, less than
//	            2 ms apart, nothing from other connections in between) go in
//	            one segment at the time of the last: this moves the earlier
//	            PDUs' completion time (and truth "ts") to that time; their
//	            order stays the same.
//	retransmit  a data segment appears again 200 ms later with the same
//	            sequence number and the sender's current ACK (not if the
//	            sender has sent its FIN meanwhile).
//	lose        the segment is missing from the capture; the sender used its
//	            IP id and the peer ACKs it (capture loss, not network loss).
//	reorder     the PDU goes out in 2 segments and the capture sees the second
//	            half 50–300 µs before the first; the PDU is complete when the
//	            first half arrives, at the PDU's time.
//
// SYN, FIN and pure ACK segments are never impaired. -server-port moves the
// PLCs off 502 (tshark then needs -d tcp.port==N,mbtcp).
//
// What tshark 4.0 makes of them: it decodes clean, coalesced and lost
// captures PDU by PDU (lost PDUs are missing). It does not dissect
// retransmissions again unless sequence analysis is off. Reordered segments
// are reassembled with -o tcp.reassemble_out_of_order:TRUE. A split whose
// first part is shorter than 8 bytes (MBAP header + function code) derails
// its Modbus/TCP dissector for the rest of that direction of the stream; the
// PDUs it does report are still in order.
//
// # Truth file
//
// -truth FILE writes one JSON object per PDU, in the order the PDUs are
// complete in the capture (lost PDUs where they would have been):
//
//	{"ts":"2026-01-05T08:00:00.031521000Z","src":"10.10.1.1:60287","dst":"10.10.2.1:502",
//	 "dir":"request","func":3,"tid":17,"unit":1,"exception":2,"lost":true}
//
// ts is the packet time of the segment that completes the PDU, in UTC with
// nine fraction digits; func is the function code without the exception
// bit; exception appears only on exception responses and lost only when the
// PDU's bytes were in a segment the capture lost.
//
// # Code
//
// main.go parses flags; plant.go describes hosts, vendors and poll tables;
// scenario.go, attacks.go and events.go are the discrete-event traffic
// model; plc.go is the PLC's Modbus server and process image; modbus.go
// encodes ADUs; segment.go is the TCP segmenter with the impairments;
// output.go orders segments in time; frame.go builds frames and checksums;
// pcap.go writes the pcap (gopacket/pcapgo) and the truth file.
package main
