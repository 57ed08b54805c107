package iamcache

import "testing"

// TestCoarseClockCycle: the coarse clock is never ahead of the exact one;
// it stops after coarseIdle ticks without a read and restarts on the next
// read. (Ticks are driven by hand here; the running timer may add some,
// which only brings the stop sooner.)
func TestCoarseClockCycle(t *testing.T) {
	var k coarseClock
	for range 3 {
		before := monoNow()
		got := k.load()
		if got <= 0 || got > monoNow() || got < before {
			t.Fatalf("started coarse clock at %d, exact clock around %d", got, before)
		}
		if t2 := k.load(); t2 <= 0 || t2 > monoNow() {
			t.Fatalf("coarse clock %d ahead of the exact clock", t2)
		}
		for i := 0; k.now.Load() != 0; i++ {
			if i > 2*coarseIdle+2 {
				t.Fatal("the coarse clock did not stop when idle")
			}
			k.advance()
		}
		k.mu.Lock()
		running := k.running
		k.mu.Unlock()
		if running {
			t.Fatal("stopped clock still marked running")
		}
	}
	k.timer.Stop()
}
