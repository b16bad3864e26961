package main

import (
	"bufio"
	"io"
	"strconv"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/google/gopacket/pcapgo"
)

// snapLen of the capture; every frame is far shorter.
const snapLen = 262144

// sink frames segments and writes them to a classic pcap file (microsecond
// timestamps, LINKTYPE_ETHERNET) and their PDUs to the truth file.
type sink struct {
	hosts []host
	bw    *bufio.Writer
	pw    *pcapgo.Writer
	tw    *bufio.Writer // nil without -truth
	limit int64         // 0 for no limit
	err   error

	frame []byte
	line  []byte
	seg   tcpSeg

	packets, bytes, pdus, lost int64
	first, last                int64
}

func newSink(pcapOut, truthOut io.Writer, limit int64) (*sink, error) {
	sk := &sink{
		bw:    bufio.NewWriterSize(pcapOut, 1<<20),
		limit: limit,
		frame: make([]byte, 0, 2048),
		line:  make([]byte, 0, 256),
	}
	sk.pw = pcapgo.NewWriter(sk.bw)
	if err := sk.pw.WriteFileHeader(snapLen, layers.LinkTypeEthernet); err != nil {
		return nil, err
	}
	if truthOut != nil {
		sk.tw = bufio.NewWriterSize(truthOut, 1<<18)
	}
	return sk, nil
}

func (sk *sink) full() bool { return sk.err != nil || sk.limit > 0 && sk.packets >= sk.limit }

// write frames one segment and writes it with its PDU records.
func (sk *sink) write(s *segment) {
	if sk.full() {
		return
	}
	c := s.c
	src, dst := &sk.hosts[c.cli], &sk.hosts[c.srv]
	sport, dport := c.cport, c.sport
	if s.dir == toClient {
		src, dst = dst, src
		sport, dport = dport, sport
	}
	if s.mode == segRetransmit && c.finOut[s.dir] {
		return // the connection closed meanwhile: the copy was never sent
	}
	// The sender used an IP id whether or not the capture saw the packet.
	var ipID uint16
	if src.perConnID {
		ipID = c.ipID[s.dir]
		c.ipID[s.dir]++
	} else {
		ipID = src.ipID
		src.ipID++
	}
	switch s.mode {
	case segLost:
		sk.records(s, true)
		return
	case segRetransmit:
		// A retransmission carries the sender's current acknowledgement.
		if int32(c.lastAckOut[s.dir]-s.ack) > 0 {
			s.ack = c.lastAckOut[s.dir]
		}
	default:
		if s.flags&flagACK != 0 {
			c.lastAckOut[s.dir] = s.ack
		}
		if s.flags&flagFIN != 0 {
			c.finOut[s.dir] = true
		}
	}
	sk.seg = tcpSeg{
		src: src, dst: dst, ipID: ipID,
		sport: sport, dport: dport,
		seq: s.seq, ack: s.ack, flags: s.flags,
		payload: s.data,
	}
	if s.flags&flagSYN != 0 {
		sk.seg.opts = src.synOpts
	}
	sk.frame = appendFrame(sk.frame[:0], &sk.seg)
	ts := time.UnixMicro(s.t)
	ci := gopacket.CaptureInfo{Timestamp: ts, CaptureLength: len(sk.frame), Length: len(sk.frame)}
	if err := sk.pw.WritePacket(ci, sk.frame); err != nil {
		sk.err = err
		return
	}
	if sk.packets == 0 {
		sk.first = s.t
	}
	sk.last = s.t
	sk.packets++
	sk.bytes += int64(len(sk.frame))
	if s.mode == segNormal {
		sk.records(s, false)
	}
}

// records writes one truth line per PDU the segment completes:
//
//	{"ts":"…","src":"ip:port","dst":"ip:port","dir":"request","func":3,"tid":17,"unit":1,"exception":2,"lost":true}
func (sk *sink) records(s *segment, lost bool) {
	sk.pdus += int64(s.nrec)
	if lost {
		sk.lost += int64(s.nrec)
	}
	if sk.tw == nil || sk.err != nil {
		return
	}
	c := s.c
	src, dst, dir := c.cliAddr, c.srvAddr, "request"
	if s.dir == toClient {
		src, dst, dir = dst, src, "response"
	}
	for k := 0; k < s.nrec; k++ {
		r := &s.recs[k]
		b := append(sk.line[:0], `{"ts":"`...)
		b = time.UnixMicro(s.t).UTC().AppendFormat(b, "2006-01-02T15:04:05.000000000Z07:00")
		b = append(b, `","src":"`...)
		b = append(b, src...)
		b = append(b, `","dst":"`...)
		b = append(b, dst...)
		b = append(b, `","dir":"`...)
		b = append(b, dir...)
		b = append(b, `","func":`...)
		b = strconv.AppendUint(b, uint64(r.fc), 10)
		b = append(b, `,"tid":`...)
		b = strconv.AppendUint(b, uint64(r.tid), 10)
		b = append(b, `,"unit":`...)
		b = strconv.AppendUint(b, uint64(r.unit), 10)
		if r.exc != 0 {
			b = append(b, `,"exception":`...)
			b = strconv.AppendUint(b, uint64(r.exc), 10)
		}
		if lost {
			b = append(b, `,"lost":true`...)
		}
		b = append(b, "}\n"...)
		sk.line = b
		if _, err := sk.tw.Write(b); err != nil {
			sk.err = err
			return
		}
	}
}

// close flushes both outputs.
func (sk *sink) close() error {
	if sk.err != nil {
		return sk.err
	}
	if err := sk.bw.Flush(); err != nil {
		return err
	}
	if sk.tw != nil {
		return sk.tw.Flush()
	}
	return nil
}
