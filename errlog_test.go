package iam_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

	"github.com/iamgo/iam"
)

// elRecords is a slog.Handler that keeps what it is given.
type elRecords struct {
	mu   sync.Mutex
	recs []string
}

func (h *elRecords) Enabled(context.Context, slog.Level) bool { return true }
func (h *elRecords) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h *elRecords) WithGroup(string) slog.Handler            { return h }
func (h *elRecords) Handle(_ context.Context, r slog.Record) error {
	s := r.Level.String() + " " + r.Message
	r.Attrs(func(a slog.Attr) bool {
		if a.Key != "error" {
			s += " " + a.Key + "=" + a.Value.String()
		}
		return true
	})
	h.mu.Lock()
	h.recs = append(h.recs, s)
	h.mu.Unlock()
	return nil
}

func (h *elRecords) take() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	r := h.recs
	h.recs = nil
	return r
}

// elFailing is a store whose reads fail.
type elFailing struct{ *iam.MemoryStore }

func (elFailing) Holding(context.Context, iam.Principal) (*iam.Holding, error) {
	return nil, errors.New("database is down")
}

// TestHasPermReportsSwallowedErrors: HasPerm cannot return the error of a
// check that failed, so it logs it, at most once per permission a
// minute with the count left out (each undeclared name counts as one); a plain denial logs nothing.
// contract 7c, contract 1, contract 10, contract 17
func TestHasPermReportsSwallowedErrors(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	boom := iam.Pred("boom", func(context.Context, iam.Subject, iam.Object) bool { panic("kaboom") })
	policy := iam.Policy{
		Roles: []*iam.Role{{Name: "reader", Perms: []string{"blog.view_post"}}},
		Rules: map[string]iam.Predicate{"blog.boom": boom},
	}
	for _, cacheSlots := range []int{0, -1} {
		h := &elRecords{}
		c, err := iam.NewWithOptions(policy, iam.NewMemoryStore(), iam.Options{Now: clock, Logger: slog.New(h), CacheSlots: cacheSlots})
		require.NoError(t, err)
		u := scUser{id: "ann"}
		post := iam.Ref{Type: "blog.post", ID: "1"}

		require.False(t, c.HasPerm(ctx, u, "blog.view_post", post))
		require.Empty(t, h.take(), "a plain denial is not an error")

		for range 3 {
			require.False(t, c.HasPerm(ctx, u, "blog.veiw_post", post))
		}
		require.False(t, c.HasPerms(ctx, u, []string{"blog.view_post", "blog.boom"}, post))
		require.False(t, c.HasPerm(ctx, u, "blog.boom", post))
		cancelled, cancel := context.WithCancel(ctx)
		cancel()
		require.False(t, c.HasPerm(cancelled, u, "blog.view_post", post))
		want := []string{
			"WARN iam: check failed: denied perm=blog.veiw_post subject=ann object=blog.post:1",
			"WARN iam: check failed: denied perm=blog.boom subject=ann object=blog.post:1",
			"DEBUG iam: check failed: denied perm=blog.view_post subject=ann object=blog.post:1",
		}
		if diff := cmp.Diff(want, h.take()); diff != "" {
			t.Fatalf("CacheSlots %d: records (-want +got):\n%s", cacheSlots, diff)
		}

		now = now.Add(time.Minute) // Options.Logger: at most one record per permission per minute
		require.False(t, c.HasPerm(ctx, u, "blog.veiw_post", post))
		require.False(t, c.HasPerm(ctx, u, "no.such_perm", nil)) // another typo: a limit of its own
		require.False(t, c.HasPerm(ctx, u, "no.such_perm", nil))
		want = []string{
			"WARN iam: check failed: denied perm=blog.veiw_post subject=ann object=blog.post:1 left_out=2",
			"WARN iam: check failed: denied perm=no.such_perm subject=ann",
		}
		if diff := cmp.Diff(want, h.take()); diff != "" {
			t.Fatalf("CacheSlots %d: records after the interval (-want +got):\n%s", cacheSlots, diff)
		}
	}

	// Made-up names cannot grow the Checker without bound: past 256 of
	// them they share one limit, so 1,000 distinct names in one interval
	// log at most 257 records.
	h0 := &elRecords{}
	c0, err := iam.NewWithOptions(policy, iam.NewMemoryStore(), iam.Options{Now: clock, Logger: slog.New(h0)})
	require.NoError(t, err)
	for i := range 1000 {
		require.False(t, c0.HasPerm(ctx, scUser{id: "ann"}, fmt.Sprintf("made.up_%d", i), nil))
	}
	require.Len(t, h0.take(), 257)

	// A store error is reported too.
	h := &elRecords{}
	c, err := iam.NewWithOptions(policy, elFailing{iam.NewMemoryStore()}, iam.Options{Now: clock, Logger: slog.New(h)})
	require.NoError(t, err)
	require.False(t, c.HasPerm(ctx, scUser{id: "ann"}, "blog.view_post", nil))
	require.Equal(t, []string{"WARN iam: check failed: denied perm=blog.view_post subject=ann"}, h.take())
}
