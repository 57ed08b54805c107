package main

import (
	"context"
	"testing"
)

// TestDemoRuns runs the demo end to end: seeding through the validated
// write path and every check of the matrix must succeed without error.
func TestDemoRuns(t *testing.T) {
	if err := run(context.Background()); err != nil {
		t.Fatal(err)
	}
}
