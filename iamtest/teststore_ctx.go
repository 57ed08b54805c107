package iamtest

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

	"github.com/iamgo/iam"
)

// Contexts that are already done. A store may ignore the context (and
// succeed) or refuse the call (and return an error); it must never report
// success for a write that did not happen, nor half-apply a write it
// reports as failed.

// deadContexts returns contexts that are already done, by kind.
func deadContexts(t *testing.T) []struct {
	name string
	ctx  context.Context
} {
	cancelled, cancel := context.WithCancel(t.Context())
	cancel()
	expired, cancel2 := context.WithDeadline(t.Context(), time.Now().Add(-time.Second))
	t.Cleanup(cancel2)
	return []struct {
		name string
		ctx  context.Context
	}{{"canceled", cancelled}, {"deadline exceeded", expired}}
}

var (
	ctxUser   = iam.User("u")
	ctxGroup  = iam.Group("g")
	ctxFolder = iam.Ref{Type: typeFolder, ID: "1"}
)

// ctxBase is what the store holds before the write under test.
func ctxBase() []item {
	return []item{
		profileItem(iam.Profile{Holder: ctxUser, Role: "r1", Active: true, Data: []byte(`{"v":1}`)}),
		profileItem(iam.Profile{Holder: ctxGroup, Role: "r1"}),
		memberItem("u", "g0"),
		grantItem(permGrant(ctxUser, "p1", doc1)),
		grantItem(permGrant(ctxUser, "p2", doc1)),
		grantItem(roleGrant(ctxGroup, "r1", docType)),
		grantItem(permGrant(ctxUser, "p1", global)),
		parentsItem(doc1, doc0),
	}
}

// ctxKeys are the keys the writes under test touch.
func ctxKeys() keys {
	k := keysOf(ctxBase())
	k.addPrincipal(iam.Group("g1"))
	k.addGrantRef(doc2)
	return k
}

// ctxWrite is a write that changes ctxBase.
type ctxWrite struct {
	name    string
	parents bool // needs an iam.ParentStore
	write   func(ctx context.Context, st iam.Store) error
}

var ctxWrites = []ctxWrite{
	{"PutProfile create", false, func(ctx context.Context, st iam.Store) error {
		return st.PutProfile(ctx, iam.Profile{Holder: ctxUser, Role: "r2", Active: true})
	}},
	{"PutProfile replace", false, func(ctx context.Context, st iam.Store) error {
		return st.PutProfile(ctx, iam.Profile{Holder: ctxUser, Role: "r1", Data: []byte(`{"v":2}`)})
	}},
	{"SetProfileActive false", false, func(ctx context.Context, st iam.Store) error {
		return st.SetProfileActive(ctx, ctxUser, "r1", false)
	}},
	{"SetProfileActive true", false, func(ctx context.Context, st iam.Store) error {
		return st.SetProfileActive(ctx, ctxGroup, "r1", true)
	}},
	{"DeleteProfile", false, func(ctx context.Context, st iam.Store) error {
		return st.DeleteProfile(ctx, ctxUser, "r1")
	}},
	{"AddMember", false, func(ctx context.Context, st iam.Store) error {
		return st.AddMember(ctx, "u", "g1")
	}},
	{"RemoveMember", false, func(ctx context.Context, st iam.Store) error {
		return st.RemoveMember(ctx, "u", "g0")
	}},
	{"Grant", false, func(ctx context.Context, st iam.Store) error {
		return st.Grant(ctx, permGrant(ctxUser, "p3", doc2))
	}},
	{"Revoke", false, func(ctx context.Context, st iam.Store) error {
		return st.Revoke(ctx, permGrant(ctxUser, "p1", doc1))
	}},
	{"DeleteGrantsOn object", false, func(ctx context.Context, st iam.Store) error {
		return st.DeleteGrantsOn(ctx, doc1)
	}},
	{"DeleteGrantsOn global", false, func(ctx context.Context, st iam.Store) error {
		return st.DeleteGrantsOn(ctx, global)
	}},
	{"SetParents replace", true, func(ctx context.Context, st iam.Store) error {
		return st.(iam.ParentStore).SetParents(ctx, doc1, []iam.Ref{doc2, ctxFolder})
	}},
	{"SetParents clear", true, func(ctx context.Context, st iam.Store) error {
		return st.(iam.ParentStore).SetParents(ctx, doc1, nil)
	}},
}

func (s *suite) testCancelledContextWrite(t *testing.T) {
	// A write with a done context either happens (and returns nil) or does
	// not happen at all (and returns an error).
	for _, w := range ctxWrites {
		t.Run(w.name, func(t *testing.T) {
			for _, dc := range deadContexts(t) {
				t.Run(dc.name, func(t *testing.T) {
					var st iam.Store
					if w.parents {
						st, _ = s.parentStore(t)
					} else {
						st = s.store(t)
					}
					k := ctxKeys()
					writeItems(t, st, ctxBase())
					before := observe(t, st, k)

					// What the write does with a live context, on a store
					// of its own.
					ref := s.store(t)
					writeItems(t, ref, ctxBase())
					require.NoError(t, w.write(t.Context(), ref), "%s with a live context", w.name)
					done := observe(t, ref, k)
					require.False(t, cmp.Equal(before, done, profileOpts), "the write changes nothing: the test is broken")

					err := w.write(dc.ctx, st)
					got := observe(t, st, k)
					if err != nil {
						t.Logf("%s with a %s context: %v", w.name, dc.name, err)
						requireDiff(t, before, got, "%s returned %q with a %s context, but the store", w.name, err, dc.name)
					} else {
						requireDiff(t, done, got, "%s returned nil with a %s context, but the store", w.name, dc.name)
					}
				})
			}
		})
	}
}

func (s *suite) testCancelledContextRead(t *testing.T) {
	// A read with a done context either returns an error or the right
	// answer.
	st := s.store(t)
	writeItems(t, st, ctxBase())
	k := ctxKeys()
	want := observe(t, st, k)
	ps, hasParents := st.(iam.ParentStore)
	for _, dc := range deadContexts(t) {
		t.Run(dc.name, func(t *testing.T) {
			for _, p := range k.principals {
				h, err := st.Holding(dc.ctx, p)
				if err == nil {
					requireDiff(t, want.Holdings[p], viewHolding(h), "Holding(%v) with a %s context", p, dc.name)
				}
			}
			for _, r := range k.grantRefs {
				set, err := st.Grants(dc.ctx, r)
				if err == nil {
					requireDiff(t, want.Grants[r], viewGrants(t, set, r), "Grants(%v) with a %s context", r, dc.name)
				}
			}
			if hasParents {
				for _, r := range k.parentRefs {
					got, err := ps.Parents(dc.ctx, r)
					if err == nil {
						if len(got) == 0 {
							got = nil
						}
						requireDiff(t, want.Parents[r], got, "Parents(%v) with a %s context", r, dc.name)
					}
				}
			}
			// The store still works with a live context.
			requireDiff(t, want, observe(t, st, k), "store content after reads with a %s context", dc.name)
		})
	}
}
