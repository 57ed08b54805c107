package iamcache

import (
	"sync"
	"sync/atomic"
	"time"
)

// Reading the clock costs more than a cache hit (on the machine this was
// measured on, time.Now took ~49 ns and a monotonic read ~28 ns, against
// ~20 ns for a MemoryStore read). So the hit path of a cache on the real
// clock reads a coarse clock instead: an atomic value refreshed every
// coarseTick by a timer. The coarse value is at most a little behind real
// time, never ahead of it, so it cannot alone prove an entry unexpired: an
// entry is served on the coarse clock only while coarse+guard is before its
// deadline, where guard is far larger than the tick (at least
// minGuard = 25 ticks, and TTL/16). In the last guard of its life an entry is
// checked against the exact monotonic clock. An entry is therefore never
// served after its TTL unless the timer runs more than guard late while
// readers run, which the Go scheduler's preemption (every ~10 ms) rules out
// in practice.
//
// The timer stops after coarseIdle ticks without a read, so an idle process
// is not woken; the next read restarts it.

const (
	coarseTick = 10 * time.Millisecond
	coarseIdle = 100 // ticks without a read before the timer stops
	minGuard   = 25 * coarseTick
)

var monoBase = time.Now()

// monoNow is the exact monotonic clock, in nanoseconds; never 0.
func monoNow() int64 { return int64(time.Since(monoBase)) + 1 }

type coarseClock struct {
	now  atomic.Int64 // monoNow at the last tick; 0: stopped
	used atomic.Bool  // read since the last tick

	mu      sync.Mutex
	running bool
	idle    int
	timer   *time.Timer
}

var coarse coarseClock

// load returns a monotonic time no later than now and at most about a tick
// earlier (while the timer runs on time).
func (k *coarseClock) load() int64 {
	if t := k.now.Load(); t != 0 {
		if !k.used.Load() {
			k.used.Store(true)
		}
		return t
	}
	return k.start()
}

func (k *coarseClock) start() int64 {
	k.mu.Lock()
	defer k.mu.Unlock()
	t := monoNow()
	if !k.running {
		k.running, k.idle = true, 0
		k.now.Store(t)
		if k.timer == nil {
			k.timer = time.AfterFunc(coarseTick, k.advance)
		} else {
			k.timer.Reset(coarseTick)
		}
	}
	return t
}

func (k *coarseClock) advance() {
	k.mu.Lock()
	defer k.mu.Unlock()
	if !k.running {
		return // a fire that raced with a stop
	}
	if k.used.Swap(false) {
		k.idle = 0
	} else if k.idle++; k.idle >= coarseIdle {
		k.running = false
		k.now.Store(0)
		return
	}
	k.now.Store(monoNow())
	k.timer.Reset(coarseTick)
}
