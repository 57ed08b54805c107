// Package iam answers, in process and in nanoseconds, the question a Go
// application asks many times per request: may this user do this action, on
// this kind of thing, or on this particular thing?
//
// The authorization model is Go code, declared at start-up and reviewed in
// pull requests: roles ([Role]), permission declarations ([Perm]) and rules
// ([Predicate]) make up a [Policy]. Only who holds what (profiles, group
// memberships, grants) lives in a [Store]; [MemoryStore] is the embedded one
// and the iamsql subpackage keeps the same data in SQLite or PostgreSQL.
// [New] validates the policy (duplicate names, unknown or cyclic included
// roles, two predicates under one name, invalid rules are errors wrapping
// [ErrInvalidPolicy]) and returns a [Checker]:
//
//	checker, err := iam.New(policy, iam.NewMemoryStore())
//	ok := checker.HasPerm(ctx, user, "blog.change_post", post)
//	dec, err := checker.Check(ctx, user, "blog.change_post", post)
//
// The application's user type is a [Subject] (SubjectID, "" for anonymous;
// optionally IsActive, IsSuperuser and SubjectGroups) and its models are
// [Object] values (ObjectRef; optionally Parents and AcquireGlobalRoles).
// [Checker.HasPerm] is a yes or no; [Checker.Check] returns a [Decision]
// that says why, and an error when the check could not be decided;
// [Checker.Explain] lists every way the permission is held;
// [Checker.Require] returns an error wrapping [ErrDenied]. A nil object makes
// a model-level check ("may this user publish posts at all?").
//
// Check decides in this order (docs/contract.md numbers every rule and
// names the tests that hold it):
//
//  1. A permission the policy does not declare is denied with an error
//     wrapping [ErrUnknownPermission], even for superusers: typos never pass
//     silently.
//  2. A nil subject ([ReasonNoSubject]), or one whose IsActive() is false
//     ([ReasonInactive]), is denied everything, superusers included. A
//     typed nil (a nil *User in the interface) is bad input: a denial with
//     [ErrInvalid].
//  3. An active superuser (IsSuperuser() true) is allowed every declared
//     permission. An anonymous subject is never a superuser.
//  4. Otherwise the subject holds the permission if any of these holds: a
//     role held globally by the subject or one of its groups grants it
//     (unless the object refuses global roles); a role held locally on the
//     object or an ancestor, by the subject or a group, grants it; the
//     permission is granted directly to the subject or a group on the
//     object, an ancestor, the object's whole type or globally; or the
//     permission's rule evaluates true.
//  5. A model-level check (nil object) counts only global roles, global and
//     type-level grants (the types are the permission's declared types) and
//     rules.
//  6. An anonymous subject (SubjectID "") holds no stored roles or grants;
//     rules may still allow it, e.g. a public view rule.
//  7. A permission declared with Types is granted on, and checked against,
//     objects of those types only: granting it on another type fails with
//     [ErrWrongType], checking another type is a denial with that error.
//
// # Predicates
//
// A [Predicate] is a rule over the subject and the object of a check. Leaves
// are typed Go functions: [Pred] and [PredE] (with an error) type-assert the
// subject to S and the object to O. A nil object reaches the function as
// O's zero value, and an anonymous subject of another Go type (a visitor,
// such as iamhttp.Anonymous) as S's zero value, so with pointer types the
// function must expect nil for both: an owner rule compares IDs only when
// the user is not nil and the owner is set. A subject or object of another
// Go type makes the leaf false with an error wrapping [ErrWrongType].
// [PredProfile] reads the data of the subject's profile for a role.
// Built-in leaves are [HasRole], [InGroup], [IsAuthenticated],
// [IsSuperuser], [IsActive], [Always] and [Never]. A leaf runs at most once
// per check, however often it occurs; a panic in it denies with [ErrPanic].
//
// # Roles and profiles
//
// A [Role] bundles permissions, and Includes other roles: holding
// blog.editor can mean holding blog.author too. Roles are profiles: a
// principal ([User] or [Group]) holds a role globally iff the store holds a
// [Profile] for it that is Active and not past its ExpiresAt. Deactivating
// the profile removes every permission that came from the role, at once.
// A profile carries role-specific data as JSON (an editor's sections, a
// doctor's department), read with [ProfileData] or used in a rule with
// [PredProfile]. Writing a profile whose Active is false through the
// Checker or the Manager is an error ([ErrInvalid]): the zero value would
// grant nothing, silently; a stored profile is switched off with
// SetRoleActive.
//
// Roles are held globally (a profile, or a role granted on a whole type
// or globally) or locally: a [Grant] with a Role on one object holds on
// that object and its descendants only. Users hold what their groups hold;
// group memberships come from the store (its AddMember) and from the
// subject's SubjectGroups(). [HasRole] is true when the subject holds the
// role, or a role that includes it, in any of these ways.
//
// # Object permissions
//
// A [Grant] gives a permission, or a local role, to a user or a group, on a
// [Ref]:
//
//   - Ref{Type: "blog.post", ID: "42"}, or post.ObjectRef(): one object;
//   - [TypeScope]("blog.post"): every object of the type;
//   - [GlobalScope](): everything.
//
// The scopes have their own constructors so that none is reached by
// accident: the Ref of an object whose ID is not set yet (a post not
// saved) is invalid, not "every post", and a Grant without On is invalid,
// not global. Grants, checks and the Manager refuse invalid Refs with
// [ErrInvalid].
//
// Grants on an ancestor apply to the object. Ancestors come from the
// object's own Parents() method and, when the store implements
// [ParentStore] (MemoryStore and iamsql do), from the parents it records
// for each object (its SetParents), followed transitively: a post
// names its section, the store records that sections belong to the site.
// An object whose AcquireGlobalRoles() returns false refuses global roles;
// grants, and roles granted on it or on its ancestors, still apply.
//
// Permissions are declared implicitly or strictly. When Policy.Perms is
// empty, every permission a role grants or a rule is keyed by is declared,
// with no type restriction. When Policy.Perms is not empty it is the
// complete list: a role or rule naming anything else makes New fail, which
// catches typos at start-up. A [Perm] with Types (one generic action for
// several types) applies to objects of those types only. The permissions
// [PermManageRoles] and [PermManageGrants] are always declared.
//
// Where the seed systems differ, this package does the following:
//
//   - A model-level check of a permission declared for several types counts
//     a type-level grant on any of them.
//   - A role granted on a whole type or globally counts as a global role
//     ([ReasonGlobalRole]): an object that refuses global roles refuses
//     those too.
//   - [Checker.HasPerms] with an empty list is false: asking for nothing
//     grants nothing.
//   - Ancestry is followed 25 levels deep, or
//     [Options.MaxDepth] (at most 64), and one check looks at no more than
//     4,096 refs (the object, its ancestors, the type refs and the global
//     ref): a bound on the work of one check, far above real hierarchies. A
//     check that finds no allowing path and was cut short is denied with an
//     error wrapping [ErrTooDeep], never decided on part of the ancestry.
//     Access queries follow the same depth; the 4,096-ref bound is the one
//     thing they do not apply (a store's walk down from a granted object
//     cannot see how wide each object's whole ancestry is), so an object
//     with more than 4,093 ancestors is denied by Check but can be listed.
//   - Profiles and grants that name a role or permission the policy does not
//     know grant nothing (a store written directly is not validated).
//
// # Writing: trusted and authorized
//
// Trusted code (seeding, migrations, jobs, tests) writes through the
// Checker: [Checker.AssignRole], [Checker.SetRoleActive],
// [Checker.RemoveRole], [Checker.Grant], [Checker.Revoke] or
// [Checker.Apply], each validated against the policy and none asking who
// writes; memberships, parents and DeleteGrantsOn, which name no role or
// permission, are the store's own methods. Changes a user asks for go
// through a [Manager], which also authorizes the actor.
//
// # Managing roles and grants
//
// A [Manager] changes who holds what on behalf of an acting subject, under
// rules that stop privilege escalation, in the spirit of Kubernetes RBAC:
// bind only what you hold, where you hold it. The actor needs
// [PermManageRoles] or [PermManageGrants] where the change applies and
// must hold every stake of the change at its scope ([ErrEscalation]);
// nobody changes their own access ([ErrSelfChange]); Protected roles keep
// a lasting holder ([ErrLastHolder]) and only superusers change who holds
// them ([ErrProtected]). Every attempt is logged and audited
// ([AuditEvent]); [Manager.Request] and [Manager.Approve] are a
// promotion-request workflow. In a [Transactor] store the check and the
// write are one transaction. The [Manager] type states the rules in full;
// the iamadmin subpackage is an admin web UI over it.
//
// # Access queries
//
// Beyond yes or no: [Checker.ListObjects] lists the objects of a type a
// subject may act on (django-guardian's get_objects_for_user; All, or
// sorted IDs paged with a cursor, Partial when a rule cannot be
// enumerated, then [Filter]), [Checker.Holders] lists who holds what on
// one object and by which [Path], and [Checker.Perms] the permissions a
// subject holds on an object, each with its reason. Stores answer them
// through optional interfaces ([ObjectLister], [MemberLister],
// [RoleLister]); iamsql also turns [Checker.AccessPlan] into a clause of
// the application's own list query. iamtest.TestAccess requires Check,
// ListObjects and Holders to agree on every triple of a randomised
// fixture. Any error means "show nothing": no query returns a partial
// answer with an error.
//
// # Concurrency
//
// A [Checker] is safe for concurrent use, and so is [MemoryStore]. The read
// path takes no global lock: MemoryStore reads load an immutable snapshot
// through an atomic pointer, so checks scale with cores. Writes are
// serialised and publish a new snapshot before they return, so a write
// that returned is visible to the next check (no stale allow after a
// revocation); [MemoryStore.Transact] applies several writes at once.
//
// Every store is read through a [Snapshot], one per check: a
// [Snapshotter] store (MemoryStore) hands out immutable views whose
// [SnapshotFacts] let the Checker skip reads and keep answers; any other
// store is read through its own methods. Store implementations must be
// safe for concurrent use, make a successful write visible to every later
// read, and should return the same [Holding] or [GrantSet] pointer while
// the data does not change (the Checker attaches compiled forms to them).
// iamtest.TestStore is the conformance suite every store runs.
//
// Across processes sharing one database, a [Tokener] store (iamsql) names
// each state of its data with a [Token]: a check under [AtLeast](ctx,
// token) reads state at least that new on every process, so a request
// that carries the token of a write (or of a revocation) is answered
// consistently wherever it lands.
//
// # Answer cache
//
// On a store whose snapshots carry a generation (MemoryStore's do),
// [Checker.HasPerm] and [Checker.Decide] keep what the stored roles and
// grants answered for a (user, permission, object) question in a
// fixed-size cache ([Options].CacheSlots, 4096 slots of 48 bytes by
// default), so the question asked again costs a hash and a few atomic
// loads. It cannot serve a stale answer: every write retires every earlier
// one. Rules always run; nothing is kept when the answer depends on more
// than the store (a profile with an expiry, SubjectGroups, an object's
// Parents method, an ancestry cut short, a failure, IDs over 120 bytes).
//
// # Errors and logging
//
// Checks fail closed: store errors, cancelled contexts, rules that err and
// panics all deny, and Check returns the error, a sentinel matched with
// [errors.Is]. HasPerm cannot return it, so [Options].Logger receives one
// record per permission per minute: a misspelt permission in a template
// is seen, not silently denied.
//
// # Security
//
// Access is denied by default: nothing is allowed unless a role, a grant or
// a rule allows it. An unknown permission is an error even for a
// superuser. A nil or inactive subject gets nothing, superuser or not.
// Anonymous subjects hold no stored roles or grants and are never
// superusers. Nobody changes their own access through a Manager, and
// nobody gives more than they hold.
//
// # Performance
//
// A warm check allocates nothing, and its cost does not grow with the
// number of grants: roles are compiled into bitsets attached to holdings,
// a small grant set is read entry by entry and a large one compiled once.
// benchmarks/README.md has the figures of BenchmarkCheck (the hot loop)
// and BenchmarkWorkload (distinct questions over 1,000,000 grants, writes
// interleaved), beside casbin and OPA; run them with make bench.
package iam
