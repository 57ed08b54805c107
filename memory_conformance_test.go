package iam_test

import (
	"testing"

	"github.com/iamgo/iam"
	"github.com/iamgo/iam/iamtest"
)

// TestMemoryStoreConformance runs the store conformance suite against the
// MemoryStore.
func TestMemoryStoreConformance(t *testing.T) {
	iamtest.TestStore(t, func(t *testing.T) iam.Store { return iam.NewMemoryStore() })
}
