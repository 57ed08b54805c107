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
	_ = checker.PutProfile(context.Background(), iam.Profile{Holder: iam.User("wes"), Role: "wiki.writer", Active: true})

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
