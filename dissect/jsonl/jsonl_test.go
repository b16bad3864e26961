package jsonl

import (
	"encoding/json"
	"testing"
	"time"
)

func TestAppendTime(t *testing.T) {
	tests := []struct {
		name string
		t    time.Time
	}{
		{"epoch", time.Unix(0, 0)},
		{"brief example", time.Date(2026, 1, 2, 15, 4, 5, 0, time.UTC)},
		{"nanoseconds", time.Date(2026, 11, 27, 23, 59, 59, 123456789, time.UTC)},
		{"leap day", time.Date(2024, 2, 29, 12, 0, 0, 1, time.UTC)},
		{"before epoch", time.Date(1969, 12, 31, 23, 59, 59, 999999999, time.UTC)},
		{"year 2100", time.Date(2100, 3, 1, 0, 0, 0, 0, time.UTC)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := string(AppendTime(nil, tt.t.UnixNano()))
			want := tt.t.UTC().Format("2006-01-02T15:04:05.000000000Z")
			if got != want {
				t.Errorf("AppendTime = %s, want %s", got, want)
			}
		})
	}
}

func TestQuoteRoundTrip(t *testing.T) {
	for _, s := range []string{"", "plain", `q"uote\`, "tab\tnl\n\x00\x1f", "ünï", "bad\xffutf8"} {
		var got string
		if err := json.Unmarshal(Quote(nil, s), &got); err != nil {
			t.Fatalf("Quote(%q) is not JSON: %v", s, err)
		}
		var got2 string
		if err := json.Unmarshal(QuoteBytes(nil, []byte(s)), &got2); err != nil || got2 != got {
			t.Fatalf("QuoteBytes(%q) = %q, %v; want %q", s, got2, err, got)
		}
	}
}

func TestKeysOmitEmpty(t *testing.T) {
	b := []byte{'{'}
	b = String(b, "type", "event")
	b = String(b, "empty", "")
	b = Int(b, "n", 0)
	b = Time(b, "ts", 0)
	b = append(b, '}')
	if string(b) != `{"type":"event","n":0}` {
		t.Fatalf("got %s", b)
	}
}

func FuzzQuote(f *testing.F) {
	f.Add("x\"\\\x00\xff")
	f.Fuzz(func(t *testing.T, s string) {
		var got string
		if err := json.Unmarshal(Quote(nil, s), &got); err != nil {
			t.Fatalf("Quote(%q) is not JSON: %v", s, err)
		}
	})
}

func BenchmarkAppendTime(b *testing.B) {
	buf := make([]byte, 0, 64)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		buf = AppendTime(buf[:0], int64(i)*1e6+1767225600e9)
	}
}
