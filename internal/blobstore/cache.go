package blobstore

import (
	"container/list"
	"io"
	"os"
	"path/filepath"
	"sync"

	"github.com/tenantferry/tenantferry/internal/errs"
)

// readCache is the local read cache of the S3 backend: chunks of blob bytes
// in files under dir, keyed by the blob's SHA-256 and the chunk index. The
// key is the content's address, so an entry never goes stale, whichever
// object holds the blob (compaction moves blobs between objects).
//
// The total size of the cached files is bounded by limit, least recently
// used first out. An evicted file that a reader still has open stays
// readable through that handle (the name is unlinked, the inode lives
// until the last handle closes), so eviction never breaks a read in
// progress. Concurrent misses of one chunk share one fetch.
type readCache struct {
	dir   string
	limit int64

	mu       sync.Mutex
	size     int64
	lru      *list.List               // *cacheEntry, front = most recent
	entries  map[string]*list.Element // key → element
	inflight map[string]*cacheFetch
	tmpSeq   int64
}

type cacheEntry struct {
	key  string
	size int64
}

type cacheFetch struct {
	done chan struct{}
	err  error
}

// newReadCache empties dir (a cache does not survive a restart: its index
// lives in memory) and returns the cache over it.
func newReadCache(dir string, limit int64) (*readCache, error) {
	if dir == "" {
		return nil, ErrInvalidBlobStore.Newf("the s3 blob backend needs a read cache directory").
			WithHint("set the data directory")
	}
	if err := os.RemoveAll(dir); err != nil {
		return nil, errs.Internalf(err, "empty read cache %s", dir)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, errs.Internalf(err, "create read cache %s", dir)
	}
	if limit <= 0 {
		limit = DefaultS3CacheSize
	}
	return &readCache{dir: dir, limit: limit, lru: list.New(), entries: map[string]*list.Element{}, inflight: map[string]*cacheFetch{}}, nil
}

func (c *readCache) path(key string) string { return filepath.Join(c.dir, key[:2], key) }

// get returns an open handle on the cached chunk named key, calling fill
// to fetch it on a miss. The caller closes the handle.
func (c *readCache) get(key string, fill func(w io.Writer) error) (*os.File, error) {
	for {
		c.mu.Lock()
		if e, ok := c.entries[key]; ok {
			c.lru.MoveToFront(e)
			f, err := os.Open(c.path(key))
			c.mu.Unlock()
			if err == nil {
				return f, nil
			}
			return nil, errs.Internalf(err, "open read cache entry %s", key)
		}
		if fe, ok := c.inflight[key]; ok {
			c.mu.Unlock()
			<-fe.done
			if fe.err != nil {
				return nil, fe.err
			}
			continue
		}
		fe := &cacheFetch{done: make(chan struct{})}
		c.inflight[key] = fe
		c.tmpSeq++
		tmp := filepath.Join(c.dir, "tmp-"+key+"-"+itoa(c.tmpSeq))
		c.mu.Unlock()

		f, n, err := c.fetch(key, tmp, fill)
		c.mu.Lock()
		delete(c.inflight, key)
		if err == nil {
			c.entries[key] = c.lru.PushFront(&cacheEntry{key: key, size: n})
			c.size += n
			c.evictLocked()
		}
		fe.err = err
		close(fe.done)
		c.mu.Unlock()
		return f, err
	}
}

// fetch fills a temp file and renames it into place; the returned handle
// is that file's.
func (c *readCache) fetch(key, tmp string, fill func(w io.Writer) error) (*os.File, int64, error) {
	if err := os.MkdirAll(filepath.Dir(c.path(key)), 0o700); err != nil {
		return nil, 0, errs.Internalf(err, "create read cache directory")
	}
	f, err := os.OpenFile(tmp, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, 0, errs.Internalf(err, "create read cache entry")
	}
	cw := &countWriter{w: f}
	if err := fill(cw); err != nil {
		f.Close()
		os.Remove(tmp)
		return nil, 0, err
	}
	if err := os.Rename(tmp, c.path(key)); err != nil {
		f.Close()
		os.Remove(tmp)
		return nil, 0, errs.Internalf(err, "store read cache entry")
	}
	return f, cw.n, nil
}

// evictLocked removes least recently used entries until the cache fits.
func (c *readCache) evictLocked() {
	for c.size > c.limit {
		back := c.lru.Back()
		if back == nil {
			return
		}
		e := back.Value.(*cacheEntry)
		c.lru.Remove(back)
		delete(c.entries, e.key)
		c.size -= e.size
		os.Remove(c.path(e.key))
	}
}

// bytes returns the cached bytes and entries.
func (c *readCache) stats() (size int64, entries int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.size, len(c.entries)
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

func itoa(n int64) string {
	var b [20]byte
	i := len(b)
	for {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
		if n == 0 {
			return string(b[i:])
		}
	}
}
