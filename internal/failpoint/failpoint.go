// Package failpoint lets fault tests kill the process with SIGKILL at a
// named point of a critical path (a sync chunk commit, a completion step),
// so "kill -9 at this step" is reproducible instead of a race against a
// timer.
//
// Failpoints are armed only by the TENANTFERRY_FAILPOINTS environment
// variable, read once at start: "name" kills at the first hit, "name=N" at
// the N-th; several are separated by commas. Without the variable Hit is a
// map lookup on an empty map.
//
// Invariant: a failpoint never changes behaviour except by killing the
// process outright — exactly what a crash or kill -9 does.
package failpoint

import (
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
)

// Env is the environment variable that arms failpoints.
const Env = "TENANTFERRY_FAILPOINTS"

var (
	once  sync.Once
	mu    sync.Mutex
	armed map[string]int // name → remaining hits before the kill
)

func load() {
	armed = map[string]int{}
	for _, p := range strings.Split(os.Getenv(Env), ",") {
		p = strings.TrimSpace(p)
		if p == "" {
			continue
		}
		name, n := p, 1
		if i := strings.IndexByte(p, '='); i > 0 {
			name = p[:i]
			if v, err := strconv.Atoi(p[i+1:]); err == nil && v > 0 {
				n = v
			}
		}
		armed[name] = n
	}
}

// Hit marks that the process reached the named point; when the point is
// armed for this hit, the process kills itself with SIGKILL.
func Hit(name string) {
	once.Do(load)
	if len(armed) == 0 {
		return
	}
	mu.Lock()
	n, ok := armed[name]
	if ok {
		n--
		armed[name] = n
	}
	mu.Unlock()
	if ok && n == 0 {
		os.Stderr.WriteString("failpoint " + name + ": killing the process\n")
		syscall.Kill(os.Getpid(), syscall.SIGKILL)
		select {} // never returns
	}
}
