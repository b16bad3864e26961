package store

import (
	"errors"
	"fmt"
	"strconv"
	"testing"
)

func TestRoundTripAcrossReopen(t *testing.T) {
	if strconv.IntSize == 32 {
		t.Skip("on-disk store refused on 32-bit platforms (TestRefuse32Bit)")
	}
	dir := t.TempDir()
	s, err := Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	var w Writer
	for i := 0; i < 100; i++ {
		w.Put(fmt.Sprintf("asset/ip:10.0.0.%d", i), []byte(strconv.Itoa(i)))
	}
	w.Put("meta/x", []byte("y"))
	if err := s.Write(&w); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	n := 0
	if err := s.Scan("asset/", func(k string, v []byte) error { n++; return nil }); err != nil {
		t.Fatal(err)
	}
	if n != 100 {
		t.Fatalf("scan asset/: %d keys, want 100", n)
	}
	v, err := s.Get("meta/x")
	if err != nil || string(v) != "y" {
		t.Fatalf("Get(meta/x) = %q, %v", v, err)
	}
	if _, err := s.Get("meta/none"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Get(missing) error = %v, want ErrNotFound", err)
	}
}

func TestInMemory(t *testing.T) {
	s, err := Open("", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Put("k", []byte("v")); err != nil {
		t.Fatal(err)
	}
	if v, err := s.Get("k"); err != nil || string(v) != "v" {
		t.Fatalf("Get = %q, %v", v, err)
	}
}

func TestSecondOpenFailsClearly(t *testing.T) {
	if strconv.IntSize == 32 {
		t.Skip("on-disk store refused on 32-bit platforms")
	}
	dir := t.TempDir()
	s, err := Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := Open(dir, nil); err == nil {
		t.Fatal("second Open of a locked state directory succeeded")
	}
}

func TestRefuse32Bit(t *testing.T) {
	if strconv.IntSize != 32 {
		t.Skip("64-bit platform")
	}
	if _, err := Open(t.TempDir(), nil); !errors.Is(err, Err32Bit) {
		t.Fatalf("Open on 32-bit = %v, want Err32Bit", err)
	}
}
