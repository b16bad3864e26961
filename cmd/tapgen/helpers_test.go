package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"testing"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/google/gopacket/pcapgo"
)

// capture generates the capture the flags describe, in memory.
func capture(t testing.TB, args ...string) (pcap, truth []byte) {
	t.Helper()
	cfg, _, _, err := modbusFlags(append(args, "-o", "unused.pcap"), io.Discard)
	if err != nil {
		t.Fatalf("flags %q: %v", args, err)
	}
	var pb, tb bytes.Buffer
	if _, err := generate(cfg, &pb, &tb); err != nil {
		t.Fatalf("generate %q: %v", args, err)
	}
	return pb.Bytes(), tb.Bytes()
}

// truthRec is one line of a truth file.
type truthRec struct {
	TS        string `json:"ts"`
	Src       string `json:"src"`
	Dst       string `json:"dst"`
	Dir       string `json:"dir"`
	Func      int    `json:"func"`
	TID       int    `json:"tid"`
	Unit      int    `json:"unit"`
	Exception int    `json:"exception"`
	Lost      bool   `json:"lost"`
}

// key is what must not change between a clean and an impaired capture.
type pduKey struct {
	src, dst, dir string
	fn, tid, unit int
	exception     int
}

func (r truthRec) key() pduKey {
	return pduKey{r.Src, r.Dst, r.Dir, r.Func, r.TID, r.Unit, r.Exception}
}

func parseTruth(t testing.TB, b []byte) []truthRec {
	t.Helper()
	var out []truthRec
	sc := bufio.NewScanner(bytes.NewReader(b))
	for n := 1; sc.Scan(); n++ {
		dec := json.NewDecoder(bytes.NewReader(sc.Bytes()))
		dec.DisallowUnknownFields()
		var r truthRec
		if err := dec.Decode(&r); err != nil {
			t.Fatalf("truth line %d %q: %v", n, sc.Text(), err)
		}
		out = append(out, r)
	}
	return out
}

// frame is one packet of a capture.
type frame struct {
	ci   gopacket.CaptureInfo
	data []byte
}

func readFrames(t testing.TB, pcap []byte) []frame {
	t.Helper()
	r, err := pcapgo.NewReader(bytes.NewReader(pcap))
	if err != nil {
		t.Fatalf("pcap header: %v", err)
	}
	if r.LinkType() != layers.LinkTypeEthernet {
		t.Fatalf("link type %v, want Ethernet", r.LinkType())
	}
	var out []frame
	for {
		data, ci, err := r.ReadPacketData()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatalf("packet %d: %v", len(out)+1, err)
		}
		out = append(out, frame{ci: ci, data: data})
	}
}

// tcpFrame is a decoded frame.
type tcpFrame struct {
	eth layers.Ethernet
	ip  layers.IPv4
	tcp layers.TCP
}

func decodeTCP(t testing.TB, n int, data []byte) *tcpFrame {
	t.Helper()
	var f tcpFrame
	p := gopacket.NewDecodingLayerParser(layers.LayerTypeEthernet, &f.eth, &f.ip, &f.tcp)
	p.IgnoreUnsupported = true // gopacket's Modbus layer stays out of this
	var decoded []gopacket.LayerType
	if err := p.DecodeLayers(data, &decoded); err != nil {
		t.Fatalf("frame %d: %v", n, err)
	}
	if len(decoded) < 3 || decoded[2] != layers.LayerTypeTCP {
		t.Fatalf("frame %d: decoded %v, want Ethernet/IPv4/TCP", n, decoded)
	}
	return &f
}
