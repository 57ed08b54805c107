package iamhttp_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
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
func fixture(t *testing.T, storeErr *error, opts ...func(*iamhttp.Options)) (http.Handler, *bytes.Buffer) {
	t.Helper()
	ctx := context.Background()
	store := iam.NewMemoryStore()
	c, err := iam.New(policy, failing{store, storeErr})
	require.NoError(t, err)
	require.NoError(t, c.AssignRole(ctx, iam.Profile{Holder: iam.User("eve"), Role: "blog.editor", Active: true}))
	require.NoError(t, c.AssignRole(ctx, iam.Profile{Holder: iam.User("root"), Role: "blog.admin", Active: true}))
	logs := &bytes.Buffer{}
	o := iamhttp.Options{
		Checker: c,
		Logger:  slog.New(slog.NewTextHandler(logs, nil)),
		Subject: func(r *http.Request) (iam.Subject, error) {
			switch id := r.Header.Get("X-User"); id {
			case "":
				return nil, nil
			case "broken":
				return nil, errors.New("session store down")
			case "typed-nil":
				var u *user // a typed nil: a non-nil iam.Subject holding a nil *user
				return u, nil
			default:
				return &user{id: id}, nil
			}
		},
	}
	for _, opt := range opts {
		opt(&o)
	}
	g, err := iamhttp.New(o)
	require.NoError(t, err)
	load := func(r *http.Request) (iam.Object, error) {
		switch r.PathValue("id") {
		case "boom":
			return nil, errors.New("bug in the loader")
		case "db-down":
			return nil, fmt.Errorf("loading post: %w: %w", iamhttp.ErrUnavailable, errors.New("sql: database is closed"))
		case "typed-nil":
			var p *post // a typed nil: a non-nil iam.Object holding a nil *post
			return p, nil
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
	mux.Handle("/edit/{id}", g.ByMethod(map[string]string{"PUT": "blog.change_post", "DELETE": "blog.delete_post"}, load)(ok))
	mux.Handle("/head/{id}", g.ByMethod(map[string]string{"GET": "blog.view_post", "HEAD": "blog.change_post"}, load)(ok))
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

// contract 20: statuses for every kind of request (a store failure in the
// loader is 503, a typed-nil object 404, a typed-nil subject anonymous), and
// the body never tells why.
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
		{"loader store failure (ErrUnavailable): 503", "GET", "/posts/db-down", "eve", false, 503, ""},
		{"loader store failure, anonymous: 503", "GET", "/view/db-down", "", false, 503, ""},
		{"typed-nil object: 404", "GET", "/posts/typed-nil", "eve", false, 404, ""},
		{"typed-nil object, anonymous: 404", "GET", "/view/typed-nil", "", false, 404, ""},
		{"typed-nil object on a denied method: 404", "DELETE", "/posts/typed-nil", "eve", false, 404, ""},
		{"typed-nil subject is anonymous: public post", "GET", "/posts/1", "typed-nil", false, 200, "ok anonymous blog.post:1"},
		{"typed-nil subject is anonymous: draft 401", "GET", "/posts/2", "typed-nil", false, 401, ""},
		{"typed-nil subject, model level: 401", "POST", "/posts", "typed-nil", false, 401, ""},
		{"typed-nil subject, typed-nil object: 404", "GET", "/posts/typed-nil", "typed-nil", false, 404, ""},
		{"typed-nil subject, 405", "PATCH", "/posts/1", "typed-nil", false, 405, ""},
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

// contract 20: a 405 lists the methods the map serves in Allow, HEAD
// included when GET is there (HEAD is served with GET's permission).
func TestAllow(t *testing.T) {
	h, _ := fixture(t, nil)
	tests := []struct{ name, path, want string }{
		{"GET in the map adds HEAD", "/posts/1", "DELETE, GET, HEAD, PUT"},
		{"no GET, no HEAD", "/edit/1", "DELETE, PUT"},
		{"HEAD in the map is listed once", "/head/1", "GET, HEAD"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("PATCH", tt.path, nil)
			r.Header.Set("X-User", "eve")
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			require.Equal(t, http.StatusMethodNotAllowed, w.Code)
			if diff := cmp.Diff(tt.want, w.Header().Get("Allow")); diff != "" {
				t.Errorf("Allow (-want +got):\n%s", diff)
			}
		})
	}
	// HEAD really is served where Allow says so.
	r := httptest.NewRequest("HEAD", "/posts/1", nil)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	require.Equal(t, http.StatusOK, w.Code)
}

// contract 20: a 401 carries Options.Challenge in WWW-Authenticate (RFC
// 9110 §11.6.1); other statuses, and a Guard without a Challenge, do not.
func TestChallenge(t *testing.T) {
	const basic = `Basic realm="blog"`
	withChallenge := func(o *iamhttp.Options) { o.Challenge = basic }
	customDeny := func(o *iamhttp.Options) {
		o.Challenge = basic
		o.Deny = func(w http.ResponseWriter, r *http.Request, status int) { w.WriteHeader(status) }
	}
	tests := []struct {
		name       string
		opt        func(*iamhttp.Options)
		path, user string
		accept     string
		wantStatus int
		want       string // WWW-Authenticate
	}{
		{"anonymous denied: challenged", withChallenge, "/posts/2", "", "", 401, basic},
		{"anonymous denied, JSON: challenged", withChallenge, "/posts/2", "", "application/json", 401, basic},
		{"typed-nil subject denied: challenged", withChallenge, "/posts/2", "typed-nil", "", 401, basic},
		{"custom Deny: still challenged", customDeny, "/posts/2", "", "", 401, basic},
		{"authenticated denied: 403, no challenge", withChallenge, "/posts/2", "bob", "", 403, ""},
		{"not found: no challenge", withChallenge, "/posts/9", "", "", 404, ""},
		{"allowed: no challenge", withChallenge, "/posts/1", "", "", 200, ""},
		{"no Challenge configured: no header", func(*iamhttp.Options) {}, "/posts/2", "", "", 401, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, _ := fixture(t, nil, tt.opt)
			r := httptest.NewRequest("GET", tt.path, nil)
			if tt.user != "" {
				r.Header.Set("X-User", tt.user)
			}
			if tt.accept != "" {
				r.Header.Set("Accept", tt.accept)
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			require.Equal(t, tt.wantStatus, w.Code)
			if diff := cmp.Diff(tt.want, w.Header().Get("WWW-Authenticate")); diff != "" {
				t.Errorf("WWW-Authenticate (-want +got):\n%s", diff)
			}
		})
	}
}

// contract 20: a loader wraps ErrUnavailable to say its store is down
// (503); the error still reaches the log, not the body.
func TestErrUnavailable(t *testing.T) {
	h, logs := fixture(t, nil)
	r := httptest.NewRequest("GET", "/posts/db-down", nil)
	r.Header.Set("X-User", "eve")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	require.Equal(t, http.StatusServiceUnavailable, w.Code)
	require.Equal(t, "Service Unavailable\n", w.Body.String())
	require.Contains(t, logs.String(), "sql: database is closed")
	require.Contains(t, logs.String(), "level=ERROR")
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
	// A challenge that would split the header is refused.
	_, err = iamhttp.New(iamhttp.Options{Checker: c, Subject: func(*http.Request) (iam.Subject, error) { return nil, nil },
		Challenge: "Basic realm=\"x\"\r\nSet-Cookie: a=b"})
	require.Error(t, err, "Challenge with CR LF")
}
