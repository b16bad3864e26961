package modbus

import (
	"encoding/binary"

	"github.com/tapwire/tapwire/dissect"
)

// RTU captures
//
// The serial tap hands on, and writes into capture files, one frame per
// ADU and per skipped piece, of link type LINKTYPE_RTAC_SERIAL (250,
// drivers.LinkRTACSerial): the 12-byte header of Schweitzer Engineering
// Laboratories' RTAC serial captures, then the bytes:
//
//	offset  size  field
//	0       4     seconds since the Unix epoch, big-endian
//	4       4     microseconds, big-endian (the capture record's own
//	              timestamp has the nanoseconds: it is what Tapwire reads)
//	8       1     event type: 0x03 DATA_TX_END an ADU sent by the master
//	              (a request), 0x04 DATA_RX_END an ADU sent by a slave (a
//	              response); skipped bytes: 0x07 FRAMING_ERROR a frame whose
//	              CRC fails, 0x05 CAPTURE_DATA_LOST a frame cut short, 0x08
//	              PARITY_ERROR noise (bytes that cannot start a frame)
//	9       1     UART control lines: 0 (not sampled)
//	10      2     footer: 0
//	12      n     the ADU (address, PDU, CRC low byte first), or the
//	              skipped bytes
//
// The time of a frame is the arrival of its last byte. Wireshark's rtacser
// dissector shows the header and hands the bytes to the dissector chosen
// with Decode As; mbrtu reads the ADUs (see drivers/serial for the file
// and the tshark command).

// RTURecordHeaderLen is the length of the RTAC serial header.
const RTURecordHeaderLen = 12

// MaxRTURecord is the longest record AppendRTURecord writes for a framer's
// frame.
const MaxRTURecord = RTURecordHeaderLen + RTUMaxADU

// RTAC serial event types (the values Wireshark's rtacser dissector names).
const (
	rtacTXStart         = 0x01
	rtacRXStart         = 0x02
	rtacTXEnd           = 0x03
	rtacRXEnd           = 0x04
	rtacCaptureDataLost = 0x05
	rtacFramingError    = 0x07
	rtacParityError     = 0x08
)

// AppendRTURecord appends fr as an RTU capture record: the RTAC serial
// header and fr.Data.
func AppendRTURecord(b []byte, fr *RTUFrame) []byte {
	ev := byte(rtacFramingError)
	switch fr.Kind {
	case RTUADU:
		ev = rtacTXEnd
		if fr.Dir == dissect.DirResponse {
			ev = rtacRXEnd
		}
	case RTUTruncated:
		ev = rtacCaptureDataLost
	case RTUNoise:
		ev = rtacParityError
	}
	sec, ns := fr.TS/1e9, fr.TS%1e9
	if ns < 0 {
		sec, ns = sec-1, ns+1e9
	}
	b = binary.BigEndian.AppendUint32(b, uint32(sec))
	b = binary.BigEndian.AppendUint32(b, uint32(ns/1e3))
	b = append(b,
		ev,   // event type
		0,    // UART control lines
		0, 0, // footer
	)
	return append(b, fr.Data...)
}

// ParseRTURecord reads an RTU capture record: what it holds (an ADU and
// its direction, or skipped bytes of some kind) and its bytes, which alias
// rec. ok is false for a record shorter than the header or with an event
// type that carries no serial data. Records of other RTAC captures are
// read alike: data start and end events (0x01..0x04) as ADUs, transmitted
// ones as requests.
func ParseRTURecord(rec []byte) (kind RTUKind, dir dissect.Dir, data []byte, ok bool) {
	if len(rec) < RTURecordHeaderLen {
		return 0, 0, nil, false
	}
	data = rec[RTURecordHeaderLen:]
	switch rec[8] {
	case rtacTXEnd, rtacTXStart:
		return RTUADU, dissect.DirRequest, data, true
	case rtacRXEnd, rtacRXStart:
		return RTUADU, dissect.DirResponse, data, true
	case rtacFramingError:
		return RTUCRCError, 0, data, true
	case rtacCaptureDataLost:
		return RTUTruncated, 0, data, true
	case rtacParityError:
		return RTUNoise, 0, data, true
	}
	return 0, 0, data, false
}

// RTURecorder frames a serial line's bytes (RTUFramer) and writes every
// ADU and skipped piece as an RTU capture record. Its method set is the
// serial tap's Framer: drivers/serial takes one per port without knowing
// Modbus. It allocates nothing per call.
type RTURecorder struct {
	f    *RTUFramer
	rec  [MaxRTURecord]byte
	emit func(rec []byte, ts int64)
	cb   func(*RTUFrame) // r.frame, bound once
}

// NewRTURecorder returns a recorder for a line with configuration cfg.
func NewRTURecorder(cfg RTUConfig) *RTURecorder {
	r := &RTURecorder{f: NewRTUFramer(cfg)}
	r.cb = r.frame
	return r
}

// Feed frames the bytes p a read returned at ts and calls emit with every
// record completed (valid during the call) and its time.
func (r *RTURecorder) Feed(ts int64, p []byte, emit func(rec []byte, ts int64)) {
	r.emit = emit
	r.f.Feed(ts, p, r.cb)
	r.emit = nil
}

// Idle says the line is silent: everything buffered is handed on.
func (r *RTURecorder) Idle(ts int64, emit func(rec []byte, ts int64)) {
	r.emit = emit
	r.f.Idle(ts, r.cb)
	r.emit = nil
}

// Reset hands on what is buffered and starts a new stream (a port
// reopened).
func (r *RTURecorder) Reset(ts int64, emit func(rec []byte, ts int64)) {
	r.emit = emit
	r.f.Reset(ts, r.cb)
	r.emit = nil
}

// Stats returns the framer's counters.
func (r *RTURecorder) Stats() RTUStats { return r.f.Stats() }

// Framer is the recorder's framer.
func (r *RTURecorder) Framer() *RTUFramer { return r.f }

func (r *RTURecorder) frame(fr *RTUFrame) {
	b := AppendRTURecord(r.rec[:0], fr)
	if r.emit != nil {
		r.emit(b, fr.TS)
	}
}
