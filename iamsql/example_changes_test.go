package iamsql_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/iamgo/iam"
	"github.com/iamgo/iam/iamsql"
)

// A write's token, carried to the next request (on this replica or any
// other), makes its checks read that write; Watch streams the change log
// from a token.
func ExampleStore_Watch() {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "iamsql-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	store, err := iamsql.OpenSQLite(ctx, filepath.Join(dir, "app.db"))
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()
	checker, err := iam.New(iam.Policy{Perms: []iam.Perm{{Name: "doc.view", Types: []string{"doc"}}}}, store)
	if err != nil {
		log.Fatal(err)
	}

	start, err := store.Token(ctx)
	if err != nil {
		log.Fatal(err)
	}
	post := iam.Ref{Type: "doc", ID: "7"}
	if err := checker.Grant(ctx, iam.Grant{Holder: iam.User("ann"), Perm: "doc.view", On: post}); err != nil {
		log.Fatal(err)
	}
	tok, err := store.Token(ctx) // send it with the response
	if err != nil {
		log.Fatal(err)
	}

	// The next request, maybe on another replica, carries tok.
	next := iam.AtLeast(ctx, tok)
	fmt.Println("ann may view:", checker.HasPerm(next, exampleUser("ann"), "doc.view", post))

	stop := errors.New("seen")
	err = store.Watch(ctx, start, func(t iam.Token, changes []iamsql.Change) error {
		for _, c := range changes {
			fmt.Println(c.Op, c.Holder, c.Perm, c.On, t == tok)
		}
		return stop
	})
	fmt.Println(errors.Is(err, stop))
	// Output:
	// ann may view: true
	// grant user:ann doc.view doc:7 true
	// true
}
