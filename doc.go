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
// An application writes who holds what in one of two ways:
//
//   - Trusted code (seeding, migrations, back-office jobs, tests) uses the
//     Checker's write methods: [Checker.AssignRole], [Checker.SetRoleActive],
//     [Checker.RemoveRole], [Checker.Grant], [Checker.Revoke], or
//     [Checker.Apply] with a [Change]. Each is validated against the
//     policy (unknown roles and permissions, the wrong type, an invalid
//     Ref, an inactive new profile are errors) and none asks who is
//     writing. Writes that name no role or permission (memberships,
//     parents, deleting an object's grants) are the store's own methods;
//     [MemoryStore.Transact] applies several writes at once.
//   - Changes a user asks for (an admin page) go through a [Manager], which
//     validates the same way and authorizes the acting subject (below).
//
// The store's methods of the same names are the implementer's API, as
// database/sql/driver is: they store what they are given.
//
// # Managing roles and grants
//
// A [Manager] changes who holds what on behalf of an acting subject, under
// rules that stop privilege escalation, in the spirit of Kubernetes RBAC:
// bind only what you hold, where you hold it. The actor needs
// [PermManageRoles] (profiles, memberships, local roles) or
// [PermManageGrants] (permission grants) where the change applies, and it
// must hold every stake of the change at the change's scope
// ([ErrEscalation]). The stakes are the permissions the change can give or
// take away: the role's (Includes followed), everything a group holds for
// a membership, and every permission whose rule can turn because of the
// change (HasRole or PredProfile of a role it changes, InGroup of the
// group). A global change counts what the actor holds globally (global
// roles and global grants; never a type-level grant, never a rule run
// without an object), a change on a type adds grants on that type, and a
// change on an object counts a check on that object — but only in ways
// that reach the object's descendants too, unless
// [ManagerOptions].Children lists them (a bare [Ref] is judged as refusing
// global roles; [ManagerOptions].Object loads the application's object).
// Nobody changes their own access or a group they belong to
// ([ErrSelfChange]); only a superuser changes who holds a [Role] that is or
// includes a Protected one ([ErrProtected]), and such a role keeps at least
// one user with an active profile that does not expire ([ErrLastHolder]).
// Every attempt, applied or refused, emits one slog record and one
// [AuditEvent] to an optional hook. [Manager.Request] and [Manager.Approve]
// implement a promotion-request workflow: the approver passes the same
// rules on fresh state and on the object the Manager loads itself, and is
// not the requester. A change is checked and written atomically in a store
// that implements [Transactor] (MemoryStore, iamsql), which also
// serialises concurrent changes. The [Manager] type documents the rule in
// full, with an example of each refusal.
//
// # Access queries
//
// Beyond yes/no, three queries answer what list and admin pages need:
//
//   - [Checker.ListObjects]: the objects of a type a subject may do a
//     permission on (django-guardian's get_objects_for_user). The answer is
//     either All (superuser, a global role, a grant or local role on the
//     whole type or global; Why says which) or the sorted IDs of the
//     objects on which the subject or one of its groups holds the
//     permission through a grant or a local role, on the object or on an
//     ancestor the store records ([ParentStore]). It pages with
//     [ListOptions] After (a cursor: the last ID of the previous page) and
//     Limit, in byte order. A permission with a rule is listed as Partial:
//     a predicate cannot be enumerated, so candidate objects go through
//     [Filter], which checks each one. Ancestors that only the
//     application's objects know (their Parents method) and objects that
//     refuse global roles cannot be seen from the store: run those through
//     Filter too.
//   - [Checker.Holders]: every user and group holding any permission on
//     one object, with each [Path] (direct grant, local role, inherited
//     from an ancestor, type-level or global grant, global role), groups
//     optionally expanded to their members, superusers optionally added.
//   - [Checker.Perms]: the permissions a subject holds on an object, one
//     [Decision] with its reason each (guardian's get_perms).
//
// Stores answer them through optional interfaces: [ObjectLister] (the
// object IDs for an [ObjectQuery]), [MemberLister] (a group's members) and
// [RoleLister] (a role's profiles). The MemoryStore keeps sorted per-holder
// indexes, so listing 10,000 of 1,000,000 objects is a merge, not a scan;
// iamsql answers with one SQL query and also turns [Checker.AccessPlan]
// into a clause for the application's own list query (iamsql.AccessFilter).
// The iamtest.TestAccess suite requires Check, ListObjects and Holders to
// agree on every triple of a randomised fixture. Every error means "show
// nothing": the queries never return a partial answer with an error.
//
// # Concurrency
//
// A [Checker] is safe for concurrent use, and so is [MemoryStore]. The read
// path takes no global lock: MemoryStore reads load an immutable snapshot
// through an atomic pointer, so checks scale with cores. Writes are
// serialised and publish a new snapshot before they return: a write that
// returned without error is visible to the next check (no stale allow after
// a revocation or deactivation returns). [MemoryStore.Update] applies several
// writes atomically: checks see all of them or none.
//
// Store implementations must be safe for concurrent use and make a
// successful write visible to every later read. They should return the
// same [Holding] or [GrantSet] pointer for as long as the principal's or
// the ref's data does not change: the Checker attaches the compiled form
// of holdings and of large grant sets to them. Returning fresh values on
// every call is correct, only slower. iamtest.TestStore is the
// conformance suite every store runs, this package's MemoryStore included.
//
// The Checker reads every store the same way: through a [Snapshot], one
// per check. A store that implements [Snapshotter] (MemoryStore does)
// hands out immutable views, so a check sees a write entirely or not at
// all, and their [SnapshotFacts] let the Checker skip reads (no type or
// global grants, no parents, no role grants) and keep answers (a
// generation). Any other store is read through its own methods. A view is
// used only when it names the Checker's store, so a test double that
// embeds *MemoryStore and overrides Holding is read through its override.
//
// # Answer cache
//
// On a store whose snapshots carry a generation (MemoryStore's do),
// [Checker.HasPerm] and [Checker.Decide] remember what the store's roles
// and grants answered for a (user, permission, object) question in a
// fixed-size cache (Options.CacheSlots, 4096 by default,
// 192 KB), so the same question asked again costs a hash of the question
// and a few atomic loads, with no allocation. It cannot serve a stale
// answer: every write to the store makes every earlier answer unusable. Rules always run; superusers and
// inactive subjects are decided before the cache; and nothing is kept
// when the answer depends on more than the store (a profile with an
// expiry, groups from SubjectGroups, an object with a Parents method, an
// ancestry cut short, a failure, IDs over 120 bytes). Check and Explain
// always do the lookups; so does HasPerm on other stores, whose reads
// iamcache caches.
// Options{CacheSlots: -1} turns the cache off.
//
// # Errors and logging
//
// Checks fail closed: store errors, cancelled or expired contexts, rules
// that err and panics all deny, and Check returns the error. Errors are
// sentinels ([ErrUnknownPermission], [ErrWrongType], [ErrInvalid],
// [ErrPanic], [ErrTooDeep], [ErrDenied], ...) matched with [errors.Is],
// never by their text. HasPerm and HasPerms cannot return an error, so
// they log it: [Options].Logger (slog.Default() when nil) receives one
// record per permission per minute, with the count of those
// left out, so a misspelt permission in a template is seen, not silently
// denied.
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
// number of grants in the store: roles are compiled into bitsets attached
// to holdings, a small grant set is read entry by entry and a large one
// compiled once. The benchmarks are named after docs/contract.md
// (BenchmarkCheck/... for the hot loop, BenchmarkWorkload/... for the
// realistic mixes: many distinct questions over 1M grants, writes
// interleaved); benchmarks/README.md has the figures and the side-by-side
// comparison with casbin and OPA.
// Run them with
//
//	make bench
//
// and compare runs with benchstat.
package iam
