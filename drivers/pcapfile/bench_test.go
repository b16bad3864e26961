package pcapfile

import (
	"io"
	"testing"

	"github.com/tapwire/tapwire/drivers"
)

// BenchmarkNext reads a generated 100 000-packet capture from a file; one
// op is one frame. "mixed" frames cycle through 60–1514 bytes, "small"
// ones are all 60 bytes (the per-packet cost).
func BenchmarkNext(b *testing.B) {
	const n = 100_000
	for _, sizes := range []string{"mixed", "small"} {
		frames := make([]frame, n)
		var total int64
		for i := range frames {
			size := 60
			if sizes == "mixed" {
				size += (i * 97) % 1455
			}
			data := make([]byte, size)
			copy(data, ethFrame(byte(i)))
			frames[i] = frame{Data: data, TS: 1700000000e9 + int64(i)*1000, OrigLen: size}
			total += int64(size)
		}
		for _, kind := range []string{"pcap", "pcapng"} {
			b.Run(kind+"/"+sizes, func(b *testing.B) {
				path := writeFile(b, "bench", pcapgoFile(b, kind == "pcapng", drivers.LinkEthernet, frames))
				b.SetBytes(total / n)
				b.ReportAllocs()
				r, err := Open(path)
				if err != nil {
					b.Fatal(err)
				}
				var f drivers.Frame
				b.ResetTimer()
				for range b.N {
					err := r.Next(&f)
					if err == io.EOF {
						b.StopTimer()
						r.Close()
						if r, err = Open(path); err != nil {
							b.Fatal(err)
						}
						b.StartTimer()
						err = r.Next(&f)
					}
					if err != nil {
						b.Fatal(err)
					}
				}
				b.StopTimer()
				r.Close()
			})
		}
	}
}
