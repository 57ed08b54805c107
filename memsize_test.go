package iam_test

import (
	"context"
	"fmt"
	"runtime"
	"testing"

	"github.com/iamgo/iam"
)

// TestMemoryStoreBytesPerGrant measures the heap the memory store holds per
// object grant at 1M grants (docs/contract.md: ≤ 150 bytes), once loaded
// and again in steady state, after every object has been checked once (a
// check may leave compiled forms behind). It is skipped in -short mode;
// `make test` runs it.
func TestMemoryStoreBytesPerGrant(t *testing.T) {
	if testing.Short() {
		t.Skip("loads 1M grants")
	}
	const n = 1_000_000
	heap := func() uint64 {
		runtime.GC()
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return ms.HeapAlloc
	}
	// The IDs exist before the measurement, as they would in an
	// application (they are its own strings).
	users := make([]string, 10_000)
	for i := range users {
		users[i] = fmt.Sprint("u", i)
	}
	before := heap()
	store := iam.NewMemoryStore()
	err := store.Transact(context.Background(), func(ctx context.Context, tx iam.Store) error {
		for i := range n {
			g := iam.Grant{Holder: iam.User(users[i%len(users)]), Perm: "doc.view", On: iam.Ref{Type: "doc", ID: fmt.Sprint("d", i)}}
			if err := tx.Grant(ctx, g); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	after := heap()
	if got := iam.CountMemory(store).Grants; got != n {
		t.Fatalf("store holds %d grants, want %d", got, n)
	}
	per := float64(after-before) / n
	t.Logf("memory store: %.1f bytes per object grant at %d grants (object IDs included)", per, n)
	if per > 150 {
		t.Errorf("memory store uses %.1f bytes per grant, docs/contract.md allows 150", per)
	}

	// Steady state: every object checked once, by its holder (allowed)
	// and by another user (denied), with the answer cache off so that
	// only what the store and the Checker keep is counted.
	c, err := iam.NewWithOptions(iam.Policy{Perms: []iam.Perm{{Name: "doc.view", Types: []string{"doc"}}}}, store, iam.Options{CacheSlots: -1})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for i := range n {
		ref := iam.Ref{Type: "doc", ID: fmt.Sprint("d", i)}
		if !c.HasPerm(ctx, msUser(users[i%len(users)]), "doc.view", ref) || c.HasPerm(ctx, msUser(users[(i+1)%len(users)]), "doc.view", ref) {
			t.Fatalf("check of %v is wrong", ref)
		}
	}
	steady := float64(heap()-before) / n
	t.Logf("memory store: %.1f bytes per object grant after every object was checked", steady)
	if steady > 150 {
		t.Errorf("memory store uses %.1f bytes per grant in steady state, docs/contract.md allows 150", steady)
	}
	runtime.KeepAlive(c)
	runtime.KeepAlive(store)
	runtime.KeepAlive(users)
}

type msUser string

func (u msUser) SubjectID() string { return string(u) }
