package iamadmin_test

import (
	"context"
	"fmt"
	"log"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/iamgo/iam"
	"github.com/iamgo/iam/iamadmin"
)

// An application mounts the admin pages under a prefix of its own router,
// with its own sign-in.
func Example() {
	ctx := context.Background()
	manage := &iam.Role{Name: "site.manager", Perms: []string{iam.PermManageRoles, iam.PermManageGrants}}
	checker, err := iam.New(iam.Policy{Roles: []*iam.Role{manage}}, iam.NewMemoryStore())
	if err != nil {
		log.Fatal(err)
	}
	if err := checker.AssignRole(ctx, iam.Profile{Holder: iam.User("mia"), Role: manage.Name, Active: true}); err != nil {
		log.Fatal(err)
	}
	audit := iamadmin.NewAuditLog(0)
	manager := iam.NewManager(checker, iam.ManagerOptions{Audit: audit.Record, Logger: slog.New(slog.DiscardHandler)})

	h, err := iamadmin.New(checker, manager, iamadmin.Options{
		// The application's sign-in: here a header, in a real app a session.
		Subject: func(r *http.Request) iam.Subject {
			if id := r.Header.Get("X-User"); id != "" {
				return &user{id: id}
			}
			return nil
		},
		Challenge: func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("WWW-Authenticate", `Basic realm="admin"`)
		},
		Prefix: "/admin/iam",
		Audit:  audit,
	})
	if err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/admin/iam/", h)

	for _, who := range []string{"", "ann", "mia"} {
		req := httptest.NewRequest("GET", "/admin/iam/policy", nil)
		req.Header.Set("X-User", who)
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, req)
		fmt.Printf("%q: %d %v\n", who, rec.Code, strings.Contains(rec.Body.String(), "site.manager"))
	}
	// Output:
	// "": 401 false
	// "ann": 403 false
	// "mia": 200 true
}
