package iamtest

import (
	"bytes"
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

	"github.com/iamgo/iam"
)

// TestStore runs the conformance suite against the store implementation
// that newStore returns. See the package documentation for what it checks.
//
// newStore is called once at the start of every subtest, from that subtest's
// goroutine, and must return an empty store that no other subtest uses. It
// may register cleanup with t.Cleanup and fail the test with t.Fatal.
// Subtests run one after another (none calls t.Parallel).
func TestStore(t *testing.T, newStore func(t *testing.T) iam.Store) {
	t.Helper()
	if newStore == nil {
		t.Fatal("iamtest.TestStore: newStore is nil")
	}
	s := &suite{newStore: newStore}
	for _, tc := range suiteTests {
		t.Run(tc.name, func(t *testing.T) { tc.run(s, t) })
	}
}

// suite carries the store constructor to every test of the suite.
type suite struct {
	newStore func(t *testing.T) iam.Store
}

// suiteTest is one behaviour of the suite: one top-level subtest.
type suiteTest struct {
	name string
	run  func(s *suite, t *testing.T)
}

// suiteTests lists every behaviour, in the order they run. Names are stable:
// store authors select them with -run.
var suiteTests = []suiteTest{
	// ProfileStore (teststore_profiles.go).
	{"HoldingUnknownPrincipal", (*suite).testHoldingUnknownPrincipal},
	{"PutProfileCreate", (*suite).testPutProfileCreate},
	{"PutProfileReplace", (*suite).testPutProfileReplace},
	{"PutProfileKeys", (*suite).testPutProfileKeys},
	{"SetProfileActive", (*suite).testSetProfileActive},
	{"SetProfileActiveNotFound", (*suite).testSetProfileActiveNotFound},
	{"DeleteProfile", (*suite).testDeleteProfile},
	{"DeleteProfileMissing", (*suite).testDeleteProfileMissing},
	{"Membership", (*suite).testMembership},
	{"MembershipAndProfilesIndependent", (*suite).testMembershipAndProfilesIndependent},
	{"GroupHolding", (*suite).testGroupHolding},
	{"UserAndGroupDistinct", (*suite).testUserAndGroupDistinct},
	{"HoldingIsSnapshot", (*suite).testHoldingIsSnapshot},

	// ObjectPermStore (teststore_grants.go).
	{"GrantsUnknownRef", (*suite).testGrantsUnknownRef},
	{"GrantRoundTrip", (*suite).testGrantRoundTrip},
	{"GrantIdempotent", (*suite).testGrantIdempotent},
	{"RevokeIdempotent", (*suite).testRevokeIdempotent},
	{"GrantPermAndRoleDistinct", (*suite).testGrantPermAndRoleDistinct},
	{"GrantUserAndGroupDistinct", (*suite).testGrantUserAndGroupDistinct},
	{"GrantsExactRef", (*suite).testGrantsExactRef},
	{"DeleteGrantsOn", (*suite).testDeleteGrantsOn},
	{"GrantSetIsSnapshot", (*suite).testGrantSetIsSnapshot},
	{"GrantInvalidRefRefused", (*suite).testGrantInvalidRef},
	{"GrantExpiry", (*suite).testGrantExpiry},

	// ParentStore, when implemented (teststore_parents.go).
	{"ParentsUnknownRef", (*suite).testParentsUnknownRef},
	{"SetParents", (*suite).testSetParents},
	{"ParentsExactRef", (*suite).testParentsExactRef},

	// Snapshotter, when implemented (teststore_snapshot.go).
	{"Snapshot", (*suite).testSnapshot},

	// Transactor, when implemented (teststore_transact.go).
	{"Transact", (*suite).testTransact},

	// docs/contract.md through a Checker (teststore_contract.go).
	{"Contract4a_GlobalRole", (*suite).testContract4aGlobalRole},
	{"Contract4a_ProfileExpiry", (*suite).testContract4aProfileExpiry},
	{"Contract4b_LocalRole", (*suite).testContract4bLocalRole},
	{"Contract4b_LocalRoleOnAncestor", (*suite).testContract4bAncestor},
	{"Contract4c_DirectGrant", (*suite).testContract4cDirectGrant},
	{"Contract5_ModelLevel", (*suite).testContract5ModelLevel},
	{"Contract6_Anonymous", (*suite).testContract6Anonymous},
	{"Contract7_WrongType", (*suite).testContract7WrongType},
	{"Contract15_WritesVisible", (*suite).testContract15WritesVisible},

	// Identifiers (teststore_ids.go).
	{"IDsRoundTrip", (*suite).testIDsRoundTrip},
	{"IDsCaseAndUnicodeDistinct", (*suite).testIDsDistinct},
	{"IDsNoSeparatorCollision", (*suite).testIDsNoCollision},

	// Contexts, concurrency and volume (teststore_ctx.go, teststore_concurrency.go).
	{"CancelledContextRead", (*suite).testCancelledContextRead},
	{"CancelledContextWrite", (*suite).testCancelledContextWrite},
	{"Concurrent", (*suite).testConcurrent},
	{"ManyKeys", (*suite).testManyKeys},
}

// store returns a fresh store for the running (sub)test.
func (s *suite) store(t *testing.T) iam.Store {
	t.Helper()
	st := s.newStore(t)
	require.NotNil(t, st, "newStore returned nil")
	return st
}

// parentStore returns a fresh store and its ParentStore, or skips the test
// when the store does not implement iam.ParentStore.
func (s *suite) parentStore(t *testing.T) (iam.Store, iam.ParentStore) {
	t.Helper()
	st := s.store(t)
	ps, ok := st.(iam.ParentStore)
	if !ok {
		t.Skipf("%T does not implement iam.ParentStore", st)
	}
	return st, ps
}

// holdingView is the comparable content of a Holding: profiles sorted by
// holder and role, groups sorted. Empty lists are nil. Order is not part of
// the store contract.
type holdingView struct {
	Profiles []iam.Profile
	Groups   []string
}

func viewHolding(h *iam.Holding) holdingView {
	var v holdingView
	if ps := h.Profiles(); len(ps) > 0 {
		v.Profiles = slices.Clone(ps)
		slices.SortFunc(v.Profiles, func(a, b iam.Profile) int {
			return compareKeys(a.Holder.Kind.String(), b.Holder.Kind.String(), a.Holder.ID, b.Holder.ID, a.Role, b.Role)
		})
	}
	if gs := h.Groups(); len(gs) > 0 {
		v.Groups = slices.Clone(gs)
		slices.Sort(v.Groups)
	}
	return v
}

// holding reads p's holding with a live context.
func holding(t *testing.T, st iam.Store, p iam.Principal) holdingView {
	t.Helper()
	h, err := st.Holding(t.Context(), p)
	require.NoError(t, err, "Holding(%v)", p)
	return viewHolding(h)
}

// requireHolding fails unless p's holding is want (see profileOpts for how
// profiles compare).
func requireHolding(t *testing.T, st iam.Store, p iam.Principal, want holdingView) {
	t.Helper()
	requireDiff(t, want, holding(t, st, p), "Holding(%v)", p)
}

// requireNoHolding fails unless the store holds nothing for p.
func requireNoHolding(t *testing.T, st iam.Store, p iam.Principal) {
	t.Helper()
	requireHolding(t, st, p, holdingView{})
}

// viewGrants returns the grants of set on on, sorted; nil when empty.
func viewGrants(t *testing.T, set *iam.GrantSet, on iam.Ref) []iam.Grant {
	t.Helper()
	gs := set.Grants(on)
	require.Len(t, gs, set.Len(), "GrantSet.Len() disagrees with GrantSet.Grants")
	if len(gs) == 0 {
		return nil
	}
	sortGrants(gs)
	return gs
}

// grantsOn reads the grants on on with a live context.
func grantsOn(t *testing.T, st iam.Store, on iam.Ref) []iam.Grant {
	t.Helper()
	set, err := st.Grants(t.Context(), on)
	require.NoError(t, err, "Grants(%v)", on)
	return viewGrants(t, set, on)
}

// requireGrants fails unless the grants on on are exactly want (any order).
func requireGrants(t *testing.T, st iam.Store, on iam.Ref, want ...iam.Grant) {
	t.Helper()
	w := sortedGrants(want)
	requireDiff(t, w, grantsOn(t, st, on), "Grants(%#v)", on)
}

func sortGrants(gs []iam.Grant) {
	slices.SortFunc(gs, func(a, b iam.Grant) int {
		return compareKeys(a.Holder.Kind.String(), b.Holder.Kind.String(), a.Holder.ID, b.Holder.ID,
			a.Perm, b.Perm, a.Role, b.Role, a.On.Type, b.On.Type, a.On.ID, b.On.ID)
	})
}

// sortedGrants returns a sorted copy of gs; nil when empty.
func sortedGrants(gs []iam.Grant) []iam.Grant {
	if len(gs) == 0 {
		return nil
	}
	out := slices.Clone(gs)
	sortGrants(out)
	return out
}

// compareKeys compares pairs (a1, b1), (a2, b2), ... lexicographically.
func compareKeys(pairs ...string) int {
	for i := 0; i+1 < len(pairs); i += 2 {
		if c := strings.Compare(pairs[i], pairs[i+1]); c != 0 {
			return c
		}
	}
	return 0
}

// parentsOf reads the recorded parents of ref with a live context; nil when
// none. Order is preserved.
func parentsOf(t *testing.T, ps iam.ParentStore, ref iam.Ref) []iam.Ref {
	t.Helper()
	got, err := ps.Parents(t.Context(), ref)
	require.NoError(t, err, "Parents(%v)", ref)
	if len(got) == 0 {
		return nil
	}
	return slices.Clone(got)
}

// profileOpts compares what a store may legitimately change on the way
// through: ExpiresAt is compared as an instant to within a microsecond (the
// location and sub-microsecond digits need not survive; zero must stay
// zero), and Data as JSON (empty and nil are equal; valid JSON compares by
// value, so a store may normalise whitespace and key order).
var profileOpts = cmp.Options{
	cmp.Comparer(sameInstant),
	cmp.Comparer(sameData),
}

// sameInstant reports whether a and b are both zero, or the same instant to
// within a microsecond.
func sameInstant(a, b time.Time) bool {
	if a.IsZero() || b.IsZero() {
		return a.IsZero() == b.IsZero()
	}
	d := a.Sub(b)
	return d > -time.Microsecond && d < time.Microsecond
}

// sameData reports whether a and b are the same profile data: both empty,
// the same JSON value, or (not JSON) the same bytes.
func sameData(a, b []byte) bool {
	if len(a) == 0 || len(b) == 0 {
		return len(a) == len(b)
	}
	var va, vb any
	if json.Unmarshal(a, &va) != nil || json.Unmarshal(b, &vb) != nil {
		return bytes.Equal(a, b)
	}
	return reflect.DeepEqual(va, vb)
}

// requireDiff fails the test when want and got differ, with a
// (-want +got) diff.
func requireDiff(t *testing.T, want, got any, format string, args ...any) {
	t.Helper()
	if diff := cmp.Diff(want, got, profileOpts); diff != "" {
		args = append(args, diff)
		t.Fatalf(format+" mismatch (-want +got):\n%s", args...)
	}
}

// Fixed names used across the suite.
const (
	typeDoc    = "doc"
	typeFolder = "folder"
	typePage   = "page"

	permView   = "doc.view"
	permEdit   = "doc.edit"
	permManage = "site.manage"

	roleViewer = "doc.viewer"
	roleEditor = "doc.editor"
	roleAdmin  = "site.admin"
)

var (
	doc1    = iam.Ref{Type: typeDoc, ID: "1"}
	doc2    = iam.Ref{Type: typeDoc, ID: "2"}
	docType = iam.TypeScope(typeDoc)
	global  = iam.GlobalScope()
)

// testPolicy is the policy of the Checker-level tests:
//
//	doc.viewer -> doc.view
//	doc.editor -> doc.edit, includes doc.viewer
//	site.admin -> site.manage, includes doc.editor
//
// doc.view and doc.edit are declared for type "doc" only.
func testPolicy() iam.Policy {
	viewer := &iam.Role{Name: roleViewer, Perms: []string{permView}}
	editor := &iam.Role{Name: roleEditor, Perms: []string{permEdit}, Includes: []*iam.Role{viewer}}
	admin := &iam.Role{Name: roleAdmin, Perms: []string{permManage}, Includes: []*iam.Role{editor}}
	return iam.Policy{
		Roles: []*iam.Role{viewer, editor, admin},
		Perms: []iam.Perm{
			{Name: permView, Types: []string{typeDoc}},
			{Name: permEdit, Types: []string{typeDoc}},
			{Name: permManage},
		},
	}
}

// fakeClock is a settable clock for profile expiry, safe for concurrent use.
type fakeClock struct{ ns atomic.Int64 }

func newFakeClock(t time.Time) *fakeClock {
	c := &fakeClock{}
	c.Set(t)
	return c
}

func (c *fakeClock) Now() time.Time  { return time.Unix(0, c.ns.Load()) }
func (c *fakeClock) Set(t time.Time) { c.ns.Store(t.UnixNano()) }

// newChecker returns a Checker of testPolicy over st; clock may be nil.
func newChecker(t *testing.T, st iam.Store, clock *fakeClock) *iam.Checker {
	t.Helper()
	var o iam.Options
	if clock != nil {
		o.Now = clock.Now
	}
	c, err := iam.NewWithOptions(testPolicy(), st, o)
	require.NoError(t, err)
	return c
}

// subject is an application user: an ID and the groups the application
// knows about (added to the stored memberships).
type subject struct {
	id     string
	groups []string
}

func (u subject) SubjectID() string       { return u.id }
func (u subject) SubjectGroups() []string { return u.groups }

// decision is the comparable part of an iam.Decision.
type decision struct {
	Allowed bool
	Reason  iam.Reason
	Role    string
	Via     iam.Principal
	On      iam.Ref
}

var denied = decision{}

func allowedBy(reason iam.Reason, role string, via iam.Principal, on iam.Ref) decision {
	return decision{Allowed: true, Reason: reason, Role: role, Via: via, On: on}
}

// check runs c.Check and fails the test on an error.
func check(t *testing.T, c *iam.Checker, u iam.Subject, perm string, obj iam.Object) decision {
	t.Helper()
	d, err := c.Check(t.Context(), u, perm, obj)
	require.NoError(t, err, "Check(%v, %s, %v)", u, perm, obj)
	return decision{Allowed: d.Allowed, Reason: d.Reason, Role: d.Role, Via: d.Via, On: d.On}
}

// requireCheck fails unless the check of perm on obj by u decides want.
func requireCheck(t *testing.T, c *iam.Checker, u iam.Subject, perm string, obj iam.Object, want decision) {
	t.Helper()
	got := check(t, c, u, perm, obj)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("Check(%q, %s, %v) mismatch (-want +got):\n%s", u.SubjectID(), perm, obj, diff)
	}
}

// objOf returns ref as an Object, or nil for a model-level check when ref is
// the zero Ref.
func objOf(ref iam.Ref) iam.Object {
	if ref == iam.GlobalScope() {
		return nil
	}
	return ref
}

// must fails the test when err is not nil.
func must(t *testing.T, err error, what string, args ...any) {
	t.Helper()
	require.NoError(t, err, append([]any{what}, args...)...)
}
