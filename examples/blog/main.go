// Command blog is the iam demo: a small blog's authorization model, checked
// in-process. It seeds the embedded memory store with roles held through
// profiles (an author with a pen name, an editor of some sections, a
// moderator), a staff group, a superuser, a reader and an anonymous visitor,
// then prints the access matrix: every user × action on two sample posts,
// allowed or denied, and why.
//
// The HTTP server, the SQLite default store and the scripted tour arrive
// with the iamhttp/blog issue; this first version shows the model.
package main

import (
	"context"
	"fmt"
	"os"
	"slices"
	"text/tabwriter"

	"github.com/iamgo/iam"
)

// User is the application's user.
type User struct {
	ID     string
	Name   string
	Super  bool
	Active bool
}

func (u *User) SubjectID() string { return u.ID }
func (u *User) IsSuperuser() bool { return u.Super }
func (u *User) IsActive() bool    { return u.Active }
func (u *User) String() string    { return u.Name }

// Post is a blog post in a section.
type Post struct {
	ID      string
	Owner   string
	Section string
	Public  bool
}

func (p *Post) ObjectRef() iam.Ref { return iam.Ref{Type: "blog.post", ID: p.ID} }

// EditorProfile is the data an editor's profile carries.
type EditorProfile struct {
	Sections []string `json:"sections"`
}

func main() {
	if err := run(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, "blog:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context) error {
	var (
		reader    = &iam.Role{Name: "blog.reader", Perms: []string{"blog.comment_post"}}
		author    = &iam.Role{Name: "blog.author", Perms: []string{"blog.add_post"}, Includes: []*iam.Role{reader}}
		editor    = &iam.Role{Name: "blog.editor", Includes: []*iam.Role{reader}}
		moderator = &iam.Role{Name: "blog.moderator", Includes: []*iam.Role{reader}}
		reviewer  = &iam.Role{Name: "blog.reviewer", Perms: []string{"blog.view_post"}}
	)
	isOwner := iam.Pred("is_owner", func(_ context.Context, u *User, p *Post) bool {
		return p != nil && p.Owner == u.ID
	})
	isPublic := iam.Pred("is_public", func(_ context.Context, _ iam.Subject, p *Post) bool {
		return p != nil && p.Public
	})
	editsSection := iam.PredProfile("edits_section", editor, func(_ context.Context, _ *User, p *Post, d EditorProfile) bool {
		return p != nil && slices.Contains(d.Sections, p.Section)
	})
	policy := iam.Policy{
		Roles: []*iam.Role{reader, author, editor, moderator, reviewer},
		Perms: []iam.Perm{
			{Name: "blog.view_post", Types: []string{"blog.post"}},
			{Name: "blog.comment_post", Types: []string{"blog.post"}},
			{Name: "blog.add_post", Types: []string{"blog.post"}},
			{Name: "blog.change_post", Types: []string{"blog.post"}},
			{Name: "blog.publish_post", Types: []string{"blog.post"}},
			{Name: "blog.delete_post", Types: []string{"blog.post"}},
		},
		Rules: map[string]iam.Predicate{
			// Public posts are visible to everyone; drafts to their owner
			// and to editors of their section (or a local reviewer).
			"blog.view_post":    iam.Or(isPublic, isOwner, editsSection),
			"blog.change_post":  iam.Or(iam.And(iam.HasRole(author), isOwner), editsSection),
			"blog.publish_post": editsSection,
			"blog.delete_post":  iam.Or(isOwner, iam.HasRole(moderator)),
		},
	}
	store := iam.NewMemoryStore()
	checker, err := iam.New(policy, store)
	if err != nil {
		return err
	}

	users := []*User{
		{ID: "1", Name: "alice (author)", Active: true},
		{ID: "2", Name: "erin (editor: tech)", Active: true},
		{ID: "3", Name: "mo (moderator)", Active: true},
		{ID: "4", Name: "rita (reader, staff)", Active: true},
		{ID: "5", Name: "root (superuser)", Active: true, Super: true},
		{ID: "", Name: "anonymous", Active: true},
	}
	seed := []iam.Profile{
		{Holder: iam.User("1"), Role: author.Name, Active: true, Data: []byte(`{"pen_name":"A. Writer"}`)},
		{Holder: iam.User("2"), Role: editor.Name, Active: true, Data: []byte(`{"sections":["tech"]}`)},
		{Holder: iam.User("3"), Role: moderator.Name, Active: true},
		{Holder: iam.Group("staff"), Role: reader.Name, Active: true},
	}
	for _, p := range seed {
		if err := checker.PutProfile(ctx, p); err != nil {
			return err
		}
	}
	if err := store.AddMember(ctx, "4", "staff"); err != nil {
		return err
	}
	posts := []*Post{
		{ID: "1", Owner: "1", Section: "tech", Public: true},
		{ID: "2", Owner: "1", Section: "tech"},
	}
	// rita reviews the draft: a local role on that post only.
	if err := checker.Grant(ctx, iam.Grant{Holder: iam.User("4"), Role: reviewer.Name, On: posts[1].ObjectRef()}); err != nil {
		return err
	}

	actions := []string{"blog.view_post", "blog.comment_post", "blog.change_post", "blog.publish_post", "blog.delete_post"}
	for _, post := range posts {
		state := "draft"
		if post.Public {
			state = "public"
		}
		fmt.Printf("post %s (%s, owner alice, section %s)\n", post.ID, state, post.Section)
		w := tabwriter.NewWriter(os.Stdout, 2, 4, 2, ' ', 0)
		for _, u := range users {
			fmt.Fprintf(w, "  %s", u)
			for _, a := range actions {
				d, err := checker.Check(ctx, u, a, post)
				mark := "deny "
				if d.Allowed {
					mark = "ALLOW"
				}
				if err != nil {
					mark = "ERROR"
				}
				fmt.Fprintf(w, "\t%s %s", mark, a[len("blog."):])
			}
			fmt.Fprintln(w)
		}
		w.Flush()
		fmt.Println()
	}
	fmt.Println("why:")
	for _, q := range []struct {
		u    *User
		perm string
		post *Post
	}{
		{users[3], "blog.view_post", posts[1]},
		{users[3], "blog.comment_post", posts[1]},
		{users[2], "blog.view_post", posts[1]},
		{users[1], "blog.publish_post", posts[1]},
		{users[0], "blog.publish_post", posts[1]},
		{users[5], "blog.view_post", posts[0]},
	} {
		d, err := checker.Check(ctx, q.u, q.perm, q.post)
		if err != nil {
			return err
		}
		fmt.Printf("  %s on post %s: %s\n", q.u, q.post.ID, d)
	}
	return nil
}
