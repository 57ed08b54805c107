// Package iamadmin is a mountable admin web UI for an iam.Checker and its
// Manager: the policy (roles, what they include, permissions, rules),
// principals (their profiles, memberships, grants and effective
// permissions), object permissions (who holds what on one object, and by
// which path, with grant and revoke forms), Explain (one check and every
// leaf of its rule), the audit trail and pending change requests.
//
//	h, err := iamadmin.New(checker, manager, iamadmin.Options{
//		Subject: signedIn, // func(*http.Request) iam.Subject: the application's signed-in user (nil: nobody)
//		Prefix:  "/admin/iam",
//	})
//	mux.Handle("/admin/iam/", h)
//
// Pages are rendered on the server with html/template, work without
// JavaScript and load nothing from other sites.
//
// # Security
//
//   - Deny by default: a request without a signed-in subject is 401 (after
//     Options.Challenge), and a subject who holds neither
//     iam.manage_roles nor iam.manage_grants (nor is a superuser) is 403 on
//     every page. Holding one of them only opens the pages: every change
//     goes through the Manager with the signed-in actor, whose
//     anti-escalation rules decide (docs/contract.md line 19), and a
//     refusal is shown on the form with the Manager's reason (403), never
//     as a 500. Forms offer only the roles the Manager would let the actor
//     assign.
//   - Every POST carries a CSRF token, an HMAC of the actor's ID under
//     Options.CSRFKey: a missing, forged or another actor's token is 403 and
//     nothing changes. No cookie is set.
//   - Output is escaped by html/template; pages carry a strict
//     Content-Security-Policy (no scripts, no inline styles, no framing),
//     nosniff and no-store.
//   - Superusers are hidden from non-superusers (a Directory entry's flag,
//     or the subject's IsSuperuser, says who they are): they are left out
//     of lists, and their pages, and any change or request naming them,
//     get the same 404 as a user the Directory does not know. With a
//     Directory the pages manage only the users it knows; the grants of a
//     user the application deleted are the application's to revoke.
//   - A store error is a 503 with a generic message; the detail goes to
//     Options.Logger only.
//
// Changes on an object are judged on the application's object, which the
// Manager loads with ManagerOptions.Object; without it a bare Ref refuses
// global roles, so an actor who manages through a global role cannot pass
// on permissions on objects (fail closed). Set ManagerOptions.Children too
// (see its documentation).
//
// Lists are paged with cursors. Without a Directory the principals page
// lists the holders of the policy's roles and their groups' members, which
// a RoleLister and MemberLister store can answer.
package iamadmin
