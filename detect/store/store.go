// Package store keeps the sensor's state (inventory, what the rules learned,
// metadata) in badger. Keys are strings with a slash-separated prefix per
// owner ("asset/", "learn/modbus/writer/", "meta/"); values are JSON, so a
// state directory can be inspected and migrated.
//
// Open with an empty directory gives an in-memory store (the temporary state
// of `sensor read` without --state). On 32-bit platforms an on-disk store is
// refused: badger is known to lose data there once its tables reach disk.
package store

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strconv"

	badger "github.com/dgraph-io/badger/v4"
)

// ErrNotFound is returned by Get for a missing key.
var ErrNotFound = errors.New("store: key not found")

// Err32Bit is returned by Open for an on-disk store on a 32-bit platform.
var Err32Bit = errors.New("store: an on-disk state store is not supported on 32-bit platforms " +
	"(badger is known to lose data there once its tables reach disk); " +
	"run without a state directory (state is then kept in memory for the run) or use the 64-bit (arm64) build")

// Store is a key-value state store.
type Store struct {
	db  *badger.DB
	dir string
}

// Open opens (creating if needed) the store in dir, or an in-memory store
// when dir is "".
func Open(dir string, log *slog.Logger) (*Store, error) {
	var opts badger.Options
	if dir == "" {
		opts = badger.DefaultOptions("").WithInMemory(true)
	} else {
		if strconv.IntSize == 32 {
			return nil, Err32Bit
		}
		if err := os.MkdirAll(dir, 0o750); err != nil {
			return nil, fmt.Errorf("store: %w", err)
		}
		opts = badger.DefaultOptions(dir)
	}
	// Sized for a sensor with 512 MB–1 GB of RAM: small memtables and
	// caches; the state is small (inventory and baselines).
	opts = opts.
		WithLogger(badgerLogger{log}).
		WithNumVersionsToKeep(1).
		WithMemTableSize(8 << 20).
		WithValueLogFileSize(64 << 20).
		WithBlockCacheSize(8 << 20).
		WithIndexCacheSize(4 << 20).
		WithNumMemtables(2).
		WithNumLevelZeroTables(2).
		WithNumLevelZeroTablesStall(4).
		WithNumCompactors(2).
		WithCompactL0OnClose(true)
	db, err := badger.Open(opts)
	if err != nil {
		return nil, fmt.Errorf("store: open %s: %w", dir, err)
	}
	return &Store{db: db, dir: dir}, nil
}

// Dir is the store's directory ("" for in memory).
func (s *Store) Dir() string { return s.dir }

// Get returns the value of key, or ErrNotFound.
func (s *Store) Get(key string) ([]byte, error) {
	var v []byte
	err := s.db.View(func(txn *badger.Txn) error {
		it, err := txn.Get([]byte(key))
		if err != nil {
			return err
		}
		v, err = it.ValueCopy(nil)
		return err
	})
	if errors.Is(err, badger.ErrKeyNotFound) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("store: get %s: %w", key, err)
	}
	return v, nil
}

// Put sets key to val, durably.
func (s *Store) Put(key string, val []byte) error {
	if err := s.db.Update(func(txn *badger.Txn) error { return txn.Set([]byte(key), val) }); err != nil {
		return fmt.Errorf("store: put %s: %w", key, err)
	}
	return nil
}

// Writer collects writes that Write commits together.
type Writer struct {
	keys, vals [][]byte
	dels       [][]byte
}

// Put adds key=val to the batch.
func (w *Writer) Put(key string, val []byte) {
	w.keys = append(w.keys, []byte(key))
	w.vals = append(w.vals, val)
}

// Delete adds the removal of key to the batch.
func (w *Writer) Delete(key string) { w.dels = append(w.dels, []byte(key)) }

// Len is the number of writes in the batch.
func (w *Writer) Len() int { return len(w.keys) + len(w.dels) }

// Write commits w's writes (in as many transactions as badger needs) and
// syncs them to disk.
func (s *Store) Write(w *Writer) error {
	wb := s.db.NewWriteBatch()
	defer wb.Cancel()
	for i, k := range w.keys {
		if err := wb.Set(k, w.vals[i]); err != nil {
			return fmt.Errorf("store: write: %w", err)
		}
	}
	for _, k := range w.dels {
		if err := wb.Delete(k); err != nil {
			return fmt.Errorf("store: write: %w", err)
		}
	}
	if err := wb.Flush(); err != nil {
		return fmt.Errorf("store: write: %w", err)
	}
	if s.dir != "" {
		if err := s.db.Sync(); err != nil {
			return fmt.Errorf("store: sync: %w", err)
		}
	}
	return nil
}

// Scan calls fn for every key with the given prefix, in key order. The
// value is only valid during the call.
func (s *Store) Scan(prefix string, fn func(key string, val []byte) error) error {
	err := s.db.View(func(txn *badger.Txn) error {
		opts := badger.DefaultIteratorOptions
		opts.Prefix = []byte(prefix)
		it := txn.NewIterator(opts)
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			item := it.Item()
			if err := item.Value(func(v []byte) error { return fn(string(item.Key()), v) }); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("store: scan %s: %w", prefix, err)
	}
	return nil
}

// Close flushes and closes the store.
func (s *Store) Close() error {
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("store: close: %w", err)
	}
	return nil
}

// badgerLogger routes badger's log to slog: its info chatter at debug level.
type badgerLogger struct{ l *slog.Logger }

func (b badgerLogger) log() *slog.Logger {
	if b.l == nil {
		return slog.Default()
	}
	return b.l
}

func (b badgerLogger) Errorf(f string, a ...any) { b.log().Error("badger: " + fmt.Sprintf(f, a...)) }
func (b badgerLogger) Warningf(f string, a ...any) {
	b.log().Warn("badger: " + fmt.Sprintf(f, a...))
}
func (b badgerLogger) Infof(f string, a ...any)  { b.log().Debug("badger: " + fmt.Sprintf(f, a...)) }
func (b badgerLogger) Debugf(f string, a ...any) { b.log().Debug("badger: " + fmt.Sprintf(f, a...)) }
