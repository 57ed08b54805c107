package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

	"github.com/iamgo/iam"
	"github.com/iamgo/iam/iamsql"
)

// TestTour runs `go run ./examples/blog -tour` in-process: a fresh SQLite
// database, a server on a free port, every scripted request answered as
// scripted (the tour fails otherwise).
func TestTour(t *testing.T) {
	var out bytes.Buffer
	err := run(t.Context(), &out, options{tour: true})
	require.NoError(t, err, out.String())
	require.Contains(t, out.String(), fmt.Sprintf("tour: all %d requests answered as scripted", len(TourSteps)))
	require.Contains(t, out.String(), "sam (staff) on post 2: allowed blog.view_post: global role blog.reader held by group:staff")
	// A step with nothing to add (the 204) ends with its note, not "; ".
	require.Contains(t, out.String(), "      a moderator may (its grants go in the same transaction)\n")
	for _, line := range strings.Split(out.String(), "\n") {
		require.False(t, strings.HasSuffix(strings.TrimRight(line, " "), ";"), "line ends with a separator: %q", line)
	}
}

// TestTourDSN: the tour empties the database it runs on, so -tour -dsn
// refuses (exit status 2, the database untouched) unless -reset is given.
func TestTourDSN(t *testing.T) {
	for name, dsn := range backends(t) {
		t.Run(name, func(t *testing.T) {
			app, err := Open(t.Context(), dsn, slog.New(slog.DiscardHandler))
			require.NoError(t, err)
			_, err = app.Seed(t.Context(), true)
			require.NoError(t, err)
			_, err = app.db.ExecContext(t.Context(), `INSERT INTO blog_posts (id, owner, section, title, body, status)
				VALUES ('99', 'alice', 'tech', 'keep me', '', 'draft')`)
			require.NoError(t, err)
			require.NoError(t, app.Close())
			tests := []struct {
				name     string
				args     []string
				wantCode int
				wantOut  string // in stdout
				wantErr  string // in stderr
				kept     bool   // post 99 is still there afterwards
			}{
				{"-dsn without -reset is refused", []string{"-tour", "-dsn", dsn}, 2, "", "add -reset to confirm", true},
				{"flag order does not matter", []string{"-dsn", dsn, "-tour"}, 2, "", "would empty that database", true},
				{"-reset=false is refused", []string{"-tour", "-reset=false", "-dsn", dsn}, 2, "", "add -reset to confirm", true},
				{"-reset runs the tour on the database", []string{"-tour", "-dsn", dsn, "-reset"}, 0, fmt.Sprintf("tour: all %d requests answered as scripted", len(TourSteps)), "", false},
			}
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					var out, errOut bytes.Buffer
					code := cli(t.Context(), tt.args, &out, &errOut)
					require.Equal(t, tt.wantCode, code, "stdout:\n%s\nstderr:\n%s", out.String(), errOut.String())
					if tt.wantOut == "" {
						require.Empty(t, out.String())
					} else {
						require.Contains(t, out.String(), tt.wantOut)
					}
					require.Contains(t, errOut.String(), tt.wantErr)
					app, err := Open(t.Context(), dsn, slog.New(slog.DiscardHandler))
					require.NoError(t, err)
					defer app.Close()
					_, err = app.Post(t.Context(), "99")
					if tt.kept {
						require.NoError(t, err, "the database was changed")
					} else {
						require.ErrorIs(t, err, iam.ErrNotFound)
					}
				})
			}
		})
	}
	// Without -dsn the tour needs no -reset: a fresh temporary file.
	var out, errOut bytes.Buffer
	require.Equal(t, 0, cli(t.Context(), []string{"-tour"}, &out, &errOut), errOut.String())
}

// startedWriter collects the demo's output and cancels it once the server
// listens: the demo started.
type startedWriter struct {
	mu     sync.Mutex
	buf    bytes.Buffer
	cancel context.CancelFunc
}

func (w *startedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	n, err := w.buf.Write(p)
	if strings.Contains(w.buf.String(), "listening on ") {
		w.cancel()
	}
	return n, err
}

func (w *startedWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

// TestStartAfterDelete: the demo starts again after the API deleted sample
// posts; the matrix skips each missing one with a one-line note.
func TestStartAfterDelete(t *testing.T) {
	tests := []struct {
		name    string
		deleted []string
		want    []string // in the output
		notWant []string
	}{
		{"nothing deleted", nil,
			[]string{`post 1 "Hello, iam"`, `post 2 "Draft: Go 1.26"`, "rita (reader) on post 3: allowed"},
			[]string{"is not in the database"}},
		{"post 2 (the draft)", []string{"2"},
			[]string{`post 1 "Hello, iam"`, "post 2 is not in the database (deleted?): skipped; -reset seeds the sample posts again\n",
				"rita (reader) on post 3: allowed", "mo (moderator) on post 1: allowed"},
			[]string{`post 2 "`, "on post 2:"}},
		{"posts 1, 2 and 3", []string{"1", "2", "3"},
			[]string{"post 1 is not in the database", "post 2 is not in the database", "  post 3 is not in the database", "why:\n"},
			[]string{"on post 1:", "on post 2:", "on post 3:"}},
	}
	for name, dsn := range backends(t) {
		t.Run(name, func(t *testing.T) {
			app, c := startApp(t, dsn)
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					_, err := app.Seed(t.Context(), true)
					require.NoError(t, err)
					for _, id := range tt.deleted {
						status, _ := c.do("mo", "DELETE", "/posts/"+id, "")
						require.Equal(t, http.StatusNoContent, status)
					}
					ctx, cancel := context.WithCancel(t.Context())
					defer cancel()
					out := &startedWriter{cancel: cancel}
					var errOut bytes.Buffer
					code := cli(ctx, []string{"-dsn", dsn, "-addr", "127.0.0.1:0"}, out, &errOut)
					require.Equal(t, 0, code, "stdout:\n%s\nstderr:\n%s", out.String(), errOut.String())
					require.Contains(t, out.String(), "listening on ")
					for _, s := range tt.want {
						require.Contains(t, out.String(), s)
					}
					for _, s := range tt.notWant {
						require.NotContains(t, out.String(), s)
					}
					for _, id := range tt.deleted {
						require.Equal(t, 1, strings.Count(out.String(), "post "+id+" is not in the database"), "one note per missing post")
					}
				})
			}
		})
	}
}

// TestStoreDown (contract 20): a store failure is 503. The reviewer's
// repro: the app's database closed under the running server; the post
// loader's database error is a 503, not a 500.
func TestStoreDown(t *testing.T) {
	tests := []struct{ user, method, path string }{
		{"alice", "GET", "/posts/2"},
		{"", "GET", "/posts/2"},
		{"", "GET", "/posts/99"},
		{"alice", "PUT", "/posts/2"},
		{"erin", "POST", "/posts/2/publish"},
		{"alice", "GET", "/posts/2/holders"},
		{"alice", "PUT", "/posts/2/reviewers/rita"},
		{"sam", "GET", "/posts"},
	}
	for name, dsn := range backends(t) {
		t.Run(name, func(t *testing.T) {
			app, c := startApp(t, dsn)
			_, err := app.Seed(t.Context(), true)
			require.NoError(t, err)
			status, _ := c.do("alice", "GET", "/posts/2", "")
			require.Equal(t, http.StatusOK, status)
			require.NoError(t, app.Close())
			want, got := map[string]int{}, map[string]int{}
			for _, tt := range tests {
				key := tt.user + " " + tt.method + " " + tt.path
				want[key] = http.StatusServiceUnavailable
				got[key], _ = c.do(tt.user, tt.method, tt.path, "")
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("statuses with the database closed (-want +got):\n%s", diff)
			}
		})
	}
}

// TestChallenge (contract 20): every 401 carries the basic auth challenge
// (RFC 9110), from the guard as from the login check; other statuses do not.
func TestChallenge(t *testing.T) {
	app, c := startApp(t, filepath.Join(t.TempDir(), "blog.db"))
	_, err := app.Seed(t.Context(), true)
	require.NoError(t, err)
	tests := []struct {
		name, user, pass, method, path string
		wantStatus                     int
		want                           string
	}{
		{"anonymous, draft", "", "", "GET", "/posts/2", 401, `Basic realm="iam blog"`},
		{"anonymous, create", "", "", "POST", "/posts", 401, `Basic realm="iam blog"`},
		{"wrong password", "alice", "nope", "GET", "/posts", 401, `Basic realm="iam blog"`},
		{"anonymous, public post", "", "", "GET", "/posts/1", 200, ""},
		{"logged in, denied", "bob", "bob-pw", "GET", "/posts/2", 403, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequestWithContext(t.Context(), tt.method, c.base+tt.path, nil)
			require.NoError(t, err)
			if tt.user != "" {
				req.SetBasicAuth(tt.user, tt.pass)
			}
			resp, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			resp.Body.Close()
			require.Equal(t, tt.wantStatus, resp.StatusCode)
			if diff := cmp.Diff(tt.want, resp.Header.Get("WWW-Authenticate")); diff != "" {
				t.Errorf("WWW-Authenticate (-want +got):\n%s", diff)
			}
		})
	}
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
// database per cell, allowed and denied (docs/contract.md line 20: 401
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

// TestUnsupportedDSN: a -dsn URL of a database the blog does not speak is
// refused with exit status 2 and no file is created for it, instead of
// being taken for a SQLite file name; the password is not echoed.
func TestUnsupportedDSN(t *testing.T) {
	t.Chdir(t.TempDir())
	for _, dsn := range []string{"mysql://root:s3cret@127.0.0.1/blog", "sqlserver://sa:s3cret@db/blog"} {
		var out, errOut bytes.Buffer
		code := cli(t.Context(), []string{"-dsn", dsn, "-addr", "127.0.0.1:0"}, &out, &errOut)
		require.Equal(t, 2, code, "stderr: %s", errOut.String())
		require.Contains(t, errOut.String(), "unsupported database")
		require.NotContains(t, errOut.String(), "s3cret")
		entries, err := os.ReadDir(".")
		require.NoError(t, err)
		require.Empty(t, entries, "nothing created for %s", dsn)
	}
}
