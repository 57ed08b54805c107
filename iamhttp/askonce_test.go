package iamhttp_test

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/iamgo/iam"
	"github.com/iamgo/iam/iamhttp"
)

// TestRefusalAskedOnce: each permission of a request is checked once, so
// a rule runs once for a refused request as for an allowed one, and the
// refusal's log still carries the rule and its leaf. contract 20.
func TestRefusalAskedOnce(t *testing.T) {
	var runs atomic.Int64
	isOwner := iam.Pred("is_owner", func(_ context.Context, u *user, p *post) bool {
		runs.Add(1)
		return p != nil && u != nil && p.owner == u.id
	})
	c, err := iam.New(iam.Policy{
		Perms: []iam.Perm{{Name: "blog.change_post", Types: []string{"blog.post"}}},
		Rules: map[string]iam.Predicate{"blog.change_post": isOwner},
	}, iam.NewMemoryStore())
	require.NoError(t, err)
	logs := &bytes.Buffer{}
	g, err := iamhttp.New(iamhttp.Options{
		Checker: c,
		Logger:  slog.New(slog.NewTextHandler(logs, nil)),
		Subject: func(r *http.Request) (iam.Subject, error) { return &user{id: r.Header.Get("X-User")}, nil },
	})
	require.NoError(t, err)
	load := func(*http.Request) (iam.Object, error) { return &post{id: "7", owner: "ann"}, nil }
	h := g.RequireObject("blog.change_post", load)(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {}))
	for _, tc := range []struct {
		who    string
		status int
	}{{"ann", http.StatusOK}, {"bob", http.StatusForbidden}} {
		runs.Store(0)
		req := httptest.NewRequest(http.MethodPut, "/posts/7", nil)
		req.Header.Set("X-User", tc.who)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		require.Equal(t, tc.status, rec.Code, tc.who)
		require.Equal(t, int64(1), runs.Load(), "%s: the rule ran %d times for one request", tc.who, runs.Load())
	}
	require.True(t, strings.Contains(logs.String(), "is_owner=false"), "the refusal's log lacks the rule's leaf:\n%s", logs)
}
