package iam_test

import (
	"context"
	"fmt"

	"github.com/iamgo/iam"
)

// A list page: the posts a user may view, one page at a time. Grants on a
// section reach the posts recorded under it.
func ExampleChecker_ListObjects() {
	ctx := context.Background()
	store := iam.NewMemoryStore()
	reader := &iam.Role{Name: "blog.reader", Perms: []string{"blog.view_post"}}
	c, _ := iam.New(iam.Policy{Roles: []*iam.Role{reader}}, store)

	news := iam.Ref{Type: "blog.section", ID: "news"}
	for _, id := range []string{"3", "4", "5"} {
		_ = store.SetParents(ctx, iam.Ref{Type: "blog.post", ID: id}, []iam.Ref{news})
	}
	_ = c.Grant(ctx, iam.Grant{Holder: iam.User("ann"), Perm: "blog.view_post", On: iam.Ref{Type: "blog.post", ID: "1"}})
	_ = c.Grant(ctx, iam.Grant{Holder: iam.User("ann"), Role: "blog.reader", On: news})
	_ = c.AssignRole(ctx, iam.Profile{Holder: iam.User("root"), Role: "blog.reader", Active: true})

	after := ""
	for {
		page, err := c.ListObjects(ctx, &User{ID: "ann"}, "blog.view_post", "blog.post", iam.ListOptions{After: after, Limit: 2})
		if err != nil {
			fmt.Println("show nothing:", err)
			return
		}
		fmt.Println("page:", page.IDs)
		if page.Next == "" {
			break
		}
		after = page.Next
	}
	all, _ := c.ListObjects(ctx, &User{ID: "root"}, "blog.view_post", "blog.post", iam.ListOptions{})
	fmt.Println("root:", all.All, all.Why)
	// Output:
	// page: [1 3]
	// page: [4 5]
	// root: true allowed blog.view_post: global role blog.reader held by user:root
}

// Who may do what on one post, and how.
func ExampleChecker_Holders() {
	ctx := context.Background()
	store := iam.NewMemoryStore()
	editor := &iam.Role{Name: "blog.editor", Perms: []string{"blog.view_post", "blog.change_post"}}
	c, _ := iam.New(iam.Policy{Roles: []*iam.Role{editor}}, store)
	post := iam.Ref{Type: "blog.post", ID: "1"}
	_ = store.AddMember(ctx, "bob", "staff")
	_ = c.Grant(ctx, iam.Grant{Holder: iam.Group("staff"), Role: "blog.editor", On: post})
	_ = c.Grant(ctx, iam.Grant{Holder: iam.User("ann"), Perm: "blog.view_post", On: post})

	hl, _ := c.Holders(ctx, post, iam.HoldersOptions{ExpandGroups: true})
	for _, h := range hl.Holders {
		fmt.Println(h.Principal, h.Perms)
		for _, p := range h.Paths {
			fmt.Println("   ", p.Reason, p.Role, "held by", p.Via, "on", p.On)
		}
	}
	// Output:
	// user:ann [blog.view_post]
	//     grant  held by user:ann on blog.post:1
	// user:bob [blog.change_post blog.view_post]
	//     local role blog.editor held by group:staff on blog.post:1
	// group:staff [blog.change_post blog.view_post]
	//     local role blog.editor held by group:staff on blog.post:1
}

// Every permission a user holds on a post, with the reason for each.
func ExampleChecker_Perms() {
	ctx := context.Background()
	store := iam.NewMemoryStore()
	editor := &iam.Role{Name: "blog.editor", Perms: []string{"blog.view_post", "blog.change_post"}}
	c, _ := iam.New(iam.Policy{Roles: []*iam.Role{editor}}, store)
	post := iam.Ref{Type: "blog.post", ID: "1"}
	_ = c.Grant(ctx, iam.Grant{Holder: iam.User("ann"), Role: "blog.editor", On: post})

	ds, _ := c.Perms(ctx, &User{ID: "ann"}, post)
	for _, d := range ds {
		fmt.Println(d)
	}
	// Output:
	// allowed blog.change_post: local role blog.editor held by user:ann on blog.post:1
	// allowed blog.view_post: local role blog.editor held by user:ann on blog.post:1
}
