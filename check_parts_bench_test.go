package iam

// BenchmarkCheckParts takes a check on the memory store apart, to show
// where the time of BenchmarkCheck goes. It is an internal test because
// some parts (the per-check state, the compiled memos) are unexported.
// The data set is benchmarks/' object_grants_1k: 10,000 users each in 2 of
// 100 groups, 1,000 grants of doc.view on 500 documents, 80% to users and
// 20% to groups; the checks rotate over 64 (user, document) pairs.

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
)

type partsUser struct{ id string }

func (u *partsUser) SubjectID() string { return u.id }

func BenchmarkCheckParts(b *testing.B) {
	ctx := context.Background()
	r := rand.New(rand.NewPCG(20261127, 1))
	store := NewMemoryStore()
	err := store.Transact(ctx, func(ctx context.Context, tx Store) error {
		for u := range 10_000 {
			g1 := r.IntN(100)
			g2 := (g1 + 1 + r.IntN(99)) % 100
			for _, g := range []int{g1, g2} {
				if err := tx.AddMember(ctx, fmt.Sprint("user", u), fmt.Sprint("group", g)); err != nil {
					return err
				}
			}
		}
		for i := range 1000 {
			h := User(fmt.Sprint("user", r.IntN(10_000)))
			if r.IntN(5) == 0 {
				h = Group(fmt.Sprint("group", r.IntN(100)))
			}
			if err := tx.Grant(ctx, Grant{Holder: h, Perm: "doc.view", On: Ref{Type: "doc", ID: fmt.Sprint("doc", i/2)}}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	pol := Policy{Perms: []Perm{{Name: "doc.view", Types: []string{"doc"}}}}
	// c does every lookup (no answer cache); cached is the default Checker.
	c, err := NewWithOptions(pol, store, Options{CacheSlots: -1})
	if err != nil {
		b.Fatal(err)
	}
	cached, err := New(pol, store)
	if err != nil {
		b.Fatal(err)
	}
	const rotate = 64
	uids := make([]string, rotate)
	users := make([]Subject, rotate)
	loners := make([]Subject, rotate) // users in no group, holding nothing
	docs := make([]Object, rotate)
	for k := range rotate {
		uids[k] = fmt.Sprint("user", r.IntN(10_000))
		users[k] = &partsUser{uids[k]}
		loners[k] = &partsUser{fmt.Sprint("loner", k)}
		docs[k] = Ref{Type: "doc", ID: fmt.Sprint("doc", r.IntN(500))}
	}
	run := func(name string, f func(k int)) {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				f(i & (rotate - 1))
				i++
			}
		})
	}
	// Whole checks, from the least to the most work, without the answer
	// cache.
	run("nil_subject", func(int) { c.HasPerm(ctx, nil, "doc.view", nil) })
	run("model_level_no_groups", func(k int) { c.HasPerm(ctx, loners[k], "doc.view", nil) })
	run("model_level_2_groups", func(k int) { c.HasPerm(ctx, users[k], "doc.view", nil) })
	run("object_no_groups", func(k int) { c.HasPerm(ctx, loners[k], "doc.view", docs[k]) })
	run("object_2_groups", func(k int) { c.HasPerm(ctx, users[k], "doc.view", docs[k]) })
	// The same object check answered by the answer cache (the default).
	for k := range rotate {
		cached.HasPerm(ctx, users[k], "doc.view", docs[k])
	}
	run("object_2_groups_cache_hit", func(k int) { cached.HasPerm(ctx, users[k], "doc.view", docs[k]) })
	// The parts.
	st := evalState{env: env{c: c}}
	run("user_holding_and_memo", func(k int) {
		h, _ := store.Holding(ctx, User(uids[k]))
		if c.memoOf(&st, h) == nil {
			b.Fatal("no memo")
		}
	})
	run("object_grants_and_memo", func(k int) {
		gs, _ := store.Grants(ctx, docs[k].ObjectRef())
		if c.grantMemoOf(gs, 0) == nil {
			b.Fatal("no grants on a granted document")
		}
	})
}
