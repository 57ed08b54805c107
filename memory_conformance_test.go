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

// TestMemoryStoreManager runs the Manager's anti-escalation matrix (contract
// 19) on the MemoryStore.
func TestMemoryStoreManager(t *testing.T) {
	iamtest.TestManager(t, func(t *testing.T) iam.Store { return iam.NewMemoryStore() })
}

// TestMemoryStoreAccess runs the access-query consistency suite (Check ⇔
// ListObjects ⇔ Holders, over more than 10,000 triples) on the MemoryStore.
// contract 4a, 4b, 4c, 7, 15
func TestMemoryStoreAccess(t *testing.T) {
	iamtest.TestAccess(t, func(t *testing.T) iam.Store { return iam.NewMemoryStore() })
}
