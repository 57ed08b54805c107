package iamhttp_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/iamgo/iam"
	"github.com/iamgo/iam/iamhttp"
)

// contract 20, contract 9: a route over several permissions answers as
// the rules' Or and And do when one check fails (any-of allows if another
// permission allows, all-of is a 403 if another is denied, else the
// failure's 503), and a loader that panics is a 500, not a dropped
// connection.
func TestFaultsOnRoutes(t *testing.T) {
	failingRule := iam.PredE("db_lookup", func(context.Context, iam.Subject, iam.Object) (bool, error) {
		return false, errors.New("db down")
	})
	c, err := iam.New(iam.Policy{
		Perms: []iam.Perm{{Name: "p.err"}, {Name: "p.yes"}, {Name: "p.no"}},
		Rules: map[string]iam.Predicate{"p.err": failingRule, "p.yes": iam.IsAuthenticated()},
	}, iam.NewMemoryStore())
	require.NoError(t, err)
	g, err := iamhttp.New(iamhttp.Options{
		Checker: c,
		Logger:  slog.New(slog.DiscardHandler),
		Subject: func(*http.Request) (iam.Subject, error) { return &user{id: "ann"}, nil },
	})
	require.NoError(t, err)
	ok := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok") })
	panicking := func(*http.Request) (iam.Object, error) { panic("loader bug") }
	mux := http.NewServeMux()
	mux.Handle("GET /any/err-yes", g.RequireAny("p.err", "p.yes")(ok))
	mux.Handle("GET /any/err-no", g.RequireAny("p.err", "p.no")(ok))
	mux.Handle("GET /all/err-no", g.RequireAll("p.err", "p.no")(ok))
	mux.Handle("GET /all/err-yes", g.RequireAll("p.err", "p.yes")(ok))
	mux.Handle("GET /all/yes-yes", g.RequireAll("p.yes", "p.yes")(ok))
	mux.Handle("GET /obj/{id}", g.RequireObject("p.yes", panicking)(ok))
	tests := []struct {
		path string
		want int
	}{
		{"/any/err-yes", http.StatusOK},
		{"/any/err-no", http.StatusServiceUnavailable},
		{"/all/err-no", http.StatusForbidden},
		{"/all/err-yes", http.StatusServiceUnavailable},
		{"/all/yes-yes", http.StatusOK},
		{"/obj/1", http.StatusInternalServerError},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			rec := httptest.NewRecorder()
			require.NotPanics(t, func() { mux.ServeHTTP(rec, httptest.NewRequest("GET", tt.path, nil)) })
			require.Equal(t, tt.want, rec.Code, rec.Body.String())
			if tt.want != http.StatusOK {
				require.NotContains(t, rec.Body.String(), "db down")
				require.NotContains(t, rec.Body.String(), "loader bug")
			}
		})
	}
}
