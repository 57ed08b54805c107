package main

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"
)

// TestNotes runs the README's HTTP + SQLite example: the owner and the
// grantee read note 1, another user is refused, a visitor must log in,
// a missing note is 404.
func TestNotes(t *testing.T) {
	h, err := setup(t.Context(), filepath.Join(t.TempDir(), "notes.db"))
	require.NoError(t, err)
	tests := []struct {
		user, path string
		want       int
	}{
		{"ann", "/notes/1", http.StatusOK},
		{"bob", "/notes/1", http.StatusOK},
		{"eve", "/notes/1", http.StatusForbidden},
		{"", "/notes/1", http.StatusUnauthorized},
		{"ann", "/notes/2", http.StatusNotFound},
	}
	for _, tc := range tests {
		r := httptest.NewRequest("GET", tc.path, nil)
		if tc.user != "" {
			r.Header.Set("X-User", tc.user)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		require.Equal(t, tc.want, w.Code, "%s GET %s: %s", tc.user, tc.path, w.Body)
	}
}

// TestReadmeShowsThisExample: the README's HTTP + SQLite block is this
// file's code between the README markers, so it cannot drift.
func TestReadmeShowsThisExample(t *testing.T) {
	src, err := os.ReadFile("main.go")
	require.NoError(t, err)
	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	require.NoError(t, err)
	want := between(t, string(src), "// README:start\n", "// README:end\n")
	got := between(t, string(readme), "<!-- http-sqlite:start -->\n```go\n", "```\n<!-- http-sqlite:end -->")
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("README block (-want +got), copy examples/httpsqlite/main.go's code:\n%s", diff)
	}
}

func between(t *testing.T, s, start, end string) string {
	t.Helper()
	i := strings.Index(s, start)
	require.GreaterOrEqual(t, i, 0, "no %q", start)
	s = s[i+len(start):]
	j := strings.Index(s, end)
	require.GreaterOrEqual(t, j, 0, "no %q", end)
	return strings.TrimSpace(s[:j]) + "\n"
}
