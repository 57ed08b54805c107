package iamcache_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/iamgo/iam"
	"github.com/iamgo/iam/iamcache"
)

const benchRotate = 64 // distinct keys the benchmarks rotate over

// BenchmarkCacheHolding: a Holding hit against a MemoryStore read of the
// same key.
func BenchmarkCacheHolding(b *testing.B) {
	ctx := context.Background()
	mem := checkFixture(b, 10_000)
	ps := make([]iam.Principal, benchRotate)
	for i := range ps {
		ps[i] = iam.User(fmt.Sprint("u", i*97))
	}
	for _, tc := range []struct {
		name  string
		store iam.Store
	}{
		{"memory", mem},
		{"cache", iamcache.New(mem, iamcache.Options{TTL: iamcache.DefaultTTL})},
		{"cache_fake_clock", iamcache.New(mem, iamcache.Options{TTL: iamcache.DefaultTTL, Now: newFakeClock().Now})},
	} {
		b.Run(tc.name, func(b *testing.B) {
			for _, p := range ps {
				if h, err := tc.store.Holding(ctx, p); h == nil || err != nil {
					b.Fatal("fixture", p, err)
				}
			}
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				if h, _ := tc.store.Holding(ctx, ps[i&(benchRotate-1)]); h == nil {
					b.Fatal("nil")
				}
				i++
			}
		})
	}
}

// BenchmarkCacheGrants: a Grants hit against a MemoryStore read.
func BenchmarkCacheGrants(b *testing.B) {
	ctx := context.Background()
	mem := iam.NewMemoryStore()
	refs := make([]iam.Ref, benchRotate)
	err := mem.Transact(ctx, func(ctx context.Context, tx iam.Store) error {
		for i := range 10_000 {
			r := iam.Ref{Type: "doc", ID: fmt.Sprint("d", i)}
			if i < benchRotate {
				refs[i] = r
			}
			if err := tx.Grant(ctx, iam.Grant{Holder: iam.User("u"), Perm: "doc.view", On: r}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		store iam.Store
	}{
		{"memory", mem},
		{"cache", iamcache.New(mem, iamcache.Options{TTL: iamcache.DefaultTTL})},
	} {
		b.Run(tc.name, func(b *testing.B) {
			for _, r := range refs {
				tc.store.Grants(ctx, r)
			}
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				if g, _ := tc.store.Grants(ctx, refs[i&(benchRotate-1)]); g == nil {
					b.Fatal("nil")
				}
				i++
			}
		})
	}
}

// BenchmarkCacheCheck: warm checks through a Checker over the cache over a
// MemoryStore, against the same Checker directly over the MemoryStore. The
// fixture is the §5 one: 10k users holding 3 of 100 roles each
// (global_role), and an object grant (object_grant: holding, parents, and
// the object's, type and global grants are read).
func BenchmarkCacheCheck(b *testing.B) {
	mem := checkFixture(b, 10_000)
	users := make([]iam.Subject, benchRotate)
	n := 0
	for u := 0; n < benchRotate; u++ {
		if (u*7)%100 == 0 { // holds app.role_0
			users[n] = user{fmt.Sprint("u", u)}
			n++
		}
	}
	doc := iam.Ref{Type: "doc", ID: "d0"}
	for _, kind := range []struct {
		name string
		perm string
		obj  iam.Object
		subj func(i int) iam.Subject
	}{
		{"global_role", "app.perm_0_2", nil, func(i int) iam.Subject { return users[i&(benchRotate-1)] }},
		{"object_grant", "doc.view", doc, func(int) iam.Subject { return users[0] }},
	} {
		for _, st := range []struct {
			name  string
			store iam.Store
		}{
			{"memory", mem},
			{"cache", iamcache.New(mem, iamcache.Options{TTL: iamcache.DefaultTTL})},
		} {
			b.Run(kind.name+"/"+st.name, func(b *testing.B) {
				ctx := context.Background()
				checker, err := iam.New(checkPolicy(), st.store)
				if err != nil {
					b.Fatal(err)
				}
				for i := range benchRotate {
					if !checker.HasPerm(ctx, kind.subj(i), kind.perm, kind.obj) {
						b.Fatal("fixture denied")
					}
				}
				b.ReportAllocs()
				i := 0
				for b.Loop() {
					if !checker.HasPerm(ctx, kind.subj(i), kind.perm, kind.obj) {
						b.Fatal("denied")
					}
					i++
				}
			})
			b.Run(kind.name+"/"+st.name+"_parallel", func(b *testing.B) {
				ctx := context.Background()
				checker, err := iam.New(checkPolicy(), st.store)
				if err != nil {
					b.Fatal(err)
				}
				for i := range benchRotate {
					checker.HasPerm(ctx, kind.subj(i), kind.perm, kind.obj)
				}
				b.ReportAllocs()
				b.RunParallel(func(pb *testing.PB) {
					i := 0
					for pb.Next() {
						if !checker.HasPerm(ctx, kind.subj(i), kind.perm, kind.obj) {
							b.Error("denied")
							return
						}
						i++
					}
				})
			})
		}
	}
}
