package iam_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/iamgo/iam"
)

// listFixture: 1,000,000 documents, each with one doc.view grant; the
// reader holds 10,000 of them (every 100th document), 99 other users the
// rest. With parents, the reader's grants are instead on 100 folders of 100
// documents each (the folders' children recorded with SetParents).
func listFixture(tb testing.TB, parents bool) (*iam.Checker, *benchUser) {
	tb.Helper()
	ctx := context.Background()
	store := iam.NewMemoryStore()
	err := store.Transact(ctx, func(ctx context.Context, tx iam.Store) error {
		for i := range 1_000_000 {
			doc := iam.Ref{Type: "doc", ID: fmt.Sprintf("d%07d", i)}
			holder := iam.User(fmt.Sprint("u", i%100))
			if parents && i%100 == 0 {
				folder := iam.Ref{Type: "folder", ID: fmt.Sprint("f", i/10_000)}
				if err := tx.(iam.ParentStore).SetParents(ctx, doc, []iam.Ref{folder}); err != nil {
					return err
				}
				if i%10_000 == 0 {
					if err := tx.Grant(ctx, iam.Grant{Holder: iam.User("u0"), Perm: "doc.view", On: folder}); err != nil {
						return err
					}
				}
				holder = iam.User("u1")
			}
			if err := tx.Grant(ctx, iam.Grant{Holder: holder, Perm: "doc.view", On: doc}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		tb.Fatal(err)
	}
	c, err := iam.New(iam.Policy{Perms: []iam.Perm{{Name: "doc.view"}}}, store)
	if err != nil {
		tb.Fatal(err)
	}
	return c, &benchUser{id: "u0"}
}

// BenchmarkListObjects lists the documents a user may view (docs/contract.md issue 4:
// 10,000 of 1,000,000, ≤ 5 ms on the memory store).
func BenchmarkListObjects(b *testing.B) {
	ctx := context.Background()
	c, u := listFixture(b, false)
	run := func(name string, o iam.ListOptions, want int) {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				l, err := c.ListObjects(ctx, u, "doc.view", "doc", o)
				if err != nil || len(l.IDs) != want {
					b.Fatalf("ListObjects: %d IDs, %v; want %d", len(l.IDs), err, want)
				}
			}
		})
	}
	run("10k_of_1M", iam.ListOptions{}, 10_000)
	run("10k_of_1M_page50", iam.ListOptions{After: "d0500000", Limit: 50}, 50)
	b.Run("10k_of_1M_via_100_folders", func(b *testing.B) {
		c, u := listFixture(b, true)
		b.ReportAllocs()
		for b.Loop() {
			l, err := c.ListObjects(ctx, u, "doc.view", "doc", iam.ListOptions{})
			if err != nil || len(l.IDs) != 10_000 {
				b.Fatalf("ListObjects: %d IDs, %v; want 10000", len(l.IDs), err)
			}
		}
	})
}
