package pcapfile

import (
	"bufio"
	"io"

	"github.com/tapwire/tapwire/drivers"
)

// FileResult is what became of one file of a Multi.
type FileResult struct {
	Path    string
	Packets uint64 // frames delivered
	Bytes   uint64 // captured bytes delivered
	Skipped uint64 // packets skipped for their link type
	// Err is nil when the file was read to its end, and otherwise why it
	// was not: it wraps drivers.ErrDamaged (frames before the damage were
	// delivered), drivers.ErrUnsupportedLink, drivers.ErrFormat or the os
	// error (a file missing or unreadable).
	Err error
}

// Multi reads several capture files in order as one drivers.Source, as
// `sensor read FILE...` does. A file that cannot be opened, or that turns
// out damaged, is passed to report and skipped (what it delivered before
// the damage stays delivered); reading goes on with the next file. It
// opens each file when it gets there and holds one open at a time, and
// reuses one read buffer for all. Frame.Input is the index of the frame's
// file in paths. It is not safe for concurrent use.
type Multi struct {
	paths   []string
	report  func(path string, err error)
	next    int     // index of the next file to open
	cur     *Reader // the open file, or nil
	results []FileResult
	br      *bufio.Reader
	closed  bool
}

// NewMulti returns a Multi over paths. report, when not nil, is called
// with the path and the error for every file that fails to open or read
// to its end.
func NewMulti(paths []string, report func(path string, err error)) *Multi {
	return &Multi{paths: paths, report: report}
}

// Next fills f with the next frame of the current file, moving on to the
// next file at the end of one. It returns io.EOF after the last file.
func (m *Multi) Next(f *drivers.Frame) error {
	for {
		if m.cur == nil {
			if m.closed || m.next >= len(m.paths) {
				return io.EOF
			}
			path := m.paths[m.next]
			m.next++
			m.results = append(m.results, FileResult{Path: path})
			if m.br == nil {
				m.br = bufio.NewReaderSize(nil, bufSize)
			}
			r, err := open(path, m.br)
			if err != nil {
				m.done(err)
				continue
			}
			m.cur = r
		}
		err := m.cur.Next(f)
		if err == nil {
			f.Input = m.next - 1
			return nil
		}
		m.done(err)
	}
}

// done ends the current file (or the failed attempt to open it) with err.
func (m *Multi) done(err error) {
	if err == io.EOF {
		err = nil
	}
	res := &m.results[len(m.results)-1]
	if m.cur != nil {
		m.count(res)
		m.cur.Close()
		m.cur = nil
	}
	res.Err = err
	if err != nil && m.report != nil {
		m.report(res.Path, err)
	}
}

func (m *Multi) count(res *FileResult) {
	res.Packets, res.Bytes, res.Skipped = m.cur.Packets(), m.cur.Bytes(), m.cur.Skipped()
}

// Results lists, in order, the files reached so far and what became of
// them; the file being read counts as having no error yet.
func (m *Multi) Results() []FileResult {
	if m.cur != nil {
		m.count(&m.results[len(m.results)-1])
	}
	return append([]FileResult(nil), m.results...)
}

// Close closes the current file; Next returns io.EOF afterwards.
func (m *Multi) Close() error {
	m.closed = true
	if m.cur == nil {
		return nil
	}
	m.count(&m.results[len(m.results)-1])
	err := m.cur.Close()
	m.cur = nil
	return err
}

var _ drivers.Source = (*Multi)(nil)
