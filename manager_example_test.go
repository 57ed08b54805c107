package iam_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/iamgo/iam"
)

type staff struct {
	id    string
	super bool
}

func (s staff) SubjectID() string { return s.id }
func (s staff) IsSuperuser() bool { return s.super }

// A Manager hands out roles under anti-escalation rules and audits every
// attempt.
func ExampleManager() {
	ctx := context.Background()
	writer := &iam.Role{Name: "cms.writer", Perms: []string{"cms.edit"}}
	publisher := &iam.Role{Name: "cms.publisher", Perms: []string{"cms.edit", "cms.publish"}}
	hr := &iam.Role{Name: "cms.hr", Perms: []string{iam.PermManageRoles, "cms.edit"}}
	root := &iam.Role{Name: "cms.root", Perms: []string{"cms.edit", "cms.publish", iam.PermManageRoles}, Protected: true}
	store := iam.NewMemoryStore()
	checker, _ := iam.New(iam.Policy{Roles: []*iam.Role{writer, publisher, hr, root}}, store)
	_ = checker.AssignRole(ctx, iam.Profile{Holder: iam.User("hana"), Role: "cms.hr", Active: true})

	m := iam.NewManager(checker, iam.ManagerOptions{
		Logger: slog.New(slog.DiscardHandler),
		Audit: func(_ context.Context, e iam.AuditEvent) {
			fmt.Printf("audit: %s %s %s %s -> %s\n", e.Actor, e.Change.Kind, e.Change.Target(), e.Change.Profile.Role, e.Result)
		},
	})
	hana := staff{id: "hana"}
	err := m.AssignRole(ctx, hana, iam.Profile{Holder: iam.User("wes"), Role: "cms.writer", Active: true})
	fmt.Println("hana makes wes a writer:", err)
	err = m.AssignRole(ctx, hana, iam.Profile{Holder: iam.User("wes"), Role: "cms.publisher", Active: true})
	fmt.Println("hana makes wes a publisher:", errors.Is(err, iam.ErrEscalation))
	err = m.AssignRole(ctx, hana, iam.Profile{Holder: iam.User("hana"), Role: "cms.writer", Active: true})
	fmt.Println("hana changes her own roles:", errors.Is(err, iam.ErrSelfChange))
	err = m.AssignRole(ctx, staff{id: "ops", super: true}, iam.Profile{Holder: iam.User("wes"), Role: "cms.root", Active: true})
	fmt.Println("a superuser makes wes root:", err)
	err = m.RemoveRole(ctx, staff{id: "ops", super: true}, iam.User("wes"), "cms.root")
	fmt.Println("removing the last root:", errors.Is(err, iam.ErrLastHolder))
	// Output:
	// audit: hana put_profile user:wes cms.writer -> applied
	// hana makes wes a writer: <nil>
	// audit: hana put_profile user:wes cms.publisher -> refused
	// hana makes wes a publisher: true
	// audit: hana put_profile user:hana cms.writer -> refused
	// hana changes her own roles: true
	// audit: ops put_profile user:wes cms.root -> applied
	// a superuser makes wes root: <nil>
	// audit: ops delete_profile user:wes cms.root -> refused
	// removing the last root: true
}
