package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

	"github.com/iamgo/iam/iamsql"
)

// TestTour runs `go run ./examples/blog -tour` in-process: a fresh SQLite
// database, a server on a free port, every scripted request answered as
// scripted (the tour fails otherwise).
func TestTour(t *testing.T) {
	var out bytes.Buffer
	err := run(t.Context(), &out, options{tour: true})
	require.NoError(t, err, out.String())
	require.Contains(t, out.String(), "tour: all 26 requests answered as scripted")
	require.Contains(t, out.String(), "sam (staff) on post 2: allowed blog.view_post: global role blog.reader held by group:staff")
}

// backends are the databases the end-to-end tests run on: SQLite always,
// PostgreSQL when IAM_TEST_POSTGRES_DSN is set (make test sets it; CI
// requires it).
func backends(t *testing.T) map[string]string {
	b := map[string]string{"sqlite": filepath.Join(t.TempDir(), "blog.db")}
	if dsn := os.Getenv("IAM_TEST_POSTGRES_DSN"); dsn != "" {
		b["postgres"] = dsn
	} else if os.Getenv("CI") != "" {
		t.Fatal("CI is set but IAM_TEST_POSTGRES_DSN is not: the PostgreSQL end-to-end tests must run")
	} else {
		t.Log("IAM_TEST_POSTGRES_DSN not set: PostgreSQL end-to-end tests SKIPPED (make test runs them)")
	}
	return b
}

type client struct {
	t    *testing.T
	base string
}

func (c client) do(user, method, path, body string) (int, []byte) {
	c.t.Helper()
	req, err := http.NewRequestWithContext(c.t.Context(), method, c.base+path, strings.NewReader(body))
	require.NoError(c.t, err)
	req.Header.Set("Accept", "application/json")
	if user != "" {
		req.SetBasicAuth(user, userByID(user).Password)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(c.t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(c.t, err)
	return resp.StatusCode, b
}

func startApp(t *testing.T, dsn string) (*App, client) {
	t.Helper()
	app, err := Open(t.Context(), dsn, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	t.Cleanup(func() { app.Close() })
	require.Equal(t, strings.HasPrefix(dsn, "postgres://"), app.store.Dialect() == iamsql.Postgres, "backend of %s", dsn)
	srv := httptest.NewServer(app.Handler())
	t.Cleanup(srv.Close)
	return app, client{t, srv.URL}
}

// The columns of the role × endpoint matrix: users in this order.
var matrixUsers = []string{"alice", "bob", "erin", "mo", "sam", "rita", "root", ""}

// TestEndpoints drives every role × endpoint over HTTP on a freshly seeded
// database per cell, allowed and denied (DESIGN contract 20: 401
// anonymous, 403 denied, 404 missing, 405 method without a rule).
func TestEndpoints(t *testing.T) {
	rows := []struct {
		method, path, body string
		want               []int // per matrixUsers
	}{
		{"GET", "/posts/1", "", []int{200, 200, 200, 200, 200, 200, 200, 200}},
		{"GET", "/posts/2", "", []int{200, 403, 200, 403, 200, 403, 200, 401}},
		{"GET", "/posts/3", "", []int{403, 200, 403, 403, 200, 200, 200, 401}},
		{"GET", "/posts/99", "", []int{404, 404, 404, 404, 404, 404, 404, 404}},
		{"POST", "/posts", `{"title":"t","body":"b","section":"tech"}`, []int{201, 201, 201, 403, 403, 403, 201, 401}},
		{"PUT", "/posts/2", `{"title":"t2","body":"b2"}`, []int{200, 403, 200, 403, 403, 403, 200, 401}},
		{"PUT", "/posts/3", `{"title":"t3","body":"b3"}`, []int{403, 200, 403, 403, 403, 403, 200, 401}},
		{"POST", "/posts/2/publish", "", []int{403, 403, 200, 403, 403, 403, 200, 401}},
		{"POST", "/posts/3/publish", "", []int{403, 403, 403, 403, 403, 403, 200, 401}},
		{"DELETE", "/posts/2", "", []int{204, 403, 403, 204, 403, 403, 204, 401}},
		{"PATCH", "/posts/2", "", []int{405, 405, 405, 405, 405, 405, 405, 405}},
		{"GET", "/posts/2/holders", "", []int{200, 403, 200, 403, 403, 403, 200, 401}},
		{"PUT", "/posts/2/reviewers/rita", "", []int{200, 403, 200, 403, 403, 403, 200, 401}},
		{"PUT", "/posts/2/reviewers/alice", "", []int{403, 403, 200, 403, 403, 403, 200, 401}}, // alice: self-change
		{"DELETE", "/posts/3/reviewers/rita", "", []int{403, 200, 403, 403, 403, 403, 200, 401}},
		{"PUT", "/posts/3/reviewers/nobody", "", []int{403, 404, 403, 403, 403, 403, 404, 401}},
	}
	for name, dsn := range backends(t) {
		t.Run(name, func(t *testing.T) {
			app, c := startApp(t, dsn)
			got := map[string][]int{}
			want := map[string][]int{}
			for _, row := range rows {
				key := row.method + " " + row.path
				want[key] = row.want
				for _, u := range matrixUsers {
					_, err := app.Seed(t.Context(), true)
					require.NoError(t, err)
					status, _ := c.do(u, row.method, row.path, row.body)
					got[key] = append(got[key], status)
				}
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("statuses per endpoint for users %q (-want +got):\n%s", matrixUsers, diff)
			}
		})
	}
}

// TestListMatchesGet: for every user the list endpoint (one SQL query with
// AccessFilter) shows exactly the posts whose GET is 200, before and after
// grants, publication and revocation change what they may see.
func TestListMatchesGet(t *testing.T) {
	wantLists := map[string][]string{
		"alice": {"1", "2", "4"}, "bob": {"1", "3", "4"}, "erin": {"1", "2", "4"}, "mo": {"1", "4"},
		"sam": {"1", "2", "3", "4"}, "rita": {"1", "3", "4"}, "root": {"1", "2", "3", "4"}, "": {"1", "4"},
	}
	for name, dsn := range backends(t) {
		t.Run(name, func(t *testing.T) {
			app, c := startApp(t, dsn)
			_, err := app.Seed(t.Context(), true)
			require.NoError(t, err)
			lists := func() map[string][]string {
				out := map[string][]string{}
				for _, u := range matrixUsers {
					status, body := c.do(u, "GET", "/posts", "")
					require.Equal(t, 200, status)
					var posts []Post
					require.NoError(t, json.Unmarshal(body, &posts))
					ids := []string{}
					for _, p := range posts {
						ids = append(ids, p.ID)
					}
					out[u] = ids
					// Every listed post is readable, every other one is not.
					for _, id := range []string{"1", "2", "3", "4", "5"} {
						st, _ := c.do(u, "GET", "/posts/"+id, "")
						require.Equal(t, slices.Contains(ids, id), st == 200, "user %q post %s: GET %d, listed %v", u, id, st, ids)
					}
				}
				return out
			}
			if diff := cmp.Diff(wantLists, lists()); diff != "" {
				t.Fatalf("lists after seeding (-want +got):\n%s", diff)
			}
			// alice writes post 5 and lets bob review it; erin publishes 2.
			status, _ := c.do("alice", "POST", "/posts", `{"title":"n","body":"","section":"life"}`)
			require.Equal(t, 201, status)
			status, _ = c.do("alice", "PUT", "/posts/5/reviewers/bob", "")
			require.Equal(t, 200, status)
			status, _ = c.do("erin", "POST", "/posts/2/publish", "")
			require.Equal(t, 200, status)
			status, _ = c.do("bob", "DELETE", "/posts/3/reviewers/rita", "")
			require.Equal(t, 200, status)
			want := map[string][]string{
				"alice": {"1", "2", "4", "5"}, "bob": {"1", "2", "3", "4", "5"}, "erin": {"1", "2", "4"}, "mo": {"1", "2", "4"},
				"sam": {"1", "2", "3", "4", "5"}, "rita": {"1", "2", "4"}, "root": {"1", "2", "3", "4", "5"}, "": {"1", "2", "4"},
			}
			if diff := cmp.Diff(want, lists()); diff != "" {
				t.Fatalf("lists after the changes (-want +got):\n%s", diff)
			}
		})
	}
}

// TestBadCredentials: a wrong password or an unknown user is a 401 with a
// challenge, never the anonymous view.
func TestBadCredentials(t *testing.T) {
	_, c := startApp(t, filepath.Join(t.TempDir(), "blog.db"))
	for _, auth := range [][2]string{{"alice", "nope"}, {"mallory", "x"}, {"", ""}} {
		req, err := http.NewRequestWithContext(context.Background(), "GET", c.base+"/posts", nil)
		require.NoError(t, err)
		req.SetBasicAuth(auth[0], auth[1])
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, http.StatusUnauthorized, resp.StatusCode, "%q", auth[0])
		require.Contains(t, resp.Header.Get("WWW-Authenticate"), "Basic")
	}
}
