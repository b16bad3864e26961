package modbus

// CRC-16/MODBUS (Modbus over Serial Line V1.02, 6.2.2): polynomial 0x8005
// reflected (0xA001), initial value 0xFFFF, no final XOR; the CRC goes on
// the wire low byte first. The check value of "123456789" is 0x4B37.

const crcPoly = 0xA001

// crcTable holds the CRC of every byte value, for byte-at-a-time updates.
var crcTable = func() (t [256]uint16) {
	for i := range t {
		c := uint16(i)
		for range 8 {
			if c&1 != 0 {
				c = c>>1 ^ crcPoly
			} else {
				c >>= 1
			}
		}
		t[i] = c
	}
	return t
}()

// crcInit is the CRC register before the first byte.
const crcInit = 0xFFFF

// crcUpdate feeds one byte into the CRC register c.
func crcUpdate(c uint16, b byte) uint16 {
	return c>>8 ^ crcTable[byte(c)^b]
}

// CRC16 returns the CRC-16/MODBUS of b.
func CRC16(b []byte) uint16 {
	c := uint16(crcInit)
	for _, x := range b {
		c = crcUpdate(c, x)
	}
	return c
}

// AppendCRC16 appends the CRC-16/MODBUS of b to b, low byte first, making
// an RTU ADU of an address and a PDU.
func AppendCRC16(b []byte) []byte {
	c := CRC16(b)
	return append(b, byte(c), byte(c>>8))
}

// crcOK reports whether adu (at least 3 bytes) ends with the CRC of what
// comes before.
func crcOK(adu []byte) bool {
	n := len(adu) - 2
	return CRC16(adu[:n]) == uint16(adu[n])|uint16(adu[n+1])<<8
}
