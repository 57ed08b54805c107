package iamhttp_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

	"github.com/iamgo/iam"
	"github.com/iamgo/iam/iamhttp"
)

// member is an application user type that rules are typed on; it may say
// it is a superuser, which only counts when it has an ID.
type member struct {
	id    string
	super bool
}

func (m *member) SubjectID() string { return m.id }
func (m *member) IsSuperuser() bool { return m.super }

type doc struct {
	id, owner string
	public    bool
}

func (d *doc) ObjectRef() iam.Ref { return iam.Ref{Type: "wiki.doc", ID: d.id} }

// foreignDoc names a wiki.doc but is not a *doc.
type foreignDoc struct{}

func (foreignDoc) ObjectRef() iam.Ref { return iam.Ref{Type: "wiki.doc", ID: "alien"} }

// seenSubjects records, per leaf, which subject a typed rule received, so
// that a test can prove a visitor arrives as a nil *member.
type seenSubjects struct {
	mu   sync.Mutex
	seen []string
}

func (s *seenSubjects) add(leaf string, m *member) {
	who := "nil"
	if m != nil {
		who = "member " + m.id
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if e := leaf + ": " + who; !slices.Contains(s.seen, e) {
		s.seen = append(s.seen, e)
	}
}

func (s *seenSubjects) take() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := s.seen
	s.seen = nil
	return out
}

// wiki is an app whose rules are typed on its own user type (*member) and
// object type (*doc), the way an application writes them, with no special
// case for visitors other than a nil *member.
type wiki struct {
	h        http.Handler
	logs     *bytes.Buffer
	seen     *seenSubjects
	storeErr *error
}

var wikiDocs = map[string]*doc{
	"pub":     {id: "pub", owner: "ann", public: true},
	"private": {id: "private", owner: "ann"},
}

func wikiFixture(t *testing.T, opts ...func(*iamhttp.Options)) wiki {
	t.Helper()
	seen := &seenSubjects{}
	canView := iam.Pred("can_view", func(_ context.Context, u *member, d *doc) bool {
		seen.add("can_view", u)
		return d.public || u != nil && u.id == d.owner
	})
	isOwner := iam.Pred("is_owner", func(_ context.Context, u *member, d *doc) bool {
		seen.add("is_owner", u)
		return u != nil && u.id == d.owner
	})
	isMember := iam.Pred("is_member", func(_ context.Context, u *member, _ iam.Object) bool {
		seen.add("is_member", u)
		return u != nil
	})
	isVisitor := iam.Pred("is_visitor", func(_ context.Context, u *member, _ iam.Object) bool {
		seen.add("is_visitor", u)
		return u == nil
	})
	pol := iam.Policy{
		Roles: []*iam.Role{{Name: "wiki.janitor", Perms: []string{"wiki.delete"}}},
		Perms: []iam.Perm{
			{Name: "wiki.view", Types: []string{"wiki.doc"}}, {Name: "wiki.edit", Types: []string{"wiki.doc"}},
			{Name: "wiki.delete", Types: []string{"wiki.doc"}}, {Name: "wiki.create"}, {Name: "wiki.register"},
		},
		Rules: map[string]iam.Predicate{
			"wiki.view": canView, "wiki.edit": isOwner, "wiki.create": isMember, "wiki.register": isVisitor,
		},
	}
	var storeErr error
	// The checker's own report of a swallowed error would only repeat the
	// Guard's record.
	c, err := iam.NewWithOptions(pol, failing{iam.NewMemoryStore(), &storeErr}, iam.Options{Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	require.NoError(t, c.AssignRole(context.Background(), iam.Profile{Holder: iam.User("dee"), Role: "wiki.janitor", Active: true}))
	logs := &bytes.Buffer{}
	o := iamhttp.Options{
		Checker: c,
		Logger:  slog.New(slog.NewTextHandler(logs, nil)),
		Subject: func(r *http.Request) (iam.Subject, error) {
			switch id := r.Header.Get("X-User"); id {
			case "":
				return nil, nil
			case "typed-nil":
				var m *member
				return m, nil
			case "app-visitor": // the app's own visitor value: no ID
				return &member{}, nil
			case "visitor-claiming-root": // no ID, so not a superuser
				return &member{super: true}, nil
			case "root":
				return &member{id: "root", super: true}, nil
			default:
				return &member{id: id}, nil
			}
		},
	}
	for _, opt := range opts {
		opt(&o)
	}
	g, err := iamhttp.New(o)
	require.NoError(t, err)
	load := func(r *http.Request) (iam.Object, error) {
		switch id := r.PathValue("id"); id {
		case "db-down":
			return nil, iamhttp.ErrUnavailable
		case "alien": // a wiki.doc of a Go type the rules are not typed on: a checker fault
			return foreignDoc{}, nil
		default:
			d, ok := wikiDocs[id]
			if !ok {
				return nil, iamhttp.ErrNotFound
			}
			return d, nil
		}
	}
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })
	mux := http.NewServeMux()
	mux.Handle("POST /docs", g.Require("wiki.create")(ok))
	mux.Handle("POST /register", g.Require("wiki.register")(ok))
	mux.Handle("POST /start", g.Protect(iamhttp.Rule{Perms: []string{"wiki.create", "wiki.register"}, Any: true})(ok))
	mux.Handle("GET /view/{id}", g.RequireObject("wiki.view", load)(ok))
	mux.Handle("/docs/{id}", g.ByMethod(map[string]string{
		"GET": "wiki.view", "PUT": "wiki.edit", "DELETE": "wiki.delete",
	}, load)(ok))
	mux.Handle("/review/{id}", g.Protect(iamhttp.Rule{Perms: []string{"wiki.view", "wiki.edit"}, Loader: load})(ok))
	return wiki{h: mux, logs: logs, seen: seen, storeErr: &storeErr}
}

func (a wiki) do(method, path, user string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, path, nil)
	if user != "" {
		r.Header.Set("X-User", user)
	}
	w := httptest.NewRecorder()
	a.h.ServeHTTP(w, r)
	return w
}

// contract 11, contract 20: a rule typed on the application's user type
// decides for visitors, who reach it as a nil *member, instead of failing
// the check with ErrWrongType (a 500); a denied visitor gets 401, a denied
// user 403, through Require, RequireObject, ByMethod and Protect alike.
func TestTypedRulesDecideForVisitors(t *testing.T) {
	tests := []struct {
		name, method, path, user string
		want                     int
		seen                     []string // what the typed leaves received
	}{
		{"Require: visitor denied is 401", "POST", "/docs", "", 401, []string{"is_member: nil"}},
		{"Require: typed-nil subject denied is 401", "POST", "/docs", "typed-nil", 401, []string{"is_member: nil"}},
		{"Require: member allowed", "POST", "/docs", "bob", 200, []string{"is_member: member bob"}},
		{"Require: rule allows visitors", "POST", "/register", "", 200, []string{"is_visitor: nil"}},
		{"Require: member denied a visitors' rule is 403", "POST", "/register", "bob", 403, []string{"is_visitor: member bob"}},
		{"RequireObject: visitor sees a public doc", "GET", "/view/pub", "", 200, []string{"can_view: nil"}},
		{"RequireObject: visitor denied a private doc is 401", "GET", "/view/private", "", 401, []string{"can_view: nil"}},
		{"RequireObject: owner sees a private doc", "GET", "/view/private", "ann", 200, []string{"can_view: member ann"}},
		{"RequireObject: other member denied is 403", "GET", "/view/private", "bob", 403, []string{"can_view: member bob"}},
		{"ByMethod GET: visitor sees a public doc", "GET", "/docs/pub", "", 200, []string{"can_view: nil"}},
		{"ByMethod HEAD: visitor sees a public doc", "HEAD", "/docs/pub", "", 200, []string{"can_view: nil"}},
		{"ByMethod PUT: visitor denied is 401", "PUT", "/docs/pub", "", 401, []string{"is_owner: nil"}},
		{"ByMethod PUT: owner allowed", "PUT", "/docs/pub", "ann", 200, []string{"is_owner: member ann"}},
		{"ByMethod PUT: other member denied is 403", "PUT", "/docs/pub", "bob", 403, []string{"is_owner: member bob"}},
		{"ByMethod DELETE (no rule): visitor denied is 401", "DELETE", "/docs/pub", "", 401, nil},
		{"Protect all of: visitor denied is 401", "GET", "/review/pub", "", 401, []string{"can_view: nil", "is_owner: nil"}},
		{"Protect all of: owner allowed", "GET", "/review/private", "ann", 200, []string{"can_view: member ann", "is_owner: member ann"}},
		{"Protect any of: visitor allowed by the visitors' rule", "POST", "/start", "", 200, []string{"is_member: nil", "is_visitor: nil"}},
		{"Protect any of: member allowed", "POST", "/start", "bob", 200, []string{"is_member: member bob"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := wikiFixture(t)
			w := a.do(tt.method, tt.path, tt.user)
			require.Equal(t, tt.want, w.Code, w.Body.String())
			got := a.seen.take()
			slices.Sort(got)
			if diff := cmp.Diff(tt.seen, got); diff != "" {
				t.Errorf("subjects the typed rules received (-want +got):\n%s", diff)
			}
			require.NotContains(t, a.logs.String(), "ErrWrongType")
			require.NotContains(t, a.logs.String(), "wants subject")
		})
	}
}

// contract 2, contract 6, contract 20: any subject without an ID is
// anonymous, whether the Guard made it (Anonymous) or the application did
// (its own visitor value): it is never a superuser, holds nothing stored,
// and its denials are 401 with the challenge; a user's are 403 without.
func TestAnonymousDenialIs401(t *testing.T) {
	const basic = `Basic realm="wiki"`
	tests := []struct {
		name, method, path, user string
		want                     int
	}{
		{"Anonymous, role-only permission", "DELETE", "/docs/pub", "", 401},
		{"app visitor value, typed rule", "PUT", "/docs/pub", "app-visitor", 401},
		{"app visitor value, visitors' rule is for nil only", "POST", "/register", "app-visitor", 401},
		{"visitor claiming superuser is not one", "DELETE", "/docs/pub", "visitor-claiming-root", 401},
		{"visitor claiming superuser, model level", "POST", "/register", "visitor-claiming-root", 401},
		{"superuser with an ID is one", "DELETE", "/docs/pub", "root", 200},
		{"role holder allowed", "DELETE", "/docs/pub", "dee", 200},
		{"member without the role: 403", "DELETE", "/docs/pub", "bob", 403},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := wikiFixture(t, func(o *iamhttp.Options) { o.Challenge = basic })
			w := a.do(tt.method, tt.path, tt.user)
			require.Equal(t, tt.want, w.Code, w.Body.String())
			wantChallenge := ""
			if tt.want == http.StatusUnauthorized {
				wantChallenge = basic
			}
			if diff := cmp.Diff(wantChallenge, w.Header().Get("WWW-Authenticate")); diff != "" {
				t.Errorf("WWW-Authenticate (-want +got):\n%s", diff)
			}
		})
	}
}

// contract 11: a typed rule fed an object of another Go type is still a
// checker fault (500), for visitors too: only an anonymous subject's type is
// forgiven, never the object's.
func TestTypedRuleWrongObjectStillFails(t *testing.T) {
	for _, user := range []string{"", "bob"} {
		a := wikiFixture(t)
		w := a.do("GET", "/view/alien", user)
		require.Equal(t, http.StatusInternalServerError, w.Code, "user %q", user)
		require.Contains(t, a.logs.String(), "level=ERROR")
		require.Contains(t, a.logs.String(), "wrong type")
	}
}
