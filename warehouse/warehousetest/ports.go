package warehousetest

import (
	"fmt"
	"math/rand/v2"
	"net"
	"sync"
	"testing"
)

var (
	portsMu sync.Mutex
	handed  = map[int]bool{} // bases this process gave out
)

// FreePorts returns a base port such that base … base+n-1 are free on
// loopback now, for a private server a test starts at once. The block lies
// below the ephemeral range (32768–), where the kernel picks the source
// ports of outgoing connections (a random port there once collided with
// one in CI), and away from the shared test servers (19000–19099 and the
// cluster's 29000–29099, as .ci/run starts them). Blocks handed out in this
// process never overlap. A server that still finds a port taken should ask
// again (StartWithRetry).
func FreePorts(tb testing.TB, n int) int {
	tb.Helper()
	portsMu.Lock()
	defer portsMu.Unlock()
	for try := 0; try < 200; try++ {
		base := 20000 + 100*rand.IntN(90) // 20000 … 28900, blocks of 100
		if handed[base] || (base >= 19000 && base < 19100) || base == 29000 {
			continue
		}
		free := true
		for p := base; p < base+n && free; p++ {
			ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p))
			if err != nil {
				free = false
				continue
			}
			ln.Close()
		}
		if free {
			handed[base] = true
			return base
		}
	}
	tb.Fatalf("no block of %d free ports below 29000", n)
	return 0
}
