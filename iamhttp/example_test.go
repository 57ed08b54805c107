package iamhttp_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/iamgo/iam"
	"github.com/iamgo/iam/iamhttp"
)

func Example() {
	writer := &iam.Role{Name: "wiki.writer", Perms: []string{"wiki.edit"}}
	checker, _ := iam.New(iam.Policy{Roles: []*iam.Role{writer}}, iam.NewMemoryStore())
	_ = checker.AssignRole(context.Background(), iam.Profile{Holder: iam.User("wes"), Role: "wiki.writer", Active: true})

	guard, _ := iamhttp.New(iamhttp.Options{
		Checker: checker,
		Logger:  slog.New(slog.DiscardHandler),
		Subject: func(r *http.Request) (iam.Subject, error) { // the app's authentication
			if id := r.Header.Get("X-User"); id != "" {
				return &user{id: id}, nil
			}
			return nil, nil
		},
	})
	mux := http.NewServeMux()
	mux.Handle("POST /pages", guard.Require("wiki.edit")(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "saved")
	})))

	for _, who := range []string{"wes", "bob", ""} {
		r := httptest.NewRequest("POST", "/pages", nil)
		r.Header.Set("X-User", who)
		w := httptest.NewRecorder()
		mux.ServeHTTP(w, r)
		fmt.Printf("%q: %d %s\n", who, w.Code, strings.TrimSpace(w.Body.String()))
	}
	// Output:
	// "wes": 200 saved
	// "bob": 403 Forbidden
	// "": 401 Unauthorized
}

// page is a wiki page; drafts are for their author only.
type page struct {
	id, author string
	draft      bool
}

func (p *page) ObjectRef() iam.Ref { return iam.Ref{Type: "wiki.page", ID: p.id} }

// A rule typed on the application's user type decides for visitors too
// (they reach it as a nil *user), and with HideForbidden a draft someone may
// not read is answered like a page that does not exist, so that probing IDs
// does not reveal drafts.
func ExampleOptions_hideForbidden() {
	canRead := iam.Pred("can_read", func(_ context.Context, u *user, p *page) bool {
		return !p.draft || u != nil && u.id == p.author
	})
	checker, _ := iam.New(iam.Policy{
		Perms: []iam.Perm{{Name: "wiki.read", Types: []string{"wiki.page"}}},
		Rules: map[string]iam.Predicate{"wiki.read": canRead},
	}, iam.NewMemoryStore())
	pages := map[string]*page{"home": {id: "home", author: "wes"}, "plans": {id: "plans", author: "wes", draft: true}}

	guard, _ := iamhttp.New(iamhttp.Options{
		Checker:       checker,
		Logger:        slog.New(slog.DiscardHandler),
		HideForbidden: true,
		Subject: func(r *http.Request) (iam.Subject, error) {
			if id := r.Header.Get("X-User"); id != "" {
				return &user{id: id}, nil
			}
			return nil, nil
		},
	})
	load := func(r *http.Request) (iam.Object, error) {
		if p, ok := pages[r.PathValue("id")]; ok {
			return p, nil
		}
		return nil, iamhttp.ErrNotFound
	}
	mux := http.NewServeMux()
	mux.Handle("GET /pages/{id}", guard.RequireObject("wiki.read", load)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "page "+r.PathValue("id"))
	})))

	for _, req := range []struct{ who, id string }{{"", "home"}, {"", "plans"}, {"", "nosuch"}, {"bob", "plans"}, {"wes", "plans"}} {
		r := httptest.NewRequest("GET", "/pages/"+req.id, nil)
		r.Header.Set("X-User", req.who)
		w := httptest.NewRecorder()
		mux.ServeHTTP(w, r)
		fmt.Printf("%q %s: %d %s\n", req.who, req.id, w.Code, strings.TrimSpace(w.Body.String()))
	}
	// Output:
	// "" home: 200 page home
	// "" plans: 404 Not Found
	// "" nosuch: 404 Not Found
	// "bob" plans: 404 Not Found
	// "wes" plans: 200 page plans
}
