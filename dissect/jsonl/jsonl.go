// Package jsonl appends JSON Lines records without allocating: keys are
// written in the caller's order (BRIEF 3.1: `type` first), and the Key
// helpers put the comma themselves, so a writer simply skips keys that have
// no value. Strings are escaped per RFC 8259; invalid UTF-8 becomes U+FFFD.
package jsonl

import (
	"strconv"
	"unicode/utf8"
	"unsafe"
)

// Key appends "k": preceded by a comma unless it opens an object.
func Key(b []byte, k string) []byte {
	if n := len(b); n > 0 && b[n-1] != '{' && b[n-1] != '[' {
		b = append(b, ',')
	}
	b = append(b, '"')
	b = append(b, k...)
	return append(b, '"', ':')
}

// Sep appends a comma unless b ends an opening bracket (for array items).
func Sep(b []byte) []byte {
	if n := len(b); n > 0 && b[n-1] != '{' && b[n-1] != '[' {
		b = append(b, ',')
	}
	return b
}

// Int appends "k":v.
func Int(b []byte, k string, v int64) []byte { return strconv.AppendInt(Key(b, k), v, 10) }

// Uint appends "k":v.
func Uint(b []byte, k string, v uint64) []byte { return strconv.AppendUint(Key(b, k), v, 10) }

// Bool appends "k":v.
func Bool(b []byte, k string, v bool) []byte { return strconv.AppendBool(Key(b, k), v) }

// Float appends "k":v with the shortest representation.
func Float(b []byte, k string, v float64) []byte {
	return strconv.AppendFloat(Key(b, k), v, 'g', -1, 64)
}

// String appends "k":"v", or nothing when v is empty (keys without a value
// are omitted).
func String(b []byte, k, v string) []byte {
	if v == "" {
		return b
	}
	return Quote(Key(b, k), v)
}

// Bytes appends "k":"v" for text held in a byte slice, or nothing when empty.
func Bytes(b []byte, k string, v []byte) []byte {
	if len(v) == 0 {
		return b
	}
	return QuoteBytes(Key(b, k), v)
}

// Time appends "k":"RFC 3339 time" (see AppendTime), or nothing for ns == 0.
func Time(b []byte, k string, ns int64) []byte {
	if ns == 0 {
		return b
	}
	b = append(Key(b, k), '"')
	return append(AppendTime(b, ns), '"')
}

const hexdigits = "0123456789abcdef"

// Quote appends s as a JSON string.
func Quote(b []byte, s string) []byte {
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' && c < utf8.RuneSelf {
			b = append(b, c)
			i++
			continue
		}
		if c < utf8.RuneSelf {
			b = escapeASCII(b, c)
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, `\ufffd`...)
		} else {
			b = append(b, s[i:i+size]...)
		}
		i += size
	}
	return append(b, '"')
}

// QuoteBytes appends p as a JSON string.
func QuoteBytes(b []byte, p []byte) []byte {
	// A view of p as a string, without a copy: Quote only reads it.
	return Quote(b, unsafe.String(unsafe.SliceData(p), len(p)))
}

func escapeASCII(b []byte, c byte) []byte {
	switch c {
	case '"', '\\':
		return append(b, '\\', c)
	case '\n':
		return append(b, '\\', 'n')
	case '\r':
		return append(b, '\\', 'r')
	case '\t':
		return append(b, '\\', 't')
	}
	return append(b, '\\', 'u', '0', '0', hexdigits[c>>4], hexdigits[c&0xf])
}

// AppendTime appends ns (nanoseconds since the Unix epoch) as RFC 3339 in
// UTC with exactly nine fraction digits: 2026-01-02T15:04:05.000000000Z.
func AppendTime(b []byte, ns int64) []byte {
	sec := ns / 1e9
	frac := ns % 1e9
	if frac < 0 {
		frac += 1e9
		sec--
	}
	days := sec / 86400
	rem := sec % 86400
	if rem < 0 {
		rem += 86400
		days--
	}
	y, m, d := civil(days)
	b = pad(b, int64(y), 4)
	b = append(b, '-')
	b = pad(b, int64(m), 2)
	b = append(b, '-')
	b = pad(b, int64(d), 2)
	b = append(b, 'T')
	b = pad(b, rem/3600, 2)
	b = append(b, ':')
	b = pad(b, rem/60%60, 2)
	b = append(b, ':')
	b = pad(b, rem%60, 2)
	b = append(b, '.')
	b = pad(b, frac, 9)
	return append(b, 'Z')
}

// civil converts days since 1970-01-01 to a proleptic Gregorian date
// (Howard Hinnant's days_from_civil inverse).
func civil(z int64) (y int64, m, d int) {
	z += 719468
	era := z / 146097
	if z < 0 && z%146097 != 0 {
		era--
	}
	doe := z - era*146097
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365
	y = yoe + era*400
	doy := doe - (365*yoe + yoe/4 - yoe/100)
	mp := (5*doy + 2) / 153
	d = int(doy - (153*mp+2)/5 + 1)
	if mp < 10 {
		m = int(mp + 3)
	} else {
		m = int(mp - 9)
	}
	if m <= 2 {
		y++
	}
	return y, m, d
}

func pad(b []byte, v int64, width int) []byte {
	var tmp [20]byte
	i := len(tmp)
	for v >= 10 {
		i--
		tmp[i] = byte('0' + v%10)
		v /= 10
	}
	i--
	tmp[i] = byte('0' + v)
	for n := len(tmp) - i; n < width; n++ {
		b = append(b, '0')
	}
	return append(b, tmp[i:]...)
}
