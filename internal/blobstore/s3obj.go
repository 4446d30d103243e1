package blobstore

import (
	"encoding/binary"
	"encoding/hex"
	"io"
	"os"
	"sync"

	"context"
)

// Pack object layout. An S3 pack object is the records of one batch's
// small items, each a 44-byte header (as in pack files) and the bytes,
// followed by an index so the object can be read without the database:
//
//	records | index entries | trailer
//	entry   = 32-byte SHA-256, big-endian uint64 offset of the bytes, uint64 size
//	trailer = "TFX1", big-endian uint64 entry count, uint64 offset of the first entry
//
// The blobs table is the index the store reads by; the object's own index
// makes a bucket self-describing (disaster recovery, audits).
const (
	indexMagic     = "TFX1"
	indexEntrySize = 48
	trailerSize    = 20
)

// appendPackIndex returns the body of a pack object: the records in buf
// (whose headers start at pos) followed by their index and the trailer,
// appended in place when buf has the capacity.
func appendPackIndex(buf []byte, pos []int) []byte {
	records := len(buf)
	for _, p := range pos {
		h := buf[p : p+headerSize]
		var e [indexEntrySize]byte
		copy(e[:32], h[12:44])
		binary.BigEndian.PutUint64(e[32:40], uint64(p+headerSize))
		copy(e[40:48], h[4:12])
		buf = append(buf, e[:]...)
	}
	var t [trailerSize]byte
	copy(t[:4], indexMagic)
	binary.BigEndian.PutUint64(t[4:12], uint64(len(pos)))
	binary.BigEndian.PutUint64(t[12:20], uint64(records))
	return append(buf, t[:]...)
}

// IndexEntry is one record listed in an S3 pack object's index.
type IndexEntry struct {
	SHA256 string // hex SHA-256 of the bytes
	Offset int64  // offset of the bytes in the object
	Size   int64
}

// ParsePackIndex reads the index at the end of an S3 pack object's body.
func ParsePackIndex(body []byte) ([]IndexEntry, bool) {
	if len(body) < trailerSize || string(body[len(body)-trailerSize:len(body)-16]) != indexMagic {
		return nil, false
	}
	t := body[len(body)-trailerSize:]
	n := int64(binary.BigEndian.Uint64(t[4:12]))
	at := int64(binary.BigEndian.Uint64(t[12:20]))
	if at < 0 || n < 0 || at+n*indexEntrySize != int64(len(body)-trailerSize) {
		return nil, false
	}
	out := make([]IndexEntry, n)
	for i := range out {
		e := body[at+int64(i)*indexEntrySize:]
		out[i] = IndexEntry{SHA256: hex.EncodeToString(e[:32]), Offset: int64(binary.BigEndian.Uint64(e[32:40])),
			Size: int64(binary.BigEndian.Uint64(e[40:48]))}
	}
	return out, true
}

// s3Reader reads a blob stored in an S3 object at [base, base+size), one
// chunk of PartSize at a time. A large item's object starts at 0 and was
// uploaded in parts of PartSize, so each chunk is exactly one part: one
// ranged GET. Chunks go through the read cache; the reader holds at most
// one chunk's file handle, never a chunk in memory.
type s3Reader struct {
	s    *Store
	ctx  context.Context
	sha  string
	size int64
	key  string
	base int64

	mu  sync.Mutex
	cur int64 // index of the chunk in f, -1 for none
	f   *os.File
}

func (r *s3Reader) ReadAt(p []byte, off int64) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	cs := r.s.s3.partSize
	n := 0
	for n < len(p) {
		pos := off + int64(n)
		if pos >= r.size {
			return n, io.EOF
		}
		idx := pos / cs
		if idx != r.cur {
			if err := r.load(idx, cs); err != nil {
				return n, err
			}
		}
		end := min(int64(len(p)), int64(n)+(idx+1)*cs-pos)
		k, err := r.f.ReadAt(p[n:end], pos-idx*cs)
		n += k
		if err != nil && err != io.EOF {
			return n, err
		}
		if k == 0 {
			return n, io.ErrUnexpectedEOF
		}
	}
	return n, nil
}

func (r *s3Reader) load(idx, cs int64) error {
	if r.f != nil {
		r.f.Close()
		r.f, r.cur = nil, -1
	}
	start := idx * cs
	n := min(cs, r.size-start)
	f, err := r.s.cache.get(r.sha+"-"+itoa(idx), func(w io.Writer) error {
		return r.s.s3.getRange(r.ctx, r.key, r.base+start, n, w)
	})
	if err != nil {
		return err
	}
	r.f, r.cur = f, idx
	return nil
}

func (r *s3Reader) close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.f != nil {
		r.f.Close()
		r.f, r.cur = nil, -1
	}
	return nil
}
