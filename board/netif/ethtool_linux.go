package netif

import (
	"errors"
	"runtime"
	"unsafe"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// Offload features through the SIOCETHTOOL ioctl (ETHTOOL_GFEATURES and
// ETHTOOL_SFEATURES, feature names from the ETH_SS_FEATURES string set).
// github.com/mdlayher/ethtool speaks the generic-netlink ethtool family but
// (v0.7.0) has no feature requests, and the ioctl works on every kernel the
// sensor runs on. The sockets and ioctls are in the calling thread's network
// namespace.

// ethGStringLen is ETH_GSTRING_LEN (linux/ethtool.h): each name of a string
// set takes that many bytes, NUL-padded. x/sys/unix does not define it.
const ethGStringLen = 32

// ifreqData is struct ifreq with the union used as ifr_data, the pointer to
// the ethtool command. It is as large as struct ifreq (unix.Ifreq).
type ifreqData struct {
	name [unix.IFNAMSIZ]byte
	data unsafe.Pointer
	_    [unsafe.Sizeof(unix.Ifreq{}) - unix.IFNAMSIZ - unsafe.Sizeof(unsafe.Pointer(nil))]byte
}

// ethtoolSsetInfo is struct ethtool_sset_info with room for one answer in
// its data[] (one string set asked for at a time).
type ethtoolSsetInfo struct {
	cmd      uint32
	reserved uint32
	ssetMask uint64
	data     [1]uint32
}

// ethtoolGstrings is the header of struct ethtool_gstrings; len strings of
// ethGStringLen bytes follow it.
type ethtoolGstrings struct {
	cmd       uint32
	stringSet uint32
	len       uint32
}

// Struct ethtool_gfeatures is {u32 cmd; u32 size;} followed by size blocks
// of {u32 available, requested, active, never_changed}; struct
// ethtool_sfeatures is {u32 cmd; u32 size;} followed by size blocks of {u32
// valid, requested}. All their fields are u32, so a []uint32 holds them
// exactly; these are the word counts.
const (
	featuresHdrWords   = 2
	getBlockWords      = 4
	setBlockWords      = 2
	bitsPerFeatureWord = 32
)

// ethtoolDev runs ethtool ioctls for one interface.
type ethtoolDev struct {
	fd   int
	name string
}

func openEthtool(name string) (*ethtoolDev, error) {
	if len(name) >= unix.IFNAMSIZ {
		return nil, unix.EINVAL
	}
	// Any socket reaches dev_ioctl; AF_INET is what ethtool(8) uses, with
	// generic netlink for kernels built without IPv4.
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		fd, err = unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_GENERIC)
		if err != nil {
			return nil, err
		}
	}
	return &ethtoolDev{fd: fd, name: name}, nil
}

func (e *ethtoolDev) Close() error { return unix.Close(e.fd) }

// ioctl runs one SIOCETHTOOL command; cmd points at it (its first u32 is the
// command number) and the kernel writes its answer there.
func (e *ethtoolDev) ioctl(cmd unsafe.Pointer) (uintptr, error) {
	var ifr ifreqData
	copy(ifr.name[:], e.name)
	ifr.data = cmd
	r, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(e.fd), uintptr(unix.SIOCETHTOOL), uintptr(unsafe.Pointer(&ifr)))
	runtime.KeepAlive(&ifr)
	if errno != 0 {
		return 0, errno
	}
	return r, nil
}

// featureNames returns the names of the kernel's features; index i is bit i.
func (e *ethtoolDev) featureNames() ([]string, error) {
	info := ethtoolSsetInfo{cmd: unix.ETHTOOL_GSSET_INFO, ssetMask: 1 << netlink.ETH_SS_FEATURES}
	if _, err := e.ioctl(unsafe.Pointer(&info)); err != nil {
		return nil, err
	}
	runtime.KeepAlive(&info)
	if info.ssetMask&(1<<netlink.ETH_SS_FEATURES) == 0 {
		return nil, errors.New("kernel has no feature string set")
	}
	n := info.data[0]

	hdr := unsafe.Sizeof(ethtoolGstrings{})
	size := hdr + uintptr(n)*ethGStringLen
	// Backed by uint32s so that the header is aligned for the cast.
	words := make([]uint32, (size+3)/4)
	gs := (*ethtoolGstrings)(unsafe.Pointer(&words[0]))
	*gs = ethtoolGstrings{cmd: unix.ETHTOOL_GSTRINGS, stringSet: netlink.ETH_SS_FEATURES, len: n}
	if _, err := e.ioctl(unsafe.Pointer(&words[0])); err != nil {
		return nil, err
	}
	buf := unsafe.Slice((*byte)(unsafe.Pointer(&words[0])), size)
	got := min(gs.len, n)
	runtime.KeepAlive(words)
	return parseGstrings(buf[hdr:], int(got)), nil
}

// parseGstrings splits n NUL-padded names of ethGStringLen bytes.
func parseGstrings(b []byte, n int) []string {
	names := make([]string, 0, n)
	for i := 0; i < n && (i+1)*ethGStringLen <= len(b); i++ {
		names = append(names, unix.ByteSliceToString(b[i*ethGStringLen:(i+1)*ethGStringLen]))
	}
	return names
}

// featureWords asks the kernel how many 32-bit words its feature sets take
// (ETHTOOL_DEV_FEATURE_WORDS): ETHTOOL_GFEATURES with no room answers with
// the size alone.
func (e *ethtoolDev) featureWords() (int, error) {
	b := make([]uint32, featuresHdrWords)
	b[0] = unix.ETHTOOL_GFEATURES
	if _, err := e.ioctl(unsafe.Pointer(&b[0])); err != nil {
		return 0, err
	}
	runtime.KeepAlive(b)
	return int(b[1]), nil
}

// getFeatures returns the feature blocks as a []uint32 in the layout of
// struct ethtool_gfeatures.
func (e *ethtoolDev) getFeatures(words int) ([]uint32, error) {
	b := make([]uint32, featuresHdrWords+words*getBlockWords)
	b[0], b[1] = unix.ETHTOOL_GFEATURES, uint32(words)
	if _, err := e.ioctl(unsafe.Pointer(&b[0])); err != nil {
		return nil, err
	}
	runtime.KeepAlive(b)
	return b, nil
}

// decodeFeatures maps the feature names to their bits in a struct
// ethtool_gfeatures held as []uint32.
func decodeFeatures(names []string, g []uint32) map[string]featureBits {
	out := make(map[string]featureBits, len(names))
	for i, name := range names {
		if name == "" {
			continue
		}
		w := featuresHdrWords + (i/bitsPerFeatureWord)*getBlockWords
		if w+getBlockWords > len(g) {
			break
		}
		bit := uint32(1) << (i % bitsPerFeatureWord)
		out[name] = featureBits{
			Available:    g[w]&bit != 0,
			Requested:    g[w+1]&bit != 0,
			Active:       g[w+2]&bit != 0,
			NeverChanged: g[w+3]&bit != 0,
		}
	}
	return out
}

// encodeSetFeatures builds a struct ethtool_sfeatures that switches the
// named features off (valid bit set, requested bit clear) and leaves every
// other alone. Unknown names are ignored.
func encodeSetFeatures(names []string, words int, off []string) []uint32 {
	idx := make(map[string]int, len(names))
	for i, n := range names {
		idx[n] = i
	}
	b := make([]uint32, featuresHdrWords+words*setBlockWords)
	b[0], b[1] = unix.ETHTOOL_SFEATURES, uint32(words)
	for _, n := range off {
		i, ok := idx[n]
		if !ok || i/bitsPerFeatureWord >= words {
			continue
		}
		b[featuresHdrWords+(i/bitsPerFeatureWord)*setBlockWords] |= 1 << (i % bitsPerFeatureWord)
	}
	return b
}

// ethtoolFeatures reads the interface's features by name.
func ethtoolFeatures(name string) (map[string]featureBits, error) {
	e, err := openEthtool(name)
	if err != nil {
		return nil, err
	}
	defer e.Close()
	names, err := e.featureNames()
	if err != nil {
		return nil, err
	}
	words, err := e.featureWords()
	if err != nil {
		return nil, err
	}
	g, err := e.getFeatures(words)
	if err != nil {
		return nil, err
	}
	return decodeFeatures(names, g), nil
}

// ethtoolSetOff switches the named features off. The kernel's answer
// (ETHTOOL_F_WISH, ETHTOOL_F_UNSUPPORTED) is not needed: Prepare reads the
// features again and reports each.
func ethtoolSetOff(name string, off []string) error {
	e, err := openEthtool(name)
	if err != nil {
		return err
	}
	defer e.Close()
	names, err := e.featureNames()
	if err != nil {
		return err
	}
	words, err := e.featureWords()
	if err != nil {
		return err
	}
	b := encodeSetFeatures(names, words, off)
	_, err = e.ioctl(unsafe.Pointer(&b[0]))
	runtime.KeepAlive(b)
	return err
}
