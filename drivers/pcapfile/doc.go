// Package pcapfile reads capture files for `sensor read`: pcap (micro- and
// nanosecond timestamps, either byte order) and pcapng, in pure Go with
// gopacket's pcapgo (no cgo, no libpcap). Reader reads one file, Multi
// several in order; both implement drivers.Source, hand out frames that
// alias a reused buffer, and allocate nothing per packet in steady state.
//
// # What is read, and what is damage
//
// The reader accepts what tshark accepts and rejects only real damage, so
// that `sensor read` and tshark agree on the packet count and on the exit
// code (2 for a damaged file):
//
//   - A record longer than the file header's snap length (common: writers
//     that do not enforce their own snap length) and files with snap length
//     0 are read. So are records whose original length is below the
//     capture length (Frame.OrigLen is then raised to the capture length),
//     pcap versions 2.x other than 2.4 and pcapng sections 1.x.
//   - A record or packet block whose capture length exceeds 262144 bytes
//     (tshark's limit for these link types), exceeds its pcapng block, a
//     pcapng block whose length is impossible or whose trailing length
//     differs, an option that overruns its block, a packet of an interface
//     the section never described, and a file cut short anywhere but
//     between two records: all damage, reported as an error wrapping
//     drivers.ErrDamaged that names the file, the record (1-based, as
//     tshark numbers frames) and what is wrong, e.g.
//     "capture.pcap: record 1234: cut short in packet data (got 20 of 60 bytes)".
//     The frames before the damage are delivered first.
//   - A file of another format (including a gzip-compressed capture) is an
//     error wrapping drivers.ErrFormat; a file whose link type the sensor
//     cannot decode, drivers.ErrUnsupportedLink; a missing or unreadable
//     file, the os error. An empty file is a capture without packets.
//   - In a pcapng file whose interfaces have different link types, each
//     frame carries its interface's link type; packets of interfaces whose
//     link type the sensor cannot decode are skipped and counted.
//
// # Why there is a guard in front of pcapgo
//
// pcapgo's readers, used directly, reject the snap-length cases above,
// return io.EOF for a pcapng file cut short and for a pcap file that ends
// right after a record header (so damage would pass for a clean end),
// panic (integer division by zero) on some if_tsresol values, size their
// packet buffer from the file's snap length (up to 4 GiB), read pcapng
// options beyond their block, compute binary-fraction (2^-n) timestamps
// inexactly, and keep link types in 8 bits (LINUX_SLL2, 276, reads as 20).
// So pcapgo reads through a guard
// that hands it only whole records and blocks it has checked (normalising
// the few fields above), ends the stream with io.EOF only at a record
// boundary, and keeps for every record handed on its timestamp, link type
// and record number, which Reader pairs with what pcapgo returns.
package pcapfile
