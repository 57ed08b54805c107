// Command httpsqlite is the README's HTTP + SQLite example: a notes API
// whose grants live in an embedded SQLite file, guarded by iamhttp.
//
//	go run ./examples/httpsqlite   # serves on 127.0.0.1:8081
//	curl -H 'X-User: ann' 127.0.0.1:8081/notes/1
package main

import (
	"context"
	"log"
	"net/http"

	"github.com/iamgo/iam"
	"github.com/iamgo/iam/iamhttp"
	"github.com/iamgo/iam/iamsql"
)

func main() {
	h, err := setup(context.Background(), "notes.db")
	if err != nil {
		log.Fatal(err)
	}
	log.Fatal(http.ListenAndServe("127.0.0.1:8081", h))
}

// README:start
type User struct{ ID string }

func (u *User) SubjectID() string { return u.ID }

type Note struct{ ID, Owner string }

func (n *Note) ObjectRef() iam.Ref { return iam.Ref{Type: "note", ID: n.ID} }

func setup(ctx context.Context, path string) (http.Handler, error) {
	store, err := iamsql.OpenSQLite(ctx, path) // migrates on open
	if err != nil {
		return nil, err
	}
	isOwner := iam.Pred("is_owner", func(_ context.Context, u *User, n *Note) bool {
		return u != nil && n != nil && n.Owner != "" && n.Owner == u.ID // nil u: a visitor
	})
	checker, err := iam.New(iam.Policy{
		Perms: []iam.Perm{{Name: "note.read", Types: []string{"note"}}},
		Rules: map[string]iam.Predicate{"note.read": isOwner},
	}, store)
	if err != nil {
		return nil, err
	}
	// Bob may read note 1 too: a grant on one object, stored in SQLite.
	if err := checker.Grant(ctx, iam.Grant{Holder: iam.User("bob"), Perm: "note.read", On: iam.Ref{Type: "note", ID: "1"}}); err != nil {
		return nil, err
	}
	guard, err := iamhttp.New(iamhttp.Options{
		Checker: checker,
		Subject: func(r *http.Request) (iam.Subject, error) { // your authentication here
			if id := r.Header.Get("X-User"); id != "" {
				return &User{ID: id}, nil
			}
			return nil, nil // anonymous: 401 when denied
		},
	})
	if err != nil {
		return nil, err
	}
	notes := map[string]*Note{"1": {ID: "1", Owner: "ann"}}
	load := func(r *http.Request) (iam.Object, error) { return notes[r.PathValue("id")], nil } // nil: 404
	mux := http.NewServeMux()
	mux.Handle("GET /notes/{id}", guard.RequireObject("note.read", load)(http.HandlerFunc(
		func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("the note\n")) })))
	return mux, nil
}

// README:end
