package dissect

import (
	"encoding/binary"
	"net/netip"
	"testing"
)

// FuzzTCPFraming drives the flow table and the TCP framer with arbitrary
// segments of one connection: each record of the input is a flags byte
// (bit 0: from the server; bit 1: SYN; bit 2: FIN; bit 3: RST; bit 4: no
// ACK), a signed sequence offset (2 bytes) from the sender's stream start,
// an acknowledgement offset (2 bytes), a length byte, then that many payload
// bytes taken from the rest of the input. The framer must never panic and
// must keep its bounds: buffered bytes, queued segments and pool use.
func FuzzTCPFraming(f *testing.F) {
	// Seeds: a clean exchange, a split PDU, a retransmission and a hole.
	var clean []byte
	var seq [2]int
	add := func(fromServer bool, flags byte, seqOff, ackOff int, payload []byte) {
		fl := flags
		if fromServer {
			fl |= 1
		}
		rec := []byte{fl, 0, 0, 0, 0, byte(len(payload))}
		binary.BigEndian.PutUint16(rec[1:], uint16(int16(seqOff)))
		binary.BigEndian.PutUint16(rec[3:], uint16(int16(ackOff)))
		clean = append(clean, rec...)
		clean = append(clean, payload...)
	}
	for i := 1; i <= 3; i++ {
		req, resp := toyPDU(1, byte(i), 4), toyPDU(2, byte(i), 6)
		add(false, 0, seq[0], seq[1], req)
		seq[0] += len(req)
		add(true, 0, seq[1], seq[0], resp)
		seq[1] += len(resp)
	}
	f.Add(clean)
	split := append([]byte(nil), clean...)
	f.Add(append(split, 0, 0, 30, 0, 0, 3, 0xAB, 1, 9)) // header cut, then a hole
	f.Add([]byte{2, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0xAB, 1})
	cfg := Config{Flows: FlowConfig{MaxFlows: 16}, SegmentPool: 16, HoleTimeout: 1e9}
	e := NewEngine(cfg, []Dissector{toyProto{}}, SinkFunc(func(*Batch) {}))
	f.Fuzz(func(t *testing.T, in []byte) {
		// A fresh flow table and pool for every input (the engine's
		// decoders and batch are reused: building them is slow).
		e.flows = newFlowTable(e.cfg.Flows, e.release)
		e.segs = segPool{max: e.cfg.SegmentPool}
		e.stats = Stats{}
		cli := netip.AddrFrom4([4]byte{10, 0, 0, 1})
		srv := netip.AddrFrom4([4]byte{10, 0, 0, 2})
		base := [2]uint32{1000, 900000}
		ts := int64(1e18)
		for len(in) >= 6 {
			flags := in[0]
			seqOff := int16(binary.BigEndian.Uint16(in[1:]))
			ackOff := int16(binary.BigEndian.Uint16(in[3:]))
			n := int(in[5])
			in = in[6:]
			if n > len(in) {
				n = len(in)
			}
			side := int(flags & 1)
			pkt := packet{proto: ipProtoTCP, payload: in[:n]}
			in = in[n:]
			if side == 0 {
				pkt.src, pkt.dst, pkt.sport, pkt.dport = cli, srv, 40000, 9999
			} else {
				pkt.src, pkt.dst, pkt.sport, pkt.dport = srv, cli, 9999, 40000
			}
			pkt.seq = base[side] + uint32(int32(seqOff))
			pkt.ack = base[1-side] + uint32(int32(ackOff))
			if flags&2 != 0 {
				pkt.flags |= flagSYN
			}
			if flags&4 != 0 {
				pkt.flags |= flagFIN
			}
			if flags&8 != 0 {
				pkt.flags |= flagRST
			}
			if flags&16 == 0 {
				pkt.flags |= flagACK
			}
			ts += int64(flags>>5) * 3e8
			k, s := makeKey(&pkt)
			fl, created := e.flows.lookup(k, ts)
			if created {
				fl.ep[s] = Endpoint{Kind: EndpointIP, Addr: pkt.src, Port: pkt.sport}
				fl.ep[1-s] = Endpoint{Kind: EndpointIP, Addr: pkt.dst, Port: pkt.dport}
			}
			e.inputPkt++
			e.tcpPacket(fl, s, &pkt, ts)
			for i := range fl.tcp {
				st := &fl.tcp[i]
				if len(st.buf) > (toyProto{}).MaxPDU()+resyncKeep+len(pkt.payload) {
					t.Fatalf("stream %d buffers %d bytes", i, len(st.buf))
				}
				if st.nooo > maxOOO {
					t.Fatalf("stream %d queues %d segments", i, st.nooo)
				}
			}
			if e.segs.inUse > e.segs.max || e.segs.inUse < 0 {
				t.Fatalf("segment pool in use %d of %d", e.segs.inUse, e.segs.max)
			}
		}
		e.Close()
	})
}
