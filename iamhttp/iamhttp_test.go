package iamhttp_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/iamgo/iam"
	"github.com/iamgo/iam/iamhttp"
)

type user struct{ id string }

func (u *user) SubjectID() string { return u.id }

type post struct {
	id, owner string
	public    bool
}

func (p *post) ObjectRef() iam.Ref { return iam.Ref{Type: "blog.post", ID: p.id} }

var (
	editor   = &iam.Role{Name: "blog.editor", Perms: []string{"blog.view_post", "blog.change_post", "blog.add_post"}}
	isPublic = iam.Pred("is_public", func(_ context.Context, _ iam.Subject, p *post) bool { return p != nil && p.public })
	policy   = iam.Policy{
		Roles: []*iam.Role{editor, {Name: "blog.admin", Perms: []string{"blog.admin"}}},
		Perms: []iam.Perm{
			{Name: "blog.view_post", Types: []string{"blog.post"}}, {Name: "blog.change_post", Types: []string{"blog.post"}},
			{Name: "blog.add_post"}, {Name: "blog.delete_post", Types: []string{"blog.post"}}, {Name: "blog.admin"},
		},
		Rules: map[string]iam.Predicate{"blog.view_post": isPublic},
	}
	posts = map[string]*post{"1": {id: "1", owner: "ann", public: true}, "2": {id: "2", owner: "ann"}}
)

// fixture: a ServeMux app with model-level, object-level, per-method and
// admin routes; users from the X-User header (the app's authentication).
func fixture(t *testing.T, storeErr *error) (http.Handler, *bytes.Buffer) {
	t.Helper()
	ctx := context.Background()
	store := iam.NewMemoryStore()
	c, err := iam.New(policy, failing{store, storeErr})
	require.NoError(t, err)
	require.NoError(t, c.PutProfile(ctx, iam.Profile{Holder: iam.User("eve"), Role: "blog.editor", Active: true}))
	require.NoError(t, c.PutProfile(ctx, iam.Profile{Holder: iam.User("root"), Role: "blog.admin", Active: true}))
	logs := &bytes.Buffer{}
	g, err := iamhttp.New(iamhttp.Options{
		Checker: c,
		Logger:  slog.New(slog.NewTextHandler(logs, nil)),
		Subject: func(r *http.Request) (iam.Subject, error) {
			switch id := r.Header.Get("X-User"); id {
			case "":
				return nil, nil
			case "broken":
				return nil, errors.New("session store down")
			default:
				return &user{id: id}, nil
			}
		},
	})
	require.NoError(t, err)
	load := func(r *http.Request) (iam.Object, error) {
		if r.PathValue("id") == "boom" {
			return nil, errors.New("db down")
		}
		p, ok := posts[r.PathValue("id")]
		if !ok {
			return nil, iamhttp.ErrNotFound
		}
		return p, nil
	}
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, _ := iamhttp.SubjectFrom(r.Context())
		o, _ := iamhttp.ObjectFrom(r.Context())
		id := s.SubjectID()
		if id == "" {
			id = "anonymous"
		}
		obj := "-"
		if o != nil {
			obj = o.ObjectRef().String()
		}
		io.WriteString(w, "ok "+id+" "+obj)
	})
	mux := http.NewServeMux()
	mux.Handle("POST /posts", g.Require("blog.add_post")(ok))
	mux.Handle("/posts/{id}", g.ByMethod(map[string]string{
		"GET": "blog.view_post", "PUT": "blog.change_post", "DELETE": "blog.delete_post",
	}, load)(ok))
	mux.Handle("GET /view/{id}", g.RequireObject("blog.view_post", load)(ok))
	mux.Handle("/admin", g.Require("blog.admin")(ok))
	mux.Handle("GET /any", g.RequireAny("blog.admin", "blog.add_post")(ok))
	mux.Handle("GET /all", g.RequireAll("blog.admin", "blog.add_post")(ok))
	return mux, logs
}

// failing is a store whose reads fail while *err is set.
type failing struct {
	iam.Store
	err *error
}

func (f failing) Holding(ctx context.Context, p iam.Principal) (*iam.Holding, error) {
	if f.err != nil && *f.err != nil {
		return nil, *f.err
	}
	return f.Store.Holding(ctx, p)
}

// contract 20: statuses for every kind of request, and the body never
// tells why.
func TestStatuses(t *testing.T) {
	var storeErr error
	h, logs := fixture(t, &storeErr)
	tests := []struct {
		name, method, path, user string
		storeDown                bool
		want                     int
		body                     string
	}{
		{"anonymous may view a public post (rule)", "GET", "/posts/1", "", false, 200, "ok anonymous blog.post:1"},
		{"anonymous denied a draft: 401", "GET", "/posts/2", "", false, 401, ""},
		{"reader denied a draft: 403", "GET", "/posts/2", "bob", false, 403, ""},
		{"editor views a draft", "GET", "/posts/2", "eve", false, 200, "ok eve blog.post:2"},
		{"HEAD follows GET", "HEAD", "/posts/2", "eve", false, 200, ""},
		{"editor changes", "PUT", "/posts/2", "eve", false, 200, "ok eve blog.post:2"},
		{"editor may not delete", "DELETE", "/posts/2", "eve", false, 403, ""},
		{"method missing from the map: 405", "PATCH", "/posts/2", "eve", false, 405, ""},
		{"not found: 404", "GET", "/posts/9", "eve", false, 404, ""},
		{"not found even anonymous: 404", "GET", "/view/9", "", false, 404, ""},
		{"loader failure: 500", "GET", "/posts/boom", "eve", false, 500, ""},
		{"subject failure: 503", "GET", "/posts/1", "broken", false, 503, ""},
		{"store failure: 503", "PUT", "/posts/2", "eve", true, 503, ""},
		{"model level", "POST", "/posts", "eve", false, 200, "ok eve -"},
		{"model level denied", "POST", "/posts", "bob", false, 403, ""},
		{"admin", "GET", "/admin", "root", false, 200, "ok root -"},
		{"admin denied", "GET", "/admin", "eve", false, 403, ""},
		{"any of", "GET", "/any", "eve", false, 200, "ok eve -"},
		{"all of", "GET", "/all", "eve", false, 403, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.storeDown {
				storeErr = errors.New("disk on fire")
				defer func() { storeErr = nil }()
			}
			r := httptest.NewRequest(tt.method, tt.path, nil)
			if tt.user != "" {
				r.Header.Set("X-User", tt.user)
			}
			r.Header.Set("X-Request-Id", "req-"+tt.name)
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			require.Equal(t, tt.want, w.Code, w.Body.String())
			if tt.body != "" {
				require.Equal(t, tt.body, w.Body.String())
			}
			if tt.want >= 400 && tt.method != "HEAD" {
				// The body is the status text only: no reason leaks.
				require.Equal(t, http.StatusText(tt.want)+"\n", w.Body.String())
				require.Contains(t, logs.String(), "req-"+tt.name, "the reason is logged with the request ID")
			}
		})
	}
}

func TestJSONDeny(t *testing.T) {
	h, _ := fixture(t, nil)
	r := httptest.NewRequest("GET", "/admin", nil)
	r.Header.Set("X-User", "eve")
	r.Header.Set("Accept", "application/json")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	require.Equal(t, 403, w.Code)
	require.Equal(t, "application/json", w.Header().Get("Content-Type"))
	require.JSONEq(t, `{"error":"Forbidden"}`, w.Body.String())
}

// Path tricks never reach a guarded handler without its check: the router
// cleans, redirects or rejects them first.
func TestPathTricks(t *testing.T) {
	h, _ := fixture(t, nil)
	for _, path := range []string{
		"//admin", "/posts/../admin", "/posts/%2e%2e/admin", "/./admin", "/admin/", "/ADMIN", "/Admin",
		"/admin?x=1", "/posts/1/../../admin", "//posts/2", "/posts/2/", "/posts/%32",
	} {
		t.Run(path, func(t *testing.T) {
			r := httptest.NewRequest("GET", path, nil)
			r.Header.Set("X-User", "bob")
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			require.False(t, strings.HasPrefix(w.Body.String(), "ok"), "status %d, body %q", w.Code, w.Body.String())
		})
	}
}

// Misconfiguration fails at construction, never opens a route.
func TestConstruction(t *testing.T) {
	c, err := iam.New(policy, iam.NewMemoryStore())
	require.NoError(t, err)
	_, err = iamhttp.New(iamhttp.Options{Checker: c})
	require.Error(t, err, "no Subject")
	_, err = iamhttp.New(iamhttp.Options{Subject: func(*http.Request) (iam.Subject, error) { return nil, nil }})
	require.Error(t, err, "no Checker")
	g, err := iamhttp.New(iamhttp.Options{Checker: c, Subject: func(*http.Request) (iam.Subject, error) { return nil, nil }})
	require.NoError(t, err)
	for name, build := range map[string]func(){
		"no permission":       func() { g.Protect(iamhttp.Rule{}) },
		"undeclared":          func() { g.Require("blog.typo") },
		"empty RequireAll":    func() { g.RequireAll() },
		"nil loader":          func() { g.RequireObject("blog.view_post", nil) },
		"empty method map":    func() { g.ByMethod(nil, nil) },
		"lower-case method":   func() { g.ByMethod(map[string]string{"get": "blog.view_post"}, nil) },
		"undeclared in a map": func() { g.ByMethod(map[string]string{"GET": "blog.nope"}, nil) },
	} {
		require.Panics(t, build, name)
	}
}
