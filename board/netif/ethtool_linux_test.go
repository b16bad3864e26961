package netif

import (
	"reflect"
	"slices"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The ioctl argument must be exactly as large as the kernel's struct ifreq,
// on every architecture (40 bytes on 64-bit, 32 on arm).
func TestIfreqDataSize(t *testing.T) {
	if got, want := unsafe.Sizeof(ifreqData{}), unsafe.Sizeof(unix.Ifreq{}); got != want {
		t.Errorf("sizeof ifreqData = %d, want sizeof struct ifreq = %d", got, want)
	}
	if got := unsafe.Offsetof(ifreqData{}.data); got != unix.IFNAMSIZ {
		t.Errorf("ifr_data at offset %d, want %d", got, unix.IFNAMSIZ)
	}
	// struct ethtool_sset_info: data[] after cmd, reserved and the u64 mask.
	if got := unsafe.Offsetof(ethtoolSsetInfo{}.data); got != 16 {
		t.Errorf("ethtool_sset_info.data at offset %d, want 16", got)
	}
}

func TestParseGstrings(t *testing.T) {
	b := make([]byte, 3*ethGStringLen)
	copy(b[0:], "tx-scatter-gather")
	copy(b[ethGStringLen:], "rx-gro")
	copy(b[2*ethGStringLen:], "a-name-of-exactly-thirty-two-by!") // no NUL
	got := parseGstrings(b, 3)
	want := []string{"tx-scatter-gather", "rx-gro", "a-name-of-exactly-thirty-two-by!"}
	if !slices.Equal(got, want) {
		t.Errorf("parseGstrings = %q, want %q", got, want)
	}
	if got := parseGstrings(b[:ethGStringLen+5], 3); !slices.Equal(got, want[:1]) {
		t.Errorf("short buffer: %q, want only the whole names %q", got, want[:1])
	}
}

func TestFeatureBlocks(t *testing.T) {
	// 34 names so that the last two fall in the second word.
	names := make([]string, 34)
	for i := range names {
		names[i] = "f" + string(rune('a'+i%26)) + string(rune('a'+i/26))
	}
	names[0], names[1], names[33] = "rx-gro", "", "rx-lro"
	g := []uint32{
		unix.ETHTOOL_GFEATURES, 2, // cmd, size: 2 blocks
		0b01, 0b01, 0b01, 0b00, // block 0: available, requested, active, never_changed (bit 0 = rx-gro)
		0b10, 0b00, 0b10, 0b10, // block 1: bit 33 (rx-lro) active, never changed
	}
	got := decodeFeatures(names, g)
	if want := (featureBits{Available: true, Requested: true, Active: true}); got["rx-gro"] != want {
		t.Errorf("rx-gro = %+v, want %+v", got["rx-gro"], want)
	}
	if want := (featureBits{Available: true, Active: true, NeverChanged: true}); got["rx-lro"] != want || !got["rx-lro"].fixed() {
		t.Errorf("rx-lro = %+v, want %+v and fixed", got["rx-lro"], want)
	}
	if _, ok := got[""]; ok {
		t.Error("an empty name was decoded")
	}
	if len(got) != 33 {
		t.Errorf("%d features decoded, want 33", len(got))
	}

	s := encodeSetFeatures(names, 2, []string{"rx-lro", "rx-gro", "no-such"})
	want := []uint32{
		unix.ETHTOOL_SFEATURES, 2, // cmd, size
		0b01, 0, // block 0: valid rx-gro, requested off
		0b10, 0, // block 1: valid rx-lro, requested off
	}
	if !reflect.DeepEqual(s, want) {
		t.Errorf("encodeSetFeatures = %v, want %v", s, want)
	}
}
