package iam_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

	"github.com/iamgo/iam"
)

// heldModel is a brute-force model of a store's grants: each (holder,
// permission or role, ref) once, with its expiry (a re-grant replaces it).
type heldModel map[string]time.Time

func heldKeyOf(g iam.Grant) string {
	return g.Holder.String() + "|" + g.Perm + "|" + g.Role + "|" + g.On.String()
}

func (m heldModel) grant(g iam.Grant)  { m[heldKeyOf(g)] = g.ExpiresAt }
func (m heldModel) revoke(g iam.Grant) { delete(m, heldKeyOf(g)) }

// of returns the model's grants of holder as comparable lines, sorted.
func (m heldModel) of(all []iam.Grant, holder iam.Principal) []string {
	seen := map[string]bool{}
	var out []string
	for _, g := range all {
		k := heldKeyOf(g)
		exp, ok := m[k]
		if !ok || g.Holder != holder || seen[k] {
			continue
		}
		seen[k] = true
		out = append(out, fmt.Sprintf("%s exp=%d", k, exp.UnixMicro()))
	}
	slices.Sort(out)
	return out
}

func heldLines(gs []iam.Grant) []string {
	var out []string
	for _, g := range gs {
		out = append(out, fmt.Sprintf("%s exp=%d", heldKeyOf(g), g.ExpiresAt.UnixMicro()))
	}
	slices.Sort(out)
	return out
}

// TestMemoryGrantsHeldByModel drives the MemoryStore with random grants,
// re-grants with other expiries, revocations and DeleteGrantsOn, directly
// and inside Transact, and compares every principal's GrantsHeldBy (on the
// store and on the transaction, which must see its own writes) with the
// model, with and without expiries in the store. GrantsHeldBy answers from
// an index, so the model is what proves it misses nothing a scan would
// find. contract 19
func TestMemoryGrantsHeldByModel(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	holders := []iam.Principal{iam.User("u1"), iam.User("u2"), iam.User("g1"), iam.Group("g1"), iam.Group("g2")}
	refs := []iam.Ref{iam.GlobalScope(), iam.TypeScope("doc"), iam.TypeScope("folder")}
	for _, typ := range []string{"doc", "folder"} {
		for i := range 6 {
			refs = append(refs, iam.Ref{Type: typ, ID: typ + strconv.Itoa(i)})
		}
	}
	var all []iam.Grant // every grant ever made, to enumerate the model
	// Half the seeds store no expiry at all: the store then lists from its
	// index alone, without reading the grant sets.
	expiries := false
	randomGrant := func(rng *rand.Rand) iam.Grant {
		g := iam.Grant{Holder: holders[rng.IntN(len(holders))], On: refs[rng.IntN(len(refs))]}
		if rng.IntN(3) == 0 {
			g.Role = []string{"editor", "viewer"}[rng.IntN(2)]
		} else {
			g.Perm = []string{"read", "write", "delete"}[rng.IntN(3)]
		}
		if expiries && rng.IntN(3) == 0 {
			g.ExpiresAt = now.Add(time.Duration(rng.IntN(5)-2) * time.Hour)
		}
		return g
	}
	compare := func(t *testing.T, l iam.HolderGrantLister, m heldModel, where string) {
		t.Helper()
		for _, h := range holders {
			got, err := l.GrantsHeldBy(ctx, h)
			require.NoError(t, err)
			if diff := cmp.Diff(m.of(all, h), heldLines(got)); diff != "" {
				t.Fatalf("%s: GrantsHeldBy(%s) (-want +got):\n%s", where, h, diff)
			}
		}
	}
	for seed := range uint64(40) {
		rng := rand.New(rand.NewPCG(seed, 7))
		expiries = seed%2 == 1
		s := iam.NewMemoryStore()
		m := heldModel{}
		// step applies one random write to w and to the model.
		step := func(w iam.Store, m heldModel) {
			switch r := rng.IntN(10); {
			case r < 6:
				g := randomGrant(rng)
				require.NoError(t, w.Grant(ctx, g))
				all = append(all, g)
				m.grant(g)
			case r < 9:
				g := randomGrant(rng)
				require.NoError(t, w.Revoke(ctx, g))
				m.revoke(g)
			default:
				on := refs[rng.IntN(len(refs))]
				require.NoError(t, w.DeleteGrantsOn(ctx, on))
				for _, g := range all {
					if g.On == on {
						m.revoke(g)
					}
				}
			}
		}
		for range 60 {
			if rng.IntN(4) > 0 {
				step(s, m)
				compare(t, s, m, fmt.Sprintf("seed %d", seed))
				continue
			}
			draft := heldModel{}
			for k, v := range m {
				draft[k] = v
			}
			commit := rng.IntN(2) == 0
			err := s.Transact(ctx, func(ctx context.Context, tx iam.Store) error {
				for range 1 + rng.IntN(5) {
					step(tx, draft)
					compare(t, tx.(iam.HolderGrantLister), draft, fmt.Sprintf("seed %d, in Transact", seed))
				}
				if !commit {
					return fmt.Errorf("roll back")
				}
				return nil
			})
			if commit {
				require.NoError(t, err)
				m = draft
			} else {
				require.Error(t, err)
			}
			compare(t, s, m, fmt.Sprintf("seed %d, after Transact (commit %v)", seed, commit))
		}
	}
}

// BenchmarkGrantsHeldBy lists one user's grants in a store of 200,000
// object grants (what a membership change through the Manager and the
// admin's principal page ask).
func BenchmarkGrantsHeldBy(b *testing.B) {
	ctx := context.Background()
	s := iam.NewMemoryStore()
	require.NoError(b, s.Transact(ctx, func(ctx context.Context, tx iam.Store) error {
		for i := range 200_000 {
			g := iam.Grant{Holder: iam.User("u" + strconv.Itoa(i%10_000)), Perm: []string{"read", "write"}[i%2],
				On: iam.Ref{Type: "doc", ID: "d" + strconv.Itoa(i/4)}}
			if err := tx.Grant(ctx, g); err != nil {
				return err
			}
		}
		return nil
	}))
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		gs, err := s.GrantsHeldBy(ctx, iam.User("u"+strconv.Itoa(i%10_000)))
		if err != nil || len(gs) != 20 {
			b.Fatalf("GrantsHeldBy: %d grants, %v", len(gs), err)
		}
	}
}
