package migration

import (
	"fmt"
	"sync"
	"time"

	"github.com/tenantferry/tenantferry/internal/directory"
	"github.com/tenantferry/tenantferry/internal/replication"
)

// checkTTL is how long a passed source check serves the passes of an
// endpoint's batches before the source is asked again.
const checkTTL = 30 * time.Second

// checkCache holds the source checks that passed, per endpoint version:
// one check serves every pass of a batch started together, instead of
// one round trip (token, consent, relationship) per move.
type checkCache struct {
	mu sync.Mutex
	m  map[string]checkEntry
}

type checkEntry struct {
	reply *replication.CheckReply
	at    time.Time
}

// checkKey names an endpoint as configured: any change to it (secret,
// server, tenant, app) gives a new key.
func checkKey(ep *directory.Endpoint) string {
	return fmt.Sprintf("%s|%d|%s|%s|%s", ep.ID, ep.UpdatedAt.UnixNano(), ep.RemoteServer, ep.RemoteTenant, ep.ApplicationId)
}

// get returns the reply cached under key if it is younger than checkTTL.
func (c *checkCache) get(key string) *replication.CheckReply {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[key]
	if !ok || time.Since(e.at) > checkTTL {
		return nil
	}
	return e.reply
}

// put caches a passed check, dropping expired entries so the cache stays
// bounded by the endpoints in use.
func (c *checkCache) put(key string, r *replication.CheckReply) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[string]checkEntry{}
	}
	for k, e := range c.m {
		if time.Since(e.at) > checkTTL {
			delete(c.m, k)
		}
	}
	c.m[key] = checkEntry{reply: r, at: time.Now()}
}
