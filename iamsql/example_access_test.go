package iamsql_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/iamgo/iam"
	"github.com/iamgo/iam/iamsql"
)

// exampleUser is the application's user type in ExampleAccessFilter.
type exampleUser string

func (u exampleUser) SubjectID() string { return string(u) }

// A list page as one query: the application's own SELECT over its posts
// table, with the AccessFilter clause keeping the posts the user may view
// (grants on a post, or a local role on its section).
func ExampleAccessFilter() {
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

	reader := &iam.Role{Name: "blog.reader", Perms: []string{"blog.view_post"}}
	checker, err := iam.New(iam.Policy{
		Roles: []*iam.Role{reader},
		Perms: []iam.Perm{{Name: "blog.view_post", Types: []string{"blog.post"}}},
	}, store)
	if err != nil {
		log.Fatal(err)
	}

	// The application's table lives in the same database as the iam tables.
	db := store.DB()
	if _, err := db.ExecContext(ctx, `CREATE TABLE posts (id TEXT PRIMARY KEY, section TEXT NOT NULL, title TEXT NOT NULL)`); err != nil {
		log.Fatal(err)
	}
	news := iam.Ref{Type: "blog.section", ID: "news"}
	for _, p := range []struct{ id, section, title string }{
		{"1", "news", "Launch day"},
		{"2", "news", "Release notes"},
		{"3", "drafts", "Secret plans"},
		{"4", "drafts", "Budget"},
	} {
		if _, err := db.ExecContext(ctx, `INSERT INTO posts (id, section, title) VALUES (?1, ?2, ?3)`, p.id, p.section, p.title); err != nil {
			log.Fatal(err)
		}
		// Record each post's section, so grants on a section reach its posts.
		ref := iam.Ref{Type: "blog.post", ID: p.id}
		if err := store.SetParents(ctx, ref, []iam.Ref{{Type: "blog.section", ID: p.section}}); err != nil {
			log.Fatal(err)
		}
	}
	// Ann reads the news section; Bob may view post 4 only.
	for _, g := range []iam.Grant{
		{Holder: iam.User("ann"), Role: "blog.reader", On: news},
		{Holder: iam.User("bob"), Perm: "blog.view_post", On: iam.Ref{Type: "blog.post", ID: "4"}},
	} {
		if err := checker.Grant(ctx, g); err != nil {
			log.Fatal(err)
		}
	}

	for _, u := range []exampleUser{"ann", "bob"} {
		// The page's own parameter is ?1; the clause's start at ?2.
		f, err := iamsql.AccessFilter(ctx, checker, u, "blog.view_post",
			iamsql.FilterOptions{Type: "blog.post", Column: "id", FirstArg: 2})
		if err != nil {
			log.Fatal(err) // show nothing
		}
		rows, err := db.QueryContext(ctx,
			`SELECT id, title FROM posts WHERE title <> ?1 AND `+f.SQL+` ORDER BY id`,
			append([]any{""}, f.Args...)...)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("%s sees:\n", u)
		for rows.Next() {
			var id, title string
			if err := rows.Scan(&id, &title); err != nil {
				log.Fatal(err)
			}
			fmt.Printf("  %s %s\n", id, title)
		}
		if err := rows.Err(); err != nil {
			log.Fatal(err)
		}
		rows.Close()
	}
	// Output:
	// ann sees:
	//   1 Launch day
	//   2 Release notes
	// bob sees:
	//   4 Budget
}
