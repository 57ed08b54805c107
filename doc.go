// Package iam answers, in process and in nanoseconds, the question a Go
// application asks many times per request: may this user do this action, on
// this kind of thing, or on this particular thing?
//
// The authorization model is Go code, declared at start-up and reviewed in
// pull requests: roles ([Role]), permission declarations ([Perm]) and rules
// ([Predicate]) make up a [Policy]. Only who holds what (profiles, group
// memberships, grants) lives in a [Store]; [MemoryStore] is the embedded one.
// [New] validates the policy (duplicate names, unknown or cyclic included
// roles, invalid rules are errors wrapping [ErrInvalidPolicy]) and returns a
// [Checker]:
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
// Check decides in this order:
//
//  1. A permission the policy does not declare is denied with an error
//     wrapping [ErrUnknownPermission], even for superusers: typos never pass
//     silently.
//  2. A nil subject, or one whose IsActive() is false, is denied everything,
//     superusers included.
//  3. An active superuser (IsSuperuser() true) is allowed every declared
//     permission.
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
// subject to S and the object to O; a nil object reaches the function as O's
// zero value, and a subject or object of another Go type makes the leaf false
// with an error wrapping [ErrWrongType]. [PredProfile] reads the data of the
// subject's profile for a role. Built-in leaves are [HasRole], [InGroup],
// [IsAuthenticated], [IsSuperuser], [IsActive], [Always] and [Never].
//
// Leaves combine with [And], [Or], [Not] and [Xor], and print as an
// expression:
//
//	isOwner := iam.Pred("is_owner", func(ctx context.Context, u *User, p *Post) bool {
//		return p != nil && p.OwnerID == u.ID
//	})
//	rule := iam.Or(iam.HasRole(editor), iam.And(iam.HasRole(author), isOwner))
//	rule.String() // "(has_role:blog.editor | (has_role:blog.author & is_owner))"
//
// A rule in Policy.Rules is one more way to hold its permission; it is
// evaluated when no role or grant gives it.
//
//   - And stops at the first false, Or at the first true; Xor (true when an
//     odd number of its predicates are) evaluates them all. Not(Not(p)) is p
//     and prints as p.
//   - A predicate is true, false or an error; there is no "skip" value. Or
//     is true if any branch is true, else an error if any branch erred; And
//     is false if any branch is false, else an error if any branch erred; Not
//     and Xor pass errors on. An error that reaches the top denies the
//     check, and Check returns it.
//   - A panic anywhere in a check, in a predicate or in a subject or object
//     method, is recovered: the whole check is denied with an error wrapping
//     [ErrPanic].
//   - Within one check a leaf that occurs several times runs at most once;
//     its result is reused. [Decision.Leaves] reports what each leaf of the
//     rule returned, and which were never run.
//   - [InGroup] requires membership in every group named. A subject's
//     groups are its stored memberships plus what SubjectGroups() returns.
//   - [PredProfile] reads only the subject's own live profile for the role:
//     a role held through a group or through another role's Includes has no
//     personal data, so the leaf is false there. Data that does not decode
//     is an error. Decoded data is cached with the stored profile.
//
// Predicates are immutable and safe for concurrent use; the functions given
// to Pred, PredE and PredProfile must be too.
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
// [PredProfile].
//
// Roles are held globally (a profile, or, see below, a role granted on a
// whole type or globally) or locally: a [Grant] with a Role on one object
// holds on that object and its descendants only. Users hold what their
// groups hold; group memberships come from the store
// ([ProfileStore.AddMember]) and from the subject's SubjectGroups().
// [HasRole] is true when the subject holds the role, or a role that includes
// it, in any of these ways.
//
// # Object permissions
//
// A [Grant] gives a permission, or a local role, to a user or a group, on a
// [Ref]:
//
//   - Ref{Type: "blog.post", ID: "42"}: one object;
//   - TypeScope("blog.post"): every object of the type;
//   - GlobalScope(): everything.
//
// Grants on an ancestor apply to the object. Ancestors come from the
// object's own Parents() method and, when the store implements
// [ParentStore] (MemoryStore does), from the parents it records for each
// ref, followed transitively: a post names its section, the store records
// that sections belong to the site. An object whose AcquireGlobalRoles()
// returns false refuses global roles; grants, and roles granted on it or on
// its ancestors, still apply.
//
// Permissions are declared implicitly or strictly. When Policy.Perms is
// empty, every permission a role grants or a rule is keyed by is declared,
// with no type restriction. When Policy.Perms is not empty it is the
// complete list: a role or rule naming anything else makes New fail, which
// catches typos at start-up. A [Perm] with Types (one generic action for
// several types) applies to objects of those types only. The permissions
// [PermManageRoles] and [PermManageGrants] are always declared.
//
// The behaviour the design leaves open is settled as follows:
//
//   - A model-level check of a permission declared for several types counts
//     a type-level grant on any of them.
//   - A role granted on a whole type (TypeScope) or globally (GlobalScope()) counts
//     as a global role ([ReasonGlobalRole]): an object that refuses global
//     roles refuses those too.
//   - [Checker.HasPerms] with an empty list is false: asking for nothing
//     grants nothing.
//   - Ancestry is followed [DefaultMaxDepth] (25) levels deep, or
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
//     know grant nothing.
//   - [Checker.Grant] and [Checker.PutProfile] are the validated, trusted
//     write path (seeding, migrations, tests): they reject unknown roles and
//     permissions and grants on the wrong type, but do not ask who is
//     writing. Writing to the store directly is not validated.
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
// The Checker attaches the compiled form of what a store returns to the
// returned [Holding] and [GrantSet], so a warm check costs a few pointer
// loads. Stores should therefore return the same pointer for as long as the
// principal's or the ref's data does not change; returning fresh values on
// every call is correct, only slower. Store implementations must be safe for
// concurrent use and make a successful write visible to every later read.
//
// # Answer cache
//
// On a [MemoryStore], [Checker.HasPerm] keeps the answers of the store's
// roles and grants in a fixed-size answer cache (Options.CacheSlots,
// [DefaultCacheSlots] by default, 256 KB), so asking the same
// question again (the same user, permission and object) costs a hash or
// two and a few atomic loads instead of the lookups: about 40-50 ns,
// allocation free. The cache cannot serve a stale answer: every write to the store
// publishes a new snapshot with a new generation number, answers are kept
// under the generation they were computed on, and after any write (a
// revoked grant, a deleted or deactivated profile, a removed membership, new
// parents) no earlier answer matches. The next check after a write does the
// lookups again.
//
// What else a check depends on is never cached: a superuser or inactive
// subject is decided before the cache; rules always run (a cached "no" from
// the store is followed by the permission's rule, as on every check; the
// slot keeps the user's profiles of that snapshot, so the rule's HasRole
// needs no lookup); and
// no answer is kept when a profile with an expiry took part (the clock
// decides it), when the subject's SubjectGroups returned any group, when
// the object has a Parents method (whatever it returns), when the ancestry
// was cut short (ErrTooDeep) or when anything failed. A cache slot holds
// the question and the generation: a short question (user, type and ID of
// at most 24 bytes together, as with numeric IDs) whole, compared exactly;
// a longer one as a 128-bit key (the question hashed with two random
// seeds), where a wrong answer would need two independent 64-bit hashes of
// two different questions to collide together. Slots are read without a
// lock; a check that finds its slot being filled by another goroutine does
// the lookups instead. Check and Explain, which report how a decision was
// reached, always do the lookups; so does HasPerm on other stores (their
// reads are cached by iamcache). Options{CacheSlots: -1} turns the cache
// off.
//
// Other stores live in subpackages, so importing iam compiles no
// third-party code: iamsql keeps the same data in SQLite or PostgreSQL
// (with LISTEN/NOTIFY invalidation across processes), iamcache puts an
// allocation-free read cache in front of any Store, and iamtest.TestStore is
// the conformance suite every store (this package's MemoryStore included)
// runs.
//
// # Security
//
// Access is denied by default: nothing is allowed unless a role, a grant or
// a rule allows it. Checks fail closed: store errors, cancelled or expired
// contexts, rules that err and panics all deny, and Check returns the error.
// An unknown permission is an error even for a superuser. A nil or inactive
// subject gets nothing, superuser or not. Anonymous subjects hold no stored
// roles or grants. Errors are sentinels ([ErrUnknownPermission],
// [ErrWrongType], [ErrPanic], [ErrTooDeep], [ErrDenied], ...) matched with
// [errors.Is], never by their text.
//
// # Performance
//
// A warm check allocates nothing. Roles and grants are compiled into
// per-holding bitsets (permissions held, roles held, Includes followed)
// attached to what the store returns, so a check is a few map lookups and
// bit tests, and its cost does not grow with the number of grants in the
// store; a repeated HasPerm question is answered by the answer cache.
// Rules are compiled by New into leaf tests with jumps (the short-circuit
// code of And, Or and Not; a rule with Xor or more than 64 distinct leaves
// keeps the tree walk), so a rule
// check runs its leaves without walking a tree; the leaves and their order
// are the tree walk's (docs/contract.md lines 8 and 12), and a leaf error hands
// the rule to the tree walk to decide which error wins (contract 9). The
// benchmarks are named after docs/contract.md so that results compare across
// versions: BenchmarkCheck/global_role, BenchmarkCheck/object_grant_1k,
// BenchmarkCheck/object_grant_1M, BenchmarkCheck/rule and
// BenchmarkCheck/parallel (each also as _uncached, the answer cache off:
// the cost of the lookups). Run them with
//
//	make bench
//
// and compare runs with benchstat.
package iam
