// Package iamtest holds test helpers for package iam, chief among them
// TestStore, a conformance suite that any iam.Store implementation can run,
// in the manner of testing/slogtest and testing/fstest.
//
// # Running the suite
//
// A store author calls TestStore from an ordinary test, with a function
// that returns a new, empty store:
//
//	func TestConformance(t *testing.T) {
//		iamtest.TestStore(t, func(t *testing.T) iam.Store {
//			db := openTestDatabase(t) // a fresh schema; dropped by t.Cleanup
//			return mystore.New(db)
//		})
//	}
//
// TestStore runs one named subtest per behaviour (select them with -run,
// e.g. -run 'TestConformance/Contract15'), and calls newStore once at the
// start of every subtest, and of every nested table subtest, from that
// subtest's goroutine: no state carries over from one subtest to the next.
// Subtests run one after another; the suite never calls t.Parallel, so
// newStore may share one database server as long as each store it returns
// starts empty. The suite uses t.Context() for its calls, so a test's
// context is cancelled when it ends. It is written to pass under
// go test -race.
//
// # What it checks
//
// Every read and write of iam.ProfileStore and iam.ObjectPermStore, and of
// iam.ParentStore when the store implements it (the subtests that need it
// are skipped otherwise):
//
//   - Holding of an unknown principal is (nil, nil) or an empty Holding.
//     PutProfile creates and replaces the profile for (holder, role); every
//     field round-trips. SetProfileActive changes Active only, and wraps
//     iam.ErrNotFound for a missing profile. DeleteProfile of a missing
//     profile is not an error. AddMember and RemoveMember are idempotent,
//     and the groups are listed by Holding(iam.User(id)).Groups(). Groups
//     hold profiles (group roles). iam.User("x") and iam.Group("x") are
//     different principals. A returned Holding does not change afterwards.
//   - Grants of an unknown Ref is nil or empty. Grant is idempotent (one
//     entry however often granted) and Revoke too; a permission grant and a
//     local-role grant of the same name are two entries; grants on an
//     object, a whole type (TypeScope(t)) and globally (GlobalScope()) are kept
//     apart, and Grants returns those on exactly the Ref asked (not on the
//     type, a parent or another object). DeleteGrantsOn removes every grant
//     on exactly one Ref. A returned GrantSet does not change afterwards.
//   - SetParents replaces and (with nil or an empty list) clears the
//     recorded parents; Parents keeps their order.
//   - The docs/contract.md contract lines that rest on the store, through an
//     iam.Checker over it: 4a (global roles through active, unexpired
//     profiles, of the user or its groups), 4b (local roles on the object
//     and, with a ParentStore, on its ancestors), 4c (direct grants on the
//     object, the type and globally, to the user or its groups), 5
//     (model-level checks), 6 (anonymous subjects hold nothing stored), 7
//     (iam.ErrWrongType) and 15 (every write is visible to the next check:
//     no stale allow after Revoke, SetProfileActive(false), DeleteProfile,
//     RemoveMember or DeleteGrantsOn returns). Subtests are named after
//     the line they cover.
//   - Identifiers: IDs are compared and kept exactly. "Admin" and "admin"
//     are different users, groups, roles, permissions, types and objects,
//     and so are strings that differ only in Unicode normalisation, width,
//     trailing spaces or invisible characters. Unicode, emoji, quotes,
//     separators (":", "/"), SQL wildcards ("%", "_"), backslashes, control
//     characters and 1000-byte IDs round-trip in every position, and keys
//     built from several IDs never collide (Ref{Type: "a:b", ID: "c"} is
//     not Ref{Type: "a", ID: "b:c"}; Ref{Type: "a", ID: "*"} is not
//     TypeScope("a")).
//   - Contexts: a call with an already cancelled or expired context may
//     succeed or fail, but a write that returns an error must not have
//     happened (not even in part), and one that returns nil must have.
//   - Concurrency: writers and readers (including a Checker) in parallel
//     leave exactly the expected state. A volume test writes a few thousand
//     records (a few hundred with -short).
//
// # What the suite takes as the contract
//
// Where the interfaces leave room, the suite accepts either reading:
//
//   - Order is not part of the contract: profiles, groups and grants are
//     compared sorted. Parents keep the order given to SetParents.
//   - ExpiresAt is compared as an instant to within a microsecond: a store
//     may drop the location and the digits below the microsecond (by
//     truncation or rounding). The zero time must read back as zero.
//   - Data is compared as JSON: nil and empty are both "no data", and valid
//     JSON compares by value, so a store may normalise whitespace and key
//     order (as PostgreSQL jsonb does).
//   - An empty result may be nil or empty: a nil *iam.Holding, a Holding
//     with no profiles or groups, a nil or empty *iam.GrantSet, a nil or
//     empty parents slice.
//   - IDs never contain NUL bytes and are valid UTF-8; the suite does not
//     test what a store does with others (it may reject them).
//   - Invalid arguments (an empty ID, a grant with both Perm and Role) are
//     not exercised: the Checker validates before it writes.
//
// The suite checks no performance property; see docs/contract.md for those.
//
// TestManager runs the Manager's anti-escalation matrix (docs/contract.md line
// 19) on a store: 6 actor kinds × 4 target roles × 8 operations, each on a
// fresh store with the outcome derived from the rules, then the last-holder
// rule, two managers racing to remove the last two holders of a Protected
// role (exactly one must be refused), the request/approve workflow and
// group memberships. A store passes best when it implements iam.Transactor,
// iam.RoleLister and iam.HolderGrantLister.
//
// TestAccess is the consistency suite of the access queries (Checker
// ListObjects, Holders and Perms): on a randomised fixture with a fixed
// seed (AccessSeed) of 40 users, 5 groups, 75 objects of two types in a
// parent tree with a cycle, grants and local roles to users and groups,
// type-level and global grants, active, inactive and expired profiles, then
// revocations of every kind, it requires for all 14,400 (user, permission,
// object) triples that Check allows exactly when ListObjects lists the
// object (or says All) and exactly when Holders, with groups expanded,
// lists the user for that permission; that Perms returns exactly what Check
// allows; and that paging with Limit and Next gives the same list. The
// store must implement iam.ObjectLister, iam.MemberLister, iam.RoleLister
// and iam.ParentStore.
//
// The helpers in this package are safe for concurrent use only as the
// testing package allows: TestStore must be called from the test's own
// goroutine.
package iamtest
