package iamtest

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	gocmp "github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

	"github.com/iamgo/iam"
)

// OracleSeedEnv names the variable that fixes the seed of ManagerOracle
// (a failure report names the seed it ran with).
const OracleSeedEnv = "IAM_ORACLE_SEED"

// OracleApplier carries out a change in place of Manager.Apply: the real
// Manager is m.Apply(ctx, actor, ch); a test plants a bug by writing to st
// what the Manager refused.
type OracleApplier func(ctx context.Context, m *iam.Manager, st iam.Store, actor iam.Subject, ch iam.Change) error

// OracleOptions configure ManagerOracle. Zero fields take the defaults
// named on each.
type OracleOptions struct {
	// Fixtures is the number of random fixtures, each on a store of its
	// own (default 40). Odd fixtures give the Manager the application's
	// objects (ManagerOptions.Object and Children), even ones do not.
	Fixtures int
	// ChangesPerFixture is the number of changes tried on each fixture,
	// applied cumulatively (default 400). With MinAccepted set, a fixture
	// goes on until it has accepted its share of MinAccepted, up to four
	// times as many changes.
	ChangesPerFixture int
	// MinAccepted fails the run unless at least this many changes were
	// accepted over all fixtures (checked only when every fixture ran).
	MinAccepted int
	// FullEvalEvery: after every FullEvalEvery-th change (default 1: all)
	// every triple of the fixture is checked again; after the others only
	// the triples of the users the change concerns (its target user, or
	// the members of its target group), the others keeping their answers.
	// That rests on the store holding exactly what the fixture says, which
	// is verified after every change (profiles, memberships, grants and
	// parents), and on a user's checks reading only its own and its
	// groups' holdings; the full checks verify that the users a change
	// does not concern keep every answer. For slow stores.
	FullEvalEvery int
	// ReplayEvery: every ReplayEvery-th refusal with ErrEscalation is
	// replayed through the store to judge it (default 1: all of them; a
	// replay costs two writes).
	ReplayEvery int
	// Seed is the run's seed; 0 means a random one. The environment
	// variable IAM_ORACLE_SEED, when set, wins over both.
	Seed int64
	// RecordOnly counts escalations in the report instead of failing the
	// test (for a test that plants a bug and expects it found).
	RecordOnly bool
	// Apply, if set, carries out every change instead of Manager.Apply
	// (and then no change goes through Request and Approve).
	Apply OracleApplier
	// Name labels the summary line (e.g. the store).
	Name string
}

// OracleReport counts what ManagerOracle saw.
type OracleReport struct {
	Tried    int // changes tried
	Accepted int // accepted (Apply or Approve returned nil)
	Approved int // of Accepted, through Request and Approve
	// Refused counts refusals by sentinel: ErrNotManager, ErrEscalation,
	// ErrSelfChange, ErrProtected, ErrLastHolder, other.
	Refused map[string]int
	// Escalations counts accepted changes after which some user could do
	// something neither it could before nor the actor can; EscalatedTriples
	// the (user, permission, object) triples concerned.
	Escalations      int
	EscalatedTriples int
	// EscalationKinds counts escalations by what the change was and how the
	// new access is held, e.g. "grant role on type → global role".
	EscalationKinds map[string]int
	// Replayed counts ErrEscalation refusals applied through the store to
	// judge them (then undone); OverStrict those after which no user gained
	// anything beyond the actor's access, by change kind in OverStrictKinds.
	Replayed        int
	OverStrict      int
	OverStrictKinds map[string]int
	// ByActor counts outcomes by what the fixture made of the actor
	// (strong, medium, partial, plain, superuser, inactive), e.g.
	// "partial accepted", "medium ErrEscalation".
	ByActor map[string]int
	// AllowedStart and AllowedEnd are the allowed triples of the plain
	// users (neither actors nor superusers) at the start and the end of the
	// fixtures, of Triples (summed over the fixtures): how far the state
	// drifted towards everyone holding everything (only denied triples can
	// reveal an escalation).
	AllowedStart, AllowedEnd, Triples int
	// ExpiringGrants counts accepted grants carrying an ExpiresAt,
	// ExpiredGrants those of them already past on the fixture's clock
	// (they give nothing); ExpiryOutcomes counts the outcomes of the
	// changes made to probe expiry, e.g. "hand on an expired grant
	// ErrEscalation" (an actor passing on what its expired grant named),
	// "re-grant accepted" (a grant again with another expiry).
	ExpiringGrants, ExpiredGrants int
	ExpiryOutcomes                map[string]int
	// Disagreements counts changes after which the Checker's answer for
	// some triple differs from the oracle's own model of access (a fault
	// of the Checker, the store, or the model); DisagreementReports are the
	// first accounts. They fail the test unless RecordOnly.
	Disagreements       int
	DisagreementReports []string
	// Findings are the first escalations, with the full report.
	Findings []OracleFinding
	// OtherErrors are the first distinct messages of refusals counted as
	// "other".
	OtherErrors []string
}

// OracleFinding is one escalation.
type OracleFinding struct {
	Fixture, Step int
	Actor         string
	Change        iam.Change
	Kind          string
	Report        string // the full account: fixture, state, change, triples
}

const (
	maxFindings    = 200 // kept in the report
	maxFullReports = 3   // printed in full when failing
)

// ManagerOracle judges a Manager by brute force (contract 19). For each
// random fixture (roles with Includes and Protected roles, permissions
// declared for one type, several or none, rules of HasRole, InGroup,
// PredProfile, object predicates, Not, And and Or, groups, users with
// active, inactive, expiring and expired profiles carrying data, a
// superuser and often an inactive user, objects of two or three types with
// parents up to three levels deep, some refusing global roles, and grants
// of permissions and local roles on objects, types and globally, to users
// and groups, some expiring and some expired), random changes of every
// kind by random actors are applied one after another. Grant changes
// sometimes carry an ExpiresAt before, at or after the fixture's fixed
// clock, grant again what is held with another expiry (which replaces
// it), or hand on what one of the actor's expired grants names. For every
// change the Manager accepts, every (user, permission, object or nil)
// triple of the fixture must satisfy
//
//	after(u,p,o) ⇒ before(u,p,o) ∨ actor(p,o)
//
// where actor(p,o) is the actor's own answer before the change. The
// answers are the oracle's own: it works out from its record of the store
// and the policy what each user can do (contract 2 to 7d, 9, 14 and 14b:
// an expired profile or grant gives nothing), so that a mistake the Manager
// shares with the Checker, whose checks it runs, cannot hide an
// escalation. The Checker's answers (Check allowing with a nil error) are
// compared with those after every change, and a difference fails the run
// too. (The superuser and the inactive user are not among the u: their
// answers do not depend on the store; nor are triples of a permission
// declared for other types than the object's, always denied with
// ErrWrongType. Groups act through their members.) A violation is an
// escalation, reported with the fixture, the state, the actor, the change
// and the triple. The oracle derives nothing from the Manager. A change
// refused with ErrEscalation is applied through the store to see whether
// it would have escalated (if not, the refusal is counted over-strict:
// harmless in this fixture, e.g. a group with no members, which a Manager
// cannot rely on), then undone, and the undo is checked to restore every
// answer. The store is also compared with the fixture's own record of who
// holds what after every change: an accepted change writes exactly itself,
// a refused one nothing; a grant is one per holder, permission or role and
// ref, whatever its expiry.
//
// newStore is called once per fixture and must return an empty store that
// implements iam.ParentStore. Fixtures run as parallel subtests named
// fixtures/fixture_N; with IAM_ORACLE_SEED set to the logged seed, -run
// selects one and replays it exactly.
func ManagerOracle(t *testing.T, newStore func(t *testing.T) iam.Store, o OracleOptions) OracleReport {
	t.Helper()
	if o.Fixtures <= 0 {
		o.Fixtures = 40
	}
	if o.ChangesPerFixture <= 0 {
		o.ChangesPerFixture = 400
	}
	seed := o.Seed
	if v := os.Getenv(OracleSeedEnv); v != "" {
		s, err := strconv.ParseInt(v, 10, 64)
		require.NoError(t, err, "%s=%q", OracleSeedEnv, v)
		seed = s
	}
	if seed == 0 {
		seed = time.Now().UnixNano()
	}
	t.Logf("manager oracle: seed %d (replay with %s=%d)", seed, OracleSeedEnv, seed)

	total := OracleReport{Refused: map[string]int{}, EscalationKinds: map[string]int{}, OverStrictKinds: map[string]int{}, ByActor: map[string]int{}, ExpiryOutcomes: map[string]int{}}
	var mu sync.Mutex
	ran := 0
	start := time.Now()
	t.Run("fixtures", func(t *testing.T) {
		for i := range o.Fixtures {
			t.Run(fmt.Sprintf("fixture_%d", i), func(t *testing.T) {
				t.Parallel()
				r := runOracleFixture(t, newStore, o, seed, i)
				mu.Lock()
				defer mu.Unlock()
				ran++
				total.merge(r)
			})
		}
	})
	refused := 0
	for _, n := range total.Refused {
		refused += n
	}
	name := o.Name
	if name != "" {
		name = " [" + name + "]"
	}
	t.Logf("manager oracle%s: seed %d, %d fixtures, tried %d, accepted %d (%d approved), refused %d %v, escalations %d (%d triples), over-strict %d of %d ErrEscalation refusals replayed, in %v",
		name, seed, ran, total.Tried, total.Accepted, total.Approved, refused, total.Refused,
		total.Escalations, total.EscalatedTriples, total.OverStrict, total.Replayed, time.Since(start).Round(time.Millisecond))
	t.Logf("manager oracle%s: outcomes by actor: %v", name, total.ByActor)
	if total.Triples > 0 {
		t.Logf("manager oracle%s: %d triples of plain users, %.0f%% allowed at the start, %.0f%% at the end", name,
			total.Triples, 100*float64(total.AllowedStart)/float64(total.Triples), 100*float64(total.AllowedEnd)/float64(total.Triples))
	}
	t.Logf("manager oracle%s: %d accepted grants with an expiry (%d already expired); changes probing expiry: %v; the Checker disagreed with the model after %d changes",
		name, total.ExpiringGrants, total.ExpiredGrants, total.ExpiryOutcomes, total.Disagreements)
	if len(total.EscalationKinds) > 0 {
		t.Logf("manager oracle%s: escalations by kind: %v", name, total.EscalationKinds)
	}
	if len(total.OverStrictKinds) > 0 {
		t.Logf("manager oracle%s: over-strict refusals by kind: %v", name, total.OverStrictKinds)
	}
	for _, e := range total.OtherErrors {
		t.Logf("manager oracle%s: refused as other: %s", name, e)
	}
	if ran == o.Fixtures && total.Accepted < o.MinAccepted {
		t.Errorf("manager oracle%s: only %d changes accepted, want at least %d: the fixtures do not exercise the Manager", name, total.Accepted, o.MinAccepted)
	}
	if !o.RecordOnly && total.Escalations > 0 {
		t.Errorf("manager oracle%s: %d escalations (seed %d)", name, total.Escalations, seed)
	}
	return total
}

func (r *OracleReport) merge(o OracleReport) {
	r.Tried += o.Tried
	r.Accepted += o.Accepted
	r.Approved += o.Approved
	r.Escalations += o.Escalations
	r.EscalatedTriples += o.EscalatedTriples
	r.Replayed += o.Replayed
	r.OverStrict += o.OverStrict
	r.AllowedStart += o.AllowedStart
	r.AllowedEnd += o.AllowedEnd
	r.Triples += o.Triples
	r.ExpiringGrants += o.ExpiringGrants
	r.ExpiredGrants += o.ExpiredGrants
	r.Disagreements += o.Disagreements
	for k, v := range o.ExpiryOutcomes {
		r.ExpiryOutcomes[k] += v
	}
	for _, d := range o.DisagreementReports {
		if len(r.DisagreementReports) < maxFullReports {
			r.DisagreementReports = append(r.DisagreementReports, d)
		}
	}
	for k, v := range o.Refused {
		r.Refused[k] += v
	}
	for k, v := range o.EscalationKinds {
		r.EscalationKinds[k] += v
	}
	for k, v := range o.OverStrictKinds {
		r.OverStrictKinds[k] += v
	}
	for k, v := range o.ByActor {
		r.ByActor[k] += v
	}
	for _, f := range o.Findings {
		if len(r.Findings) < maxFindings {
			r.Findings = append(r.Findings, f)
		}
	}
	for _, e := range o.OtherErrors {
		if len(r.OtherErrors) < 8 && !slices.Contains(r.OtherErrors, e) {
			r.OtherErrors = append(r.OtherErrors, e)
		}
	}
}

// --- the fixture's application types ---

// oUser is a subject of the oracle's fixtures.
type oUser struct {
	id        string
	super     bool
	inactive  bool
	appGroups []string // SubjectGroups: groups the application knows
}

func (u *oUser) SubjectID() string       { return u.id }
func (u *oUser) IsActive() bool          { return !u.inactive }
func (u *oUser) IsSuperuser() bool       { return u.super }
func (u *oUser) SubjectGroups() []string { return u.appGroups }

func (u *oUser) String() string {
	s := u.id
	if u.super {
		s += " (superuser)"
	}
	if u.inactive {
		s += " (inactive)"
	}
	if len(u.appGroups) > 0 {
		s += " (SubjectGroups " + strings.Join(u.appGroups, ",") + ")"
	}
	return s
}

// oObj is an object of the oracle's fixtures.
type oObj struct {
	ref     iam.Ref
	parents []iam.Ref
	refuse  bool // AcquireGlobalRoles() false
	private bool
	section string
	owner   string
	stored  bool // its parents are also recorded in the store
}

func (o *oObj) ObjectRef() iam.Ref       { return o.ref }
func (o *oObj) Parents() []iam.Ref       { return o.parents }
func (o *oObj) AcquireGlobalRoles() bool { return !o.refuse }

func (o *oObj) String() string {
	var b strings.Builder
	b.WriteString(o.ref.String())
	if len(o.parents) > 0 {
		ps := make([]string, len(o.parents))
		for i, p := range o.parents {
			ps[i] = p.String()
		}
		fmt.Fprintf(&b, " parents=[%s]", strings.Join(ps, " "))
		if o.stored {
			b.WriteString(" (also in the store)")
		}
	}
	if o.refuse {
		b.WriteString(" refuses-global-roles")
	}
	if o.private {
		b.WriteString(" private")
	}
	if o.section != "" {
		b.WriteString(" section=" + o.section)
	}
	if o.owner != "" {
		b.WriteString(" owner=" + o.owner)
	}
	return b.String()
}

// oData is the profile data PredProfile leaves read.
type oData struct {
	Sections []string `json:"sections"`
}

// --- the fixture ---

type profKey struct {
	holder iam.Principal
	role   string
}

type memberKey struct{ user, group string }

// oModel is the fixture's own record of what the store holds.
type oModel struct {
	profiles map[profKey]iam.Profile
	members  map[memberKey]bool
	// grants maps each grant's identity (grantKey: holder, permission or
	// role, ref) to its expiry (zero: none), as a store keeps them:
	// granting again replaces the expiry, revoking removes the grant
	// whatever its expiry.
	grants map[iam.Grant]time.Time
}

// apply records ch as the store would apply it; false when the store
// would refuse it (SetProfileActive of a missing profile).
func (m *oModel) apply(ch iam.Change) bool {
	p := ch.Profile
	k := profKey{p.Holder, p.Role}
	switch ch.Kind {
	case iam.ChangePutProfile:
		m.profiles[k] = p
	case iam.ChangeActivate, iam.ChangeDeactivate:
		old, ok := m.profiles[k]
		if !ok {
			return false
		}
		old.Active = ch.Kind == iam.ChangeActivate
		m.profiles[k] = old
	case iam.ChangeDeleteProfile:
		delete(m.profiles, k)
	case iam.ChangeGrant:
		m.grants[grantKey(ch.Grant)] = ch.Grant.ExpiresAt
	case iam.ChangeRevoke:
		delete(m.grants, grantKey(ch.Grant))
	case iam.ChangeAddMember:
		m.members[memberKey{ch.User, ch.Group}] = true
	case iam.ChangeRemoveMember:
		delete(m.members, memberKey{ch.User, ch.Group})
	default:
		return false
	}
	return true
}

type oFixture struct {
	idx     int
	now     time.Time
	loaders bool // the Manager gets ManagerOptions.Object and Children

	perms     []iam.Perm
	roles     []*iam.Role
	rules     map[string]*oPred
	dataRoles []*iam.Role // roles whose data a PredProfile leaf reads
	groups    []string
	types     []string
	users     []*oUser
	objects   []*oObj
	byRef     map[iam.Ref]*oObj

	// Designated actors (indexes into users).
	strong, medium, partial []int
	super, inactive         int // -1 if none

	// The triples: evaluated users (neither superuser nor inactive: their
	// answers do not depend on the store), permissions, and objects (nil
	// first); triples of a typed permission and an object of another type
	// are left out (always an ErrWrongType denial).
	evalUsers []int
	triples   []oTriple
	tripleIdx map[oTripleKey]int

	model oModel
	cur   []answer // the Checker's answers before the next change
	mcur  []bool   // the model's answers before the next change
	ix    *oIndex  // the policy and objects as the model reads them
}

type oTriple struct {
	user int // index into users
	perm int // index into perms
	obj  int // index into objects, -1: nil (model level)
}

type oTripleKey struct{ perm, obj int }

// answer is one check's outcome.
type answer struct {
	ok  bool // Allowed with a nil error
	d   iam.Decision
	err error
}

func (a answer) String() string {
	if a.err != nil {
		return a.d.String() + " (error: " + a.err.Error() + ")"
	}
	return a.d.String()
}

func (f *oFixture) object(i int) iam.Object {
	if i < 0 {
		return nil
	}
	return f.objects[i]
}

func objName(o iam.Object) string {
	if o == nil {
		return "<nil: model level>"
	}
	return o.ObjectRef().String()
}

func pick[T any](rng *rand.Rand, s []T) T { return s[rng.IntN(len(s))] }

func chance(rng *rand.Rand, p float64) bool { return rng.Float64() < p }

var (
	oPermNames = []string{"o.view", "o.edit", "o.share", "o.publish", "o.delete", "o.comment"}
	oSections  = []string{"a", "b", "c"}
)

// genFixture makes fixture idx from rng: the policy, the principals and the
// objects (the store is seeded by seed).
func genFixture(rng *rand.Rand, idx int) *oFixture {
	f := &oFixture{
		idx:      idx,
		now:      time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC),
		loaders:  idx%2 == 1,
		byRef:    map[iam.Ref]*oObj{},
		super:    -1,
		inactive: -1,
		model: oModel{
			profiles: map[profKey]iam.Profile{},
			members:  map[memberKey]bool{},
			grants:   map[iam.Grant]time.Time{},
		},
	}
	f.types = []string{"doc", "folder"}
	if chance(rng, 0.5) {
		f.types = append(f.types, "tag")
	}

	// Permissions: o.view untyped, o.share for docs and folders, the rest
	// random; then the manage permissions.
	nPerms := 4 + rng.IntN(3)
	typeChoices := [][]string{nil, nil, {"doc"}, {"folder"}, {"doc", "folder"}}
	if len(f.types) == 3 {
		typeChoices = append(typeChoices, []string{"doc", "tag"}, []string{"tag"})
	}
	for i, name := range oPermNames[:nPerms] {
		var types []string
		switch {
		case i == 0:
		case name == "o.share":
			types = []string{"doc", "folder"}
		default:
			types = pick(rng, typeChoices)
		}
		f.perms = append(f.perms, iam.Perm{Name: name, Types: types})
	}
	regular := f.perms[:nPerms:nPerms]
	f.perms = append(f.perms, iam.Perm{Name: iam.PermManageRoles}, iam.Perm{Name: iam.PermManageGrants})

	// Roles: a marker role with no permissions (rules refer to it), a
	// manager role, a powerful role, and two to four random ones.
	marker := &iam.Role{Name: "r.marker"}
	mgr := &iam.Role{Name: "r.mgr", Perms: []string{iam.PermManageRoles, iam.PermManageGrants}}
	power := &iam.Role{Name: "r.power"}
	for _, p := range regular {
		power.Perms = append(power.Perms, p.Name)
	}
	f.roles = []*iam.Role{marker, mgr, power}
	nRandom := 2 + rng.IntN(3)
	for i := range nRandom {
		r := &iam.Role{Name: fmt.Sprintf("r.%d", i)}
		for _, p := range regular {
			if chance(rng, 0.4) {
				r.Perms = append(r.Perms, p.Name)
			}
		}
		for _, p := range []string{iam.PermManageRoles, iam.PermManageGrants} {
			if chance(rng, 0.2) {
				r.Perms = append(r.Perms, p)
			}
		}
		// Includes earlier random roles or the marker: acyclic by order.
		if chance(rng, 0.3) {
			r.Includes = append(r.Includes, marker)
		}
		for _, prev := range f.roles[3:] {
			if chance(rng, 0.3) {
				r.Includes = append(r.Includes, prev)
			}
		}
		f.roles = append(f.roles, r)
	}
	// One or two random roles are Protected (never the manager, powerful
	// or marker roles, which include none).
	randomRoles := f.roles[3:]
	for _, i := range rng.Perm(len(randomRoles))[:1+rng.IntN(2)] {
		randomRoles[i].Protected = true
	}
	f.dataRoles = []*iam.Role{marker}
	if chance(rng, 0.6) {
		f.dataRoles = append(f.dataRoles, pick(rng, randomRoles))
	}

	nGroups := 2 + rng.IntN(2)
	for i := range nGroups {
		f.groups = append(f.groups, fmt.Sprintf("g%d", i))
	}

	// Users: a superuser, maybe an inactive user, a strong actor (global
	// grants of every permission), a medium one (the manager and powerful
	// roles as global profiles) and one or two partial ones (some
	// permissions, some of them only on some objects).
	nUsers := 5 + rng.IntN(3)
	for i := range nUsers {
		f.users = append(f.users, &oUser{id: fmt.Sprintf("u%d", i)})
	}
	order := rng.Perm(nUsers)
	f.super = order[0]
	f.users[f.super].super = true
	f.strong = []int{order[1]}
	f.medium = []int{order[2]}
	f.partial = []int{order[3]}
	// The rest are plain users (at least one), one maybe inactive, one
	// maybe a second partial actor.
	next := 4
	if nUsers >= 6 && chance(rng, 0.6) {
		f.inactive = order[next]
		f.users[f.inactive].inactive = true
		next++
	}
	if nUsers-next >= 2 && chance(rng, 0.5) {
		f.partial = append(f.partial, order[next])
	}
	if chance(rng, 0.3) {
		u := f.users[rng.IntN(nUsers)]
		u.appGroups = []string{pick(rng, f.groups)}
	}
	for i := range f.users {
		if i != f.super && i != f.inactive {
			f.evalUsers = append(f.evalUsers, i)
		}
	}

	// Objects: folders (nested), docs in folders, tags; each object's
	// ancestry is at most three levels deep.
	nObjects := 6 + rng.IntN(5)
	depth := map[iam.Ref]int{}
	for i := range nObjects {
		typ := f.types[rng.IntN(len(f.types))]
		switch {
		case i < 2:
			typ = "folder"
		case i < 4:
			typ = "doc"
		}
		o := &oObj{ref: iam.Ref{Type: typ, ID: strconv.Itoa(i + 1)}}
		var candidates []*oObj
		for _, p := range f.objects {
			if depth[p.ref] < 3 && (typ != "folder" || p.ref.Type == "folder") {
				candidates = append(candidates, p)
			}
		}
		parentChance := map[string]float64{"folder": 0.5, "doc": 0.75, "tag": 0.35}[typ]
		if len(candidates) > 0 && chance(rng, parentChance) {
			p := pick(rng, candidates)
			o.parents = append(o.parents, p.ref)
			if len(candidates) > 1 && chance(rng, 0.15) {
				if q := pick(rng, candidates); q != p {
					o.parents = append(o.parents, q.ref)
				}
			}
		}
		d := 0
		for _, p := range o.parents {
			d = max(d, depth[p]+1)
		}
		depth[o.ref] = d
		o.refuse = chance(rng, 0.25)
		o.private = chance(rng, 0.3)
		if chance(rng, 0.7) {
			o.section = pick(rng, oSections)
		}
		if chance(rng, 0.5) {
			o.owner = f.users[rng.IntN(nUsers)].id
		}
		f.objects = append(f.objects, o)
		f.byRef[o.ref] = o
	}
	// Parents are recorded in the store for half the objects; the others
	// give them only through their Parents method, which a check reads for
	// the object checked and never for an ancestor, so a child of such an
	// object does not reach its grandparents.
	for _, o := range f.objects {
		o.stored = len(o.parents) > 0 && chance(rng, 0.5)
	}

	f.rules = genRules(rng, f, regular)

	// The triples.
	f.tripleIdx = map[oTripleKey]int{}
	for pi, p := range f.perms {
		for oi := -1; oi < len(f.objects); oi++ {
			if oi >= 0 && len(p.Types) > 0 && !slices.Contains(p.Types, f.objects[oi].ref.Type) {
				continue
			}
			f.tripleIdx[oTripleKey{pi, oi}] = len(f.tripleIdx)
		}
	}
	for _, u := range f.evalUsers {
		for pi := range f.perms {
			for oi := -1; oi < len(f.objects); oi++ {
				if _, ok := f.tripleIdx[oTripleKey{pi, oi}]; ok {
					f.triples = append(f.triples, oTriple{u, pi, oi})
				}
			}
		}
	}
	return f
}

// genRules makes the rules: random trees over the fixture's leaves for
// some permissions, one with Not(HasRole(x)) and one with Not(is_private).
// Each rule is built twice, as the policy's Predicate and as the oracle's
// own tree, which the model evaluates without the library.
func genRules(rng *rand.Rand, f *oFixture, regular []iam.Perm) map[string]*oPred {
	objLeaf := func(name string, fn func(u iam.Subject, o *oObj) bool) *oPred {
		return &oPred{op: opObj, fn: fn, pred: iam.Pred(name, func(_ context.Context, s iam.Subject, o *oObj) bool { return fn(s, o) })}
	}
	isPrivate := objLeaf("is_private", func(_ iam.Subject, o *oObj) bool { return o != nil && o.private })
	isOwner := objLeaf("is_owner", func(s iam.Subject, o *oObj) bool { return o != nil && o.owner != "" && o.owner == s.SubjectID() })
	inSectionA := objLeaf("in_section_a", func(_ iam.Subject, o *oObj) bool { return o != nil && o.section == "a" })
	hasRole := func(r *iam.Role) *oPred { return &oPred{op: opRole, role: r.Name, pred: iam.HasRole(r)} }
	var positive []*oPred // leaves that a change can turn true
	for _, r := range f.roles {
		positive = append(positive, hasRole(r))
	}
	for _, g := range f.groups {
		positive = append(positive, &oPred{op: opGroup, group: g, pred: iam.InGroup(g)})
	}
	for _, r := range f.dataRoles {
		positive = append(positive, &oPred{op: opProfile, role: r.Name,
			pred: iam.PredProfile("sections_of_"+r.Name, r, func(_ context.Context, _ iam.Subject, o *oObj, d oData) bool { return sectionsAllow(o, d) })})
	}
	leaves := append(slices.Clone(positive), isPrivate, isOwner, inSectionA)
	not := func(k *oPred) *oPred { return &oPred{op: opNot, kids: []*oPred{k}, pred: iam.Not(k.pred)} }
	and := func(kids ...*oPred) *oPred { return &oPred{op: opAnd, kids: kids, pred: iam.And(preds(kids)...)} }
	or := func(kids ...*oPred) *oPred { return &oPred{op: opOr, kids: kids, pred: iam.Or(preds(kids)...)} }
	var tree func(depth int) *oPred
	tree = func(depth int) *oPred {
		if depth == 0 || chance(rng, 0.35) {
			return pick(rng, leaves)
		}
		switch rng.IntN(8) {
		case 0:
			return not(tree(depth - 1))
		case 1, 2, 3, 4:
			return and(tree(depth-1), tree(depth-1))
		default:
			kids := []*oPred{tree(depth - 1), tree(depth - 1)}
			if chance(rng, 0.3) {
				kids = append(kids, tree(depth-1))
			}
			return or(kids...)
		}
	}
	rules := map[string]*oPred{}
	for _, p := range regular {
		if chance(rng, 0.35) {
			rules[p.Name] = tree(3)
		}
	}
	if chance(rng, 0.3) {
		rules[iam.PermManageRoles] = pick(rng, []*oPred{isOwner, and(isOwner, pick(rng, positive)), tree(2)})
	}
	if chance(rng, 0.2) {
		rules[iam.PermManageGrants] = pick(rng, []*oPred{isOwner, tree(2)})
	}
	// The two required shapes, on two different permissions.
	ps := rng.Perm(len(regular))
	notRole := and(pick(rng, positive), not(hasRole(pick(rng, f.roles))))
	notPrivate := and(pick(rng, positive), not(isPrivate))
	for i, extra := range []*oPred{notRole, notPrivate} {
		name := regular[ps[i]].Name
		if r, ok := rules[name]; ok && chance(rng, 0.5) {
			rules[name] = or(r, extra)
		} else {
			rules[name] = extra
		}
	}
	return rules
}

// sectionsAllow is the body of the PredProfile leaves: the profile's
// sections hold the object's (at model level: the profile names some).
func sectionsAllow(o *oObj, d oData) bool {
	if o == nil {
		return len(d.Sections) > 0
	}
	return o.section != "" && slices.Contains(d.Sections, o.section)
}

// honours reports whether the policy lets g give anything: a grant of one
// of its roles, or of a declared permission (the Manager's two always are)
// on a type the permission is declared for. The store keeps the others,
// and a check ignores them.
func (f *oFixture) honours(g iam.Grant) bool {
	if g.Role != "" {
		return slices.ContainsFunc(f.roles, func(r *iam.Role) bool { return r.Name == g.Role })
	}
	if g.Perm == iam.PermManageRoles || g.Perm == iam.PermManageGrants {
		return true
	}
	i := slices.IndexFunc(f.perms, func(p iam.Perm) bool { return p.Name == g.Perm })
	return i >= 0 && (g.On.Type == "" || len(f.perms[i].Types) == 0 || slices.Contains(f.perms[i].Types, g.On.Type))
}

func (f *oFixture) policy() iam.Policy {
	rules := make(map[string]iam.Predicate, len(f.rules))
	for name, r := range f.rules {
		rules[name] = r.pred
	}
	return iam.Policy{Roles: f.roles, Perms: f.perms, Rules: rules}
}

func (f *oFixture) principals() []iam.Principal {
	var ps []iam.Principal
	for _, u := range f.users {
		ps = append(ps, iam.User(u.id))
	}
	for _, g := range f.groups {
		ps = append(ps, iam.Group(g))
	}
	return ps
}

func (f *oFixture) refs() []iam.Ref {
	rs := []iam.Ref{iam.GlobalScope()}
	for _, t := range f.types {
		rs = append(rs, iam.TypeScope(t))
	}
	for _, o := range f.objects {
		rs = append(rs, o.ref)
	}
	return rs
}

func (f *oFixture) randProfile(rng *rand.Rand, holder iam.Principal, role *iam.Role) iam.Profile {
	p := iam.Profile{Holder: holder, Role: role.Name, Active: chance(rng, 0.8)}
	switch x := rng.Float64(); {
	case x < 0.15:
		p.ExpiresAt = f.now.Add(time.Duration(1+rng.IntN(48)) * time.Hour)
	case x < 0.3:
		p.ExpiresAt = f.now.Add(-time.Duration(1+rng.IntN(48)) * time.Hour)
	}
	if slices.Contains(f.dataRoles, role) || chance(rng, 0.15) {
		p.Data = f.randData(rng)
	}
	return p
}

func (f *oFixture) randData(rng *rand.Rand) []byte {
	if chance(rng, 0.03) {
		return []byte(`{"sections":"a"}`) // does not decode: the leaf errs
	}
	var d oData
	for _, s := range oSections {
		if chance(rng, 0.4) {
			d.Sections = append(d.Sections, s)
		}
	}
	b, _ := json.Marshal(d)
	return b
}

// randRef returns a Ref a grant of perm (or of a role, perm == nil) may be
// on: an object, a type or global.
func (f *oFixture) randRef(rng *rand.Rand, perm *iam.Perm) iam.Ref {
	fits := func(typ string) bool {
		return perm == nil || len(perm.Types) == 0 || slices.Contains(perm.Types, typ) || chance(rng, 0.02)
	}
	for {
		switch x := rng.Float64(); {
		case x < 0.55:
			if o := pick(rng, f.objects); fits(o.ref.Type) {
				return o.ref
			}
		case x < 0.85:
			if t := pick(rng, f.types); fits(t) {
				return iam.TypeScope(t)
			}
		default:
			return iam.GlobalScope()
		}
	}
}

// grantExpiry returns an expiry for a grant: mostly none, else in the past
// (the grant gives nothing), in the future (it gives what it names, on the
// fixture's fixed clock), the clock's own instant (nothing: a grant ends at
// its ExpiresAt) or a second later.
func (f *oFixture) grantExpiry(rng *rand.Rand) time.Time {
	switch x := rng.Float64(); {
	case x < 0.12:
		return f.pastExpiry(rng)
	case x < 0.24:
		return f.futureExpiry(rng)
	case x < 0.26:
		return f.now
	case x < 0.27:
		return f.now.Add(time.Second)
	}
	return time.Time{}
}

func (f *oFixture) pastExpiry(rng *rand.Rand) time.Time {
	return f.now.Add(-time.Duration(1+rng.IntN(48)) * time.Hour)
}

func (f *oFixture) futureExpiry(rng *rand.Rand) time.Time {
	return f.now.Add(time.Duration(1+rng.IntN(48)) * time.Hour)
}

func (f *oFixture) randGrant(rng *rand.Rand, holder iam.Principal) iam.Grant {
	g := iam.Grant{Holder: holder}
	if chance(rng, 0.6) {
		p := pick(rng, f.perms)
		g.Perm = p.Name
		g.On = f.randRef(rng, &p)
	} else {
		g.Role = pick(rng, f.roles).Name
		g.On = f.randRef(rng, nil)
	}
	return g
}

// seed writes the fixture's initial state to the store (the trusted path)
// and records it in the model.
func (f *oFixture) seed(ctx context.Context, t *testing.T, rng *rand.Rand, c *iam.Checker, st iam.Store) {
	t.Helper()
	// The state is made in the model, then written in one transaction
	// when the store has them (a SQL store's seeding costs one commit).
	defer func() {
		write := func(ctx context.Context, tx iam.Store) error {
			for _, o := range f.objects {
				if o.stored {
					if err := tx.(iam.ParentStore).SetParents(ctx, o.ref, o.parents); err != nil {
						return err
					}
				}
			}
			for _, k := range slices.SortedFunc(maps.Keys(f.model.profiles), compareProfKeys) {
				if err := tx.PutProfile(ctx, f.model.profiles[k]); err != nil {
					return err
				}
			}
			for _, k := range slices.SortedFunc(maps.Keys(f.model.members), compareMembers) {
				if err := tx.AddMember(ctx, k.user, k.group); err != nil {
					return err
				}
			}
			for _, g := range slices.SortedFunc(maps.Keys(f.model.grants), compareGrants) {
				if err := tx.Grant(ctx, withExpiry(g, f.model.grants[g])); err != nil {
					return err
				}
			}
			return nil
		}
		if tr, ok := st.(iam.Transactor); ok {
			require.NoError(t, tr.Transact(ctx, write))
		} else {
			require.NoError(t, write(ctx, st))
		}
	}()
	put := func(p iam.Profile) {
		f.model.profiles[profKey{p.Holder, p.Role}] = p
	}
	// grant keeps the first of two grants with one identity: a random
	// expired grant does not take the place of an actor's live one.
	grant := func(g iam.Grant) {
		if _, dup := f.model.grants[grantKey(g)]; !dup && f.honours(g) {
			f.model.grants[grantKey(g)] = g.ExpiresAt
		}
	}
	live := func(p iam.Profile) iam.Profile { p.Active, p.ExpiresAt = true, time.Time{}; return p }
	byName := map[string]*iam.Role{}
	for _, r := range f.roles {
		byName[r.Name] = r
	}
	for i, u := range f.users {
		holder := iam.User(u.id)
		switch {
		case slices.Contains(f.strong, i):
			for _, p := range f.perms {
				grant(iam.Grant{Holder: holder, Perm: p.Name, On: iam.GlobalScope()})
			}
		case slices.Contains(f.medium, i):
			put(live(f.randProfile(rng, holder, byName["r.mgr"])))
			put(live(f.randProfile(rng, holder, byName["r.power"])))
			if chance(rng, 0.8) {
				// Managers on objects that refuse global roles too.
				grant(iam.Grant{Holder: holder, Perm: iam.PermManageRoles, On: iam.GlobalScope()})
				grant(iam.Grant{Holder: holder, Perm: iam.PermManageGrants, On: iam.GlobalScope()})
			}
			// Some permissions granted globally too, not only by a role.
			for _, p := range f.perms[:len(f.perms)-2] {
				if chance(rng, 0.5) {
					grant(iam.Grant{Holder: holder, Perm: p.Name, On: iam.GlobalScope()})
				}
			}
			// Sometimes a grant that has expired, which gives it nothing
			// to hand on.
			if chance(rng, 0.5) {
				grant(withExpiry(f.randGrant(rng, holder), f.pastExpiry(rng)))
			}
		case slices.Contains(f.partial, i):
			if chance(rng, 0.5) {
				put(live(f.randProfile(rng, holder, byName["r.mgr"])))
			} else {
				grant(iam.Grant{Holder: holder, Perm: iam.PermManageRoles, On: iam.GlobalScope()})
				grant(iam.Grant{Holder: holder, Perm: iam.PermManageGrants, On: iam.GlobalScope()})
			}
			for range 1 + rng.IntN(2) {
				put(live(f.randProfile(rng, holder, pick(rng, f.roles[3:]))))
			}
			// Powers on part of the fixture: the powerful role on a folder
			// (sometimes expired), permissions on a type.
			power := iam.Grant{Holder: holder, Role: "r.power", On: f.objects[rng.IntN(2)].ref}
			if chance(rng, 0.2) {
				power.ExpiresAt = f.pastExpiry(rng)
			}
			grant(power)
			for range 1 + rng.IntN(3) {
				p := pick(rng, f.perms)
				grant(iam.Grant{Holder: holder, Perm: p.Name, On: iam.TypeScope(pick(rng, f.types))})
			}
			for _, p := range f.perms[:len(f.perms)-2] {
				if chance(rng, 0.3) {
					grant(iam.Grant{Holder: holder, Perm: p.Name, On: iam.GlobalScope()})
				}
			}
			// Expired grants, of what the actor may hold no longer.
			for range 2 + rng.IntN(2) {
				grant(withExpiry(f.randGrant(rng, holder), f.pastExpiry(rng)))
			}
		}
		if i == f.super || slices.Contains(f.strong, i) {
			continue
		}
		for range rng.IntN(3) {
			put(f.randProfile(rng, holder, pick(rng, f.roles)))
		}
	}
	for _, g := range f.groups {
		for range rng.IntN(3) {
			// Rarely a Protected role: adding a member to such a group is
			// for superusers only.
			r := pick(rng, f.roles)
			if protectedish(r) && chance(rng, 0.7) {
				continue
			}
			put(f.randProfile(rng, iam.Group(g), r))
		}
	}
	for _, u := range f.users {
		for _, g := range f.groups {
			if chance(rng, 0.3) {
				f.model.members[memberKey{u.id, g}] = true
			}
		}
	}
	// Every Protected role has one or two live user holders.
	for _, r := range f.roles {
		if !r.Protected {
			continue
		}
		for range 1 + rng.IntN(2) {
			u := f.users[rng.IntN(len(f.users))]
			put(live(f.randProfile(rng, iam.User(u.id), r)))
		}
	}
	for range 6 + rng.IntN(7) {
		var holder iam.Principal
		if chance(rng, 0.7) {
			holder = iam.User(pick(rng, f.users).id)
		} else {
			holder = iam.Group(pick(rng, f.groups))
		}
		grant(withExpiry(f.randGrant(rng, holder), f.grantExpiry(rng)))
	}
}

// --- changes ---

type oChange struct {
	ch        iam.Change
	actor     int // index into users: the one who applies (or approves)
	approve   bool
	requester int
	expiry    string // for the counts: how the change involves an expiry ("" none)
}

func (f *oFixture) randActor(rng *rand.Rand) int {
	switch x := rng.Float64(); {
	case x < 0.30:
		return pick(rng, f.strong)
	case x < 0.55:
		return pick(rng, f.medium)
	case x < 0.83:
		return pick(rng, f.partial)
	case x < 0.92:
		return f.super
	case x < 0.94 && f.inactive >= 0:
		return f.inactive
	}
	return rng.IntN(len(f.users))
}

// actorKind names what the fixture made of user i, for the counts.
func (f *oFixture) actorKind(i int) string {
	switch {
	case i == f.super:
		return "superuser"
	case i == f.inactive:
		return "inactive"
	case slices.Contains(f.strong, i):
		return "strong"
	case slices.Contains(f.medium, i):
		return "medium"
	case slices.Contains(f.partial, i):
		return "partial"
	}
	return "plain"
}

// protectedish reports whether role is Protected or includes one (read
// from the policy, to steer the generator away from changes only a
// superuser may make).
func protectedish(r *iam.Role) bool {
	if r.Protected {
		return true
	}
	return slices.ContainsFunc(r.Includes, protectedish)
}

// avoid reports whether the generator should pick another role: most
// changes of Protected roles by non-superusers are steered away.
func (f *oFixture) avoid(rng *rand.Rand, actor int, role string) bool {
	if actor == f.super || role == "" {
		return false
	}
	i := slices.IndexFunc(f.roles, func(r *iam.Role) bool { return r.Name == role })
	return i >= 0 && protectedish(f.roles[i]) && chance(rng, 0.9)
}

// keep reports whether the generator should leave the designated actors'
// powers alone this time (most of the time: the fixture keeps its
// managers, so that changes keep being accepted).
func (f *oFixture) keep(rng *rand.Rand, holder iam.Principal) bool {
	if holder.Kind != iam.KindUser {
		return false
	}
	i := slices.IndexFunc(f.users, func(u *oUser) bool { return u.id == holder.ID })
	k := f.actorKind(i)
	return (k == "strong" || k == "medium" || k == "partial") && chance(rng, 0.95)
}

// avoidGroup is avoid for a membership: the group holds a Protected role
// (a profile or a grant, by the model).
func (f *oFixture) avoidGroup(rng *rand.Rand, actor int, group string) bool {
	if actor == f.super {
		return false
	}
	isProtected := func(name string) bool {
		i := slices.IndexFunc(f.roles, func(r *iam.Role) bool { return r.Name == name })
		return i >= 0 && protectedish(f.roles[i])
	}
	holds := false
	for k := range f.model.profiles {
		holds = holds || k.holder == iam.Group(group) && isProtected(k.role)
	}
	for g := range f.model.grants {
		holds = holds || g.Holder == iam.Group(group) && g.Role != "" && isProtected(g.Role)
	}
	return holds && chance(rng, 0.8)
}

func (f *oFixture) randGroup(rng *rand.Rand, actor int) string {
	for range 8 {
		if g := pick(rng, f.groups); !f.avoidGroup(rng, actor, g) {
			return g
		}
	}
	return pick(rng, f.groups)
}

func (f *oFixture) randRole(rng *rand.Rand, actor int) *iam.Role {
	for {
		if r := pick(rng, f.roles); !f.avoid(rng, actor, r.Name) {
			return r
		}
	}
}

func (f *oFixture) randTarget(rng *rand.Rand, actor int, userOnly bool) iam.Principal {
	if !userOnly && chance(rng, 0.25) {
		// Mostly a group the actor is not in (changing one's own group is
		// a self-change).
		u := f.users[actor]
		var others []string
		for _, g := range f.groups {
			if !f.model.members[memberKey{u.id, g}] && !slices.Contains(u.appGroups, g) {
				others = append(others, g)
			}
		}
		if len(others) > 0 && chance(rng, 0.85) {
			return iam.Group(pick(rng, others))
		}
		return iam.Group(pick(rng, f.groups))
	}
	if chance(rng, 0.015) {
		return iam.User(f.users[actor].id) // a self-change
	}
	designated := append(slices.Clone(f.strong), f.medium...)
	designated = append(designated, f.partial...)
	for {
		i := rng.IntN(len(f.users))
		if i == actor {
			continue
		}
		if slices.Contains(designated, i) && !chance(rng, 0.2) {
			continue
		}
		return iam.User(f.users[i].id)
	}
}

// retry calls pick until it returns true, at most eight times.
func retry[T any](pick func() (T, bool)) (T, bool) {
	var v T
	ok := false
	for range 8 {
		if v, ok = pick(); ok {
			break
		}
	}
	return v, ok
}

// selfish reports whether the generator should leave holder alone this
// time because a change to it would be the actor's own (the actor, or a
// group it is in): mostly yes.
func (f *oFixture) selfish(rng *rand.Rand, actor int, holder iam.Principal) bool {
	u := f.users[actor]
	own := holder == iam.User(u.id) ||
		holder.Kind == iam.KindGroup && (f.model.members[memberKey{u.id, holder.ID}] || slices.Contains(u.appGroups, holder.ID))
	return own && chance(rng, 0.9)
}

func randKey[K comparable, V any](rng *rand.Rand, m map[K]V, less func(a, b K) int) (K, bool) {
	var zero K
	if len(m) == 0 {
		return zero, false
	}
	keys := slices.SortedFunc(maps.Keys(m), less)
	return keys[rng.IntN(len(keys))], true
}

func compareProfKeys(a, b profKey) int {
	return cmp.Or(cmp.Compare(a.holder.Kind, b.holder.Kind), strings.Compare(a.holder.ID, b.holder.ID), strings.Compare(a.role, b.role))
}

func compareGrants(a, b iam.Grant) int {
	return cmp.Or(cmp.Compare(a.Holder.Kind, b.Holder.Kind), strings.Compare(a.Holder.ID, b.Holder.ID),
		strings.Compare(a.Perm, b.Perm), strings.Compare(a.Role, b.Role),
		strings.Compare(a.On.Type, b.On.Type), strings.Compare(a.On.ID, b.On.ID))
}

func compareMembers(a, b memberKey) int {
	return cmp.Or(strings.Compare(a.user, b.user), strings.Compare(a.group, b.group))
}

// can is actor's current answer for (perm, obj) by the model, false for a
// triple of the wrong type.
func (f *oFixture) can(actor, perm, obj int) bool {
	if _, ok := f.tripleIdx[oTripleKey{perm, obj}]; !ok {
		return false
	}
	return f.actorCanModel(f.mcur, actor, perm, obj)
}

// rolePerms returns the indexes of the permissions r grants, Includes
// followed.
func (f *oFixture) rolePerms(r *iam.Role) []int {
	var out []int
	var walk func(r *iam.Role)
	walk = func(r *iam.Role) {
		for _, p := range r.Perms {
			if i := slices.IndexFunc(f.perms, func(q iam.Perm) bool { return q.Name == p }); !slices.Contains(out, i) {
				out = append(out, i)
			}
		}
		for _, inc := range r.Includes {
			walk(inc)
		}
	}
	walk(r)
	return out
}

// canAllOf reports whether actor can currently do every permission of r
// that applies on obj (-1: model level).
func (f *oFixture) canAllOf(actor int, r *iam.Role, obj int) bool {
	for _, pi := range f.rolePerms(r) {
		if _, applies := f.tripleIdx[oTripleKey{pi, obj}]; applies && !f.can(actor, pi, obj) {
			return false
		}
	}
	return true
}

// wideRef returns a type-level or global Ref for perm (nil: a role).
func (f *oFixture) wideRef(rng *rand.Rand, perm *iam.Perm) iam.Ref {
	if chance(rng, 0.4) {
		return iam.GlobalScope()
	}
	if perm != nil && len(perm.Types) > 0 {
		return iam.TypeScope(pick(rng, perm.Types))
	}
	return iam.TypeScope(pick(rng, f.types))
}

// plausibleGrant returns a grant of something the actor can currently do
// where the grant applies (by the Checker's answers): the changes an
// honest manager makes, and the edge where holding it "there" may not be
// enough.
func (f *oFixture) plausibleGrant(rng *rand.Rand, actor int, holder iam.Principal) (iam.Grant, bool) {
	type cand struct{ perm, role, obj int }
	var cs []cand
	if chance(rng, 0.6) {
		for pi := range f.perms {
			for oi := -1; oi < len(f.objects); oi++ {
				if f.can(actor, pi, oi) {
					cs = append(cs, cand{pi, -1, oi})
				}
			}
		}
	} else {
		for ri, r := range f.roles {
			if f.avoid(rng, actor, r.Name) {
				continue
			}
			for oi := -1; oi < len(f.objects); oi++ {
				if f.canAllOf(actor, r, oi) {
					cs = append(cs, cand{-1, ri, oi})
				}
			}
		}
	}
	if len(cs) == 0 {
		return iam.Grant{}, false
	}
	c := pick(rng, cs)
	g := iam.Grant{Holder: holder}
	var perm *iam.Perm
	if c.perm >= 0 {
		perm = &f.perms[c.perm]
		g.Perm = perm.Name
	} else {
		g.Role = f.roles[c.role].Name
	}
	if c.obj >= 0 {
		g.On = f.objects[c.obj].ref
	} else {
		g.On = f.wideRef(rng, perm)
	}
	return g, true
}

// plausibleRole returns a role whose permissions the actor can all do at
// model level.
func (f *oFixture) plausibleRole(rng *rand.Rand, actor int) (*iam.Role, bool) {
	var rs []*iam.Role
	for _, r := range f.roles {
		if !f.avoid(rng, actor, r.Name) && f.canAllOf(actor, r, -1) {
			rs = append(rs, r)
		}
	}
	if len(rs) == 0 {
		return nil, false
	}
	return pick(rng, rs), true
}

func (f *oFixture) randChange(rng *rand.Rand, approvals bool) oChange {
	c := oChange{actor: f.randActor(rng), requester: -1}
	ch := &c.ch
	switch x := rng.Float64(); {
	case x < 0.14:
		ch.Kind = iam.ChangePutProfile
		r, ok := f.plausibleRole(rng, c.actor)
		if !ok || chance(rng, 0.3) {
			r = f.randRole(rng, c.actor)
		}
		ch.Profile = f.randProfile(rng, f.randTarget(rng, c.actor, false), r)
	case x < 0.38:
		ch.Kind = pick(rng, []iam.ChangeKind{iam.ChangeActivate, iam.ChangeDeactivate, iam.ChangeDeleteProfile})
		if k, ok := retry(func() (profKey, bool) {
			k, ok := randKey(rng, f.model.profiles, compareProfKeys)
			return k, ok && !f.avoid(rng, c.actor, k.role) && !f.keep(rng, k.holder) && !f.selfish(rng, c.actor, k.holder)
		}); ok && chance(rng, 0.95) {
			ch.Profile = iam.Profile{Holder: k.holder, Role: k.role}
		} else {
			ch.Profile = iam.Profile{Holder: f.randTarget(rng, c.actor, false), Role: f.randRole(rng, c.actor).Name}
		}
	case x < 0.58:
		ch.Kind = iam.ChangeGrant
		var g iam.Grant
		ok := false
		switch y := rng.Float64(); {
		case y < 0.2:
			// What one of the actor's expired grants named, handed on
			// live: the expired grant gives the actor nothing to hand on.
			if g, ok = f.expiredGrantOf(rng, c.actor); ok {
				g.Holder = f.randTarget(rng, c.actor, false)
				g.ExpiresAt = time.Time{}
				if chance(rng, 0.3) {
					g.ExpiresAt = f.futureExpiry(rng)
				}
				c.expiry = "hand on an expired grant"
			}
		case y < 0.32:
			// A grant again with another expiry, which replaces its own:
			// an expired grant made live again, or a live one ended.
			if g, ok = retry(func() (iam.Grant, bool) {
				g, ok := randKey(rng, f.model.grants, compareGrants)
				return g, ok && !f.avoid(rng, c.actor, g.Role) && !f.keep(rng, g.Holder) && !f.selfish(rng, c.actor, g.Holder)
			}); ok {
				g.ExpiresAt = f.grantExpiry(rng)
				c.expiry = "re-grant"
			}
		}
		if !ok {
			holder := f.randTarget(rng, c.actor, false)
			if g, ok = f.plausibleGrant(rng, c.actor, holder); !ok || chance(rng, 0.3) {
				g = f.randGrant(rng, holder)
				for f.avoid(rng, c.actor, g.Role) {
					g.Role = f.randRole(rng, c.actor).Name
				}
			}
			if g.ExpiresAt = f.grantExpiry(rng); !g.ExpiresAt.IsZero() {
				c.expiry = "grant expiring"
				if !f.live(g.ExpiresAt) {
					c.expiry = "grant expired"
				}
			}
		}
		ch.Grant = g
	case x < 0.85:
		ch.Kind = iam.ChangeRevoke
		if g, ok := retry(func() (iam.Grant, bool) {
			g, ok := randKey(rng, f.model.grants, compareGrants)
			return g, ok && !f.avoid(rng, c.actor, g.Role) && !f.keep(rng, g.Holder) && !f.selfish(rng, c.actor, g.Holder)
		}); ok && chance(rng, 0.8) {
			ch.Grant = g
		} else {
			ch.Grant = f.randGrant(rng, f.randTarget(rng, c.actor, false))
		}
		if chance(rng, 0.1) {
			// A revocation removes the grant whatever expiry it names.
			ch.Grant.ExpiresAt = pick(rng, []time.Time{f.pastExpiry(rng), f.futureExpiry(rng)})
			c.expiry = "revoke naming an expiry"
		}
	case x < 0.91:
		ch.Kind = iam.ChangeAddMember
		ch.User = f.randTarget(rng, c.actor, true).ID
		ch.Group = f.randGroup(rng, c.actor)
	default:
		ch.Kind = iam.ChangeRemoveMember
		if k, ok := retry(func() (memberKey, bool) {
			k, ok := randKey(rng, f.model.members, compareMembers)
			return k, ok && !f.avoidGroup(rng, c.actor, k.group) && !f.selfish(rng, c.actor, iam.User(k.user))
		}); ok && chance(rng, 0.8) {
			ch.User, ch.Group = k.user, k.group
		} else {
			ch.User = f.randTarget(rng, c.actor, true).ID
			ch.Group = f.randGroup(rng, c.actor)
		}
	}
	if (ch.Kind == iam.ChangeGrant || ch.Kind == iam.ChangeRevoke) && ch.Grant.On.IsObject() && chance(rng, 0.5) {
		ch.Object = f.byRef[ch.Grant.On]
	}
	if approvals && chance(rng, 0.1) {
		c.approve = true
		// Often the target asks for itself (a promotion request).
		if t := ch.Target(); t.Kind == iam.KindUser && chance(rng, 0.5) {
			c.requester = slices.IndexFunc(f.users, func(u *oUser) bool { return u.id == t.ID })
		}
		if c.requester < 0 {
			c.requester = rng.IntN(len(f.users))
		}
		if c.requester == c.actor && chance(rng, 0.9) {
			c.requester = (c.actor + 1) % len(f.users)
		}
	}
	return c
}

// expiredGrantOf returns one of the model's expired grants to actor or a
// group it is in.
func (f *oFixture) expiredGrantOf(rng *rand.Rand, actor int) (iam.Grant, bool) {
	u := f.users[actor]
	var gs []iam.Grant
	// In order: avoid draws from rng.
	for _, g := range slices.SortedFunc(maps.Keys(f.model.grants), compareGrants) {
		mine := g.Holder == iam.User(u.id) ||
			g.Holder.Kind == iam.KindGroup && (f.model.members[memberKey{u.id, g.Holder.ID}] || slices.Contains(u.appGroups, g.Holder.ID))
		if mine && !f.live(f.model.grants[g]) && !f.avoid(rng, actor, g.Role) {
			gs = append(gs, g)
		}
	}
	if len(gs) == 0 {
		return iam.Grant{}, false
	}
	return pick(rng, gs), true
}

func grantString(g iam.Grant) string {
	what := "perm " + g.Perm
	if g.Role != "" {
		what = "role " + g.Role
	}
	s := fmt.Sprintf("%s %s on %s", g.Holder, what, g.On)
	if !g.ExpiresAt.IsZero() {
		s += " expires=" + g.ExpiresAt.UTC().Format(time.RFC3339)
	}
	return s
}

func profileString(p iam.Profile) string {
	s := fmt.Sprintf("%s %s active=%v", p.Holder, p.Role, p.Active)
	if !p.ExpiresAt.IsZero() {
		s += " expires=" + p.ExpiresAt.UTC().Format(time.RFC3339)
	}
	if len(p.Data) > 0 {
		s += " data=" + string(p.Data)
	}
	return s
}

func changeString(ch iam.Change) string {
	var s string
	switch ch.Kind {
	case iam.ChangePutProfile:
		s = "put_profile " + profileString(ch.Profile)
	case iam.ChangeActivate, iam.ChangeDeactivate, iam.ChangeDeleteProfile:
		s = fmt.Sprintf("%s %s %s", ch.Kind, ch.Profile.Holder, ch.Profile.Role)
	case iam.ChangeGrant, iam.ChangeRevoke:
		s = fmt.Sprintf("%s %s", ch.Kind, grantString(ch.Grant))
		if ch.Grant.On.IsObject() {
			if ch.Object != nil {
				s += " (Change.Object: the application's object)"
			} else {
				s += " (Change.Object: nil)"
			}
		}
	default:
		s = fmt.Sprintf("%s user:%s group:%s", ch.Kind, ch.User, ch.Group)
	}
	return s
}

// changeKind labels a change for the counts, e.g. "grant role on type".
func changeKind(ch iam.Change) string {
	switch ch.Kind {
	case iam.ChangeGrant, iam.ChangeRevoke:
		what := "perm"
		if ch.Grant.Role != "" {
			what = "role"
		}
		scope := "object"
		switch {
		case ch.Grant.On == iam.GlobalScope():
			scope = "global"
		case !ch.Grant.On.IsObject():
			scope = "type"
		}
		s := fmt.Sprintf("%s %s on %s", ch.Kind, what, scope)
		if ch.Grant.Holder.Kind == iam.KindGroup {
			s += " to group"
		}
		if ch.Kind == iam.ChangeGrant && !ch.Grant.ExpiresAt.IsZero() {
			s += " with an expiry"
		}
		return s
	case iam.ChangeAddMember, iam.ChangeRemoveMember:
		return ch.Kind.String()
	}
	s := ch.Kind.String()
	if ch.Profile.Holder.Kind == iam.KindGroup {
		s += " of group"
	}
	return s
}

// classify names the sentinel a refusal wraps.
func classify(err error) string {
	for _, s := range []struct {
		name string
		err  error
	}{
		{"ErrNotManager", iam.ErrNotManager},
		{"ErrEscalation", iam.ErrEscalation},
		{"ErrSelfChange", iam.ErrSelfChange},
		{"ErrProtected", iam.ErrProtected},
		{"ErrLastHolder", iam.ErrLastHolder},
	} {
		if errors.Is(err, s.err) {
			return s.name
		}
	}
	return "other"
}

// writeTrusted applies ch to the store directly (the trusted path).
func writeTrusted(ctx context.Context, st iam.Store, ch iam.Change) error {
	p := ch.Profile
	switch ch.Kind {
	case iam.ChangePutProfile:
		return st.PutProfile(ctx, p)
	case iam.ChangeActivate, iam.ChangeDeactivate:
		return st.SetProfileActive(ctx, p.Holder, p.Role, ch.Kind == iam.ChangeActivate)
	case iam.ChangeDeleteProfile:
		return st.DeleteProfile(ctx, p.Holder, p.Role)
	case iam.ChangeGrant:
		return st.Grant(ctx, ch.Grant)
	case iam.ChangeRevoke:
		return st.Revoke(ctx, ch.Grant)
	case iam.ChangeAddMember:
		return st.AddMember(ctx, ch.User, ch.Group)
	case iam.ChangeRemoveMember:
		return st.RemoveMember(ctx, ch.User, ch.Group)
	}
	return fmt.Errorf("oracle: change kind %v", ch.Kind)
}

// undo restores, through the store, what m (the model before ch) held where
// ch wrote.
func undo(ctx context.Context, st iam.Store, m *oModel, ch iam.Change) error {
	switch ch.Kind {
	case iam.ChangePutProfile, iam.ChangeActivate, iam.ChangeDeactivate, iam.ChangeDeleteProfile:
		if p, ok := m.profiles[profKey{ch.Profile.Holder, ch.Profile.Role}]; ok {
			return st.PutProfile(ctx, p)
		}
		return st.DeleteProfile(ctx, ch.Profile.Holder, ch.Profile.Role)
	case iam.ChangeGrant, iam.ChangeRevoke:
		if exp, ok := m.grants[grantKey(ch.Grant)]; ok {
			return st.Grant(ctx, withExpiry(grantKey(ch.Grant), exp))
		}
		return st.Revoke(ctx, grantKey(ch.Grant))
	case iam.ChangeAddMember, iam.ChangeRemoveMember:
		if m.members[memberKey{ch.User, ch.Group}] {
			return st.AddMember(ctx, ch.User, ch.Group)
		}
		return st.RemoveMember(ctx, ch.User, ch.Group)
	}
	return fmt.Errorf("oracle: change kind %v", ch.Kind)
}

// --- evaluation ---

// eval fills out with the answer of every triple.
func (f *oFixture) eval(ctx context.Context, c *iam.Checker, out []answer) {
	for i, tr := range f.triples {
		d, err := c.Check(ctx, f.users[tr.user], f.perms[tr.perm].Name, f.object(tr.obj))
		out[i] = answer{ok: err == nil && d.Allowed, d: d, err: err}
	}
}

// evalUser re-checks the triples of evalUsers[k] into out.
func (f *oFixture) evalUser(ctx context.Context, c *iam.Checker, out []answer, k int) {
	n := len(f.tripleIdx)
	for i := k * n; i < (k+1)*n; i++ {
		tr := f.triples[i]
		d, err := c.Check(ctx, f.users[tr.user], f.perms[tr.perm].Name, f.object(tr.obj))
		out[i] = answer{ok: err == nil && d.Allowed, d: d, err: err}
	}
}

// concerned returns the positions in evalUsers of the users whose access
// ch can alter: its target user, or every user in its target group
// (stored members, SubjectGroups).
func (f *oFixture) concerned(ch iam.Change) []int {
	var out []int
	target := ch.Target()
	for k, ui := range f.evalUsers {
		u := f.users[ui]
		switch target.Kind {
		case iam.KindUser:
			if u.id == target.ID {
				out = append(out, k)
			}
		case iam.KindGroup:
			if f.model.members[memberKey{u.id, target.ID}] || slices.Contains(u.appGroups, target.ID) {
				out = append(out, k)
			}
		}
	}
	return out
}

// actorCan is actor's answer for (perm, obj) in ans; superusers can do
// every declared permission (on the types it is declared for), inactive
// users nothing.
func (f *oFixture) actorCan(ans []answer, actor, perm, obj int) (bool, string) {
	u := f.users[actor]
	switch {
	case u.inactive:
		return false, "inactive subject"
	case u.super:
		return true, "superuser"
	}
	// The actor's triples follow the same order as anyone's.
	k := slices.Index(f.evalUsers, actor)
	i := k*len(f.tripleIdx) + f.tripleIdx[oTripleKey{perm, obj}]
	return ans[i].ok, ans[i].String()
}

// actorCanModel is actorCan by the model's answers.
func (f *oFixture) actorCanModel(ans []bool, actor, perm, obj int) bool {
	u := f.users[actor]
	switch {
	case u.inactive:
		return false
	case u.super:
		return true
	}
	k := slices.Index(f.evalUsers, actor)
	return ans[k*len(f.tripleIdx)+f.tripleIdx[oTripleKey{perm, obj}]]
}

type violation struct {
	tr            oTriple
	before, after answer // the Checker's, for the report
	actor         string
}

// violations judges a change by the model's answers before and after it;
// the Checker's (chkBefore, chkAfter) only describe the triples.
func (f *oFixture) violations(before, after []bool, actor int, chkBefore, chkAfter []answer) []violation {
	var out []violation
	for i, tr := range f.triples {
		if !after[i] || before[i] || f.actorCanModel(before, actor, tr.perm, tr.obj) {
			continue
		}
		_, why := f.actorCan(chkBefore, actor, tr.perm, tr.obj)
		out = append(out, violation{tr: tr, before: chkBefore[i], after: chkAfter[i], actor: why})
	}
	return out
}

// howHeld labels how the escalated access is held, e.g. "global role on a
// refusing object".
func (f *oFixture) howHeld(v violation) string {
	s := v.after.d.Reason.String()
	o := f.object(v.tr.obj)
	switch {
	case o == nil:
		s += " (model level)"
	case f.objects[v.tr.obj].refuse:
		s += " (refusing object)"
	}
	if o != nil && v.after.d.On.IsObject() && v.after.d.On != o.ObjectRef() {
		s += " (via ancestor)"
	}
	return s
}

// --- store vs model ---

func normProfile(p iam.Profile, holder iam.Principal) string {
	p.Holder = holder
	if !p.ExpiresAt.IsZero() {
		p.ExpiresAt = time.UnixMicro(p.ExpiresAt.UnixMicro()).UTC()
	}
	return profileString(p)
}

// sameProfile reports whether the store's profile p equals the model's.
func sameProfile(p, want iam.Profile) bool {
	if p.Active != want.Active || p.Role != want.Role || string(p.Data) != string(want.Data) {
		return false
	}
	return sameExpiry(p.ExpiresAt, want.ExpiresAt)
}

// sameExpiry compares expiries to the microsecond, as SQL stores keep them.
func sameExpiry(t, want time.Time) bool {
	if t.IsZero() || want.IsZero() {
		return t.IsZero() == want.IsZero()
	}
	return t.UnixMicro() == want.UnixMicro()
}

// storeMatches reports whether the store holds exactly what the model
// says, for the fixture's principals and refs (without formatting
// anything: it runs after every change).
func (f *oFixture) storeMatches(ctx context.Context, st iam.Store) (bool, error) {
	np, nm, ng := 0, 0, 0
	for _, p := range f.principals() {
		h, err := st.Holding(ctx, p)
		if err != nil {
			return false, err
		}
		for _, pr := range h.Profiles() {
			want, ok := f.model.profiles[profKey{p, pr.Role}]
			if !ok || !sameProfile(pr, want) {
				return false, nil
			}
			np++
		}
		if p.Kind == iam.KindUser {
			for _, g := range h.Groups() {
				if !f.model.members[memberKey{p.ID, g}] {
					return false, nil
				}
				nm++
			}
		}
	}
	for _, r := range f.refs() {
		gs, err := st.Grants(ctx, r)
		if err != nil {
			return false, err
		}
		for _, g := range gs.Grants(r) {
			if exp, ok := f.model.grants[grantKey(g)]; !ok || !sameExpiry(g.ExpiresAt, exp) {
				return false, nil
			}
			ng++
		}
	}
	if ps, ok := st.(iam.ParentStore); ok {
		for _, o := range f.objects {
			got, err := ps.Parents(ctx, o.ref)
			if err != nil {
				return false, err
			}
			var want []iam.Ref
			if o.stored {
				want = o.parents
			}
			if !slices.Equal(got, want) {
				return false, nil
			}
		}
	}
	return np == len(f.model.profiles) && nm == len(f.model.members) && ng == len(f.model.grants), nil
}

// storeState lists what the store holds for the fixture's principals and
// refs; modelState the same from the model.
func (f *oFixture) storeState(ctx context.Context, st iam.Store) ([]string, error) {
	var out []string
	for _, p := range f.principals() {
		h, err := st.Holding(ctx, p)
		if err != nil {
			return nil, err
		}
		for _, pr := range h.Profiles() {
			out = append(out, "profile "+normProfile(pr, p))
		}
		if p.Kind == iam.KindUser {
			for _, g := range h.Groups() {
				out = append(out, "member "+p.ID+" of "+g)
			}
		}
	}
	for _, r := range f.refs() {
		gs, err := st.Grants(ctx, r)
		if err != nil {
			return nil, err
		}
		for _, g := range gs.Grants(r) {
			out = append(out, "grant "+grantString(g))
		}
	}
	if ps, ok := st.(iam.ParentStore); ok {
		for _, o := range f.objects {
			got, err := ps.Parents(ctx, o.ref)
			if err != nil {
				return nil, err
			}
			if len(got) > 0 {
				out = append(out, fmt.Sprintf("parents of %s: %v", o.ref, got))
			}
		}
	}
	slices.Sort(out)
	return out, nil
}

func (f *oFixture) modelState(m *oModel) []string {
	var out []string
	for k, p := range m.profiles {
		out = append(out, "profile "+normProfile(p, k.holder))
	}
	for k := range m.members {
		out = append(out, "member "+k.user+" of "+k.group)
	}
	for g, exp := range m.grants {
		out = append(out, "grant "+grantString(withExpiry(g, exp)))
	}
	for _, o := range f.objects {
		if o.stored {
			out = append(out, fmt.Sprintf("parents of %s: %v", o.ref, o.parents))
		}
	}
	slices.Sort(out)
	return out
}

// describe is the full account of the fixture and the state of m.
func (f *oFixture) describe(m *oModel) string {
	var b strings.Builder
	fmt.Fprintf(&b, "fixture %d (clock %s; Manager given ManagerOptions.Object and Children: %v)\n", f.idx, f.now.Format(time.RFC3339), f.loaders)
	b.WriteString("  permissions:")
	for _, p := range f.perms {
		if len(p.Types) > 0 {
			fmt.Fprintf(&b, " %s%v", p.Name, p.Types)
		} else {
			b.WriteString(" " + p.Name)
		}
	}
	b.WriteString("\n  roles:\n")
	for _, r := range f.roles {
		inc := make([]string, len(r.Includes))
		for i, x := range r.Includes {
			inc[i] = x.Name
		}
		fmt.Fprintf(&b, "    %s perms=%v includes=%v", r.Name, r.Perms, inc)
		if r.Protected {
			b.WriteString(" PROTECTED")
		}
		b.WriteString("\n")
	}
	b.WriteString("  rules:\n")
	for _, name := range slices.Sorted(maps.Keys(f.rules)) {
		fmt.Fprintf(&b, "    %s: %s\n", name, f.rules[name].pred)
	}
	fmt.Fprintf(&b, "  groups: %v\n  users:", f.groups)
	for _, u := range f.users {
		b.WriteString(" " + u.String())
	}
	b.WriteString("\n  objects:\n")
	for _, o := range f.objects {
		b.WriteString("    " + o.String() + "\n")
	}
	b.WriteString("  state:\n")
	for _, s := range f.modelState(m) {
		b.WriteString("    " + s + "\n")
	}
	return b.String()
}

// --- one fixture ---

func runOracleFixture(t *testing.T, newStore func(t *testing.T) iam.Store, o OracleOptions, seed int64, idx int) (rep OracleReport) {
	ctx := t.Context()
	rep = OracleReport{Refused: map[string]int{}, EscalationKinds: map[string]int{}, OverStrictKinds: map[string]int{}, ByActor: map[string]int{}, ExpiryOutcomes: map[string]int{}}
	rng := rand.New(rand.NewPCG(uint64(seed), uint64(idx)))
	f := genFixture(rng, idx)
	st := newStore(t)
	if _, ok := st.(iam.ParentStore); !ok {
		t.Fatalf("iamtest.ManagerOracle: the store does not implement iam.ParentStore")
	}
	c, err := iam.NewWithOptions(f.policy(), st, iam.Options{Now: func() time.Time { return f.now }})
	require.NoError(t, err)
	f.seed(ctx, t, rng, c, st)

	mo := iam.ManagerOptions{Logger: discardLogger()}
	if f.loaders {
		mo.Object = func(_ context.Context, ref iam.Ref) (iam.Object, error) {
			if o := f.byRef[ref]; o != nil {
				return o, nil
			}
			return nil, nil // no such object
		}
		mo.Children = func(_ context.Context, ref iam.Ref) ([]iam.Object, error) {
			var out []iam.Object
			for _, o := range f.objects {
				if slices.Contains(o.parents, ref) {
					out = append(out, o)
				}
			}
			return out, nil
		}
	}
	m := iam.NewManager(c, mo)

	replay := func() string {
		parts := strings.Split(t.Name(), "/")
		for i, p := range parts {
			parts[i] = regexp.QuoteMeta(p)
		}
		return fmt.Sprintf("replay: %s=%d go test -run '^%s$'", OracleSeedEnv, seed, strings.Join(parts, "$/^"))
	}
	// checkStore compares the store with the model; a difference ends the
	// fixture (the state is no longer known).
	checkStore := func(step int, what string, ch iam.Change) bool {
		ok, err := f.storeMatches(ctx, st)
		require.NoError(t, err)
		if ok {
			return true
		}
		got, err := f.storeState(ctx, st)
		require.NoError(t, err)
		if d := gocmp.Diff(f.modelState(&f.model), got); d != "" {
			t.Errorf("fixture %d step %d: %s: the store does not hold what it should (-want +got):\n%s\nchange: %s\n%s\n%s",
				idx, step, what, d, changeString(ch), f.describe(&f.model), replay())
			return false
		}
		return true
	}
	require.True(t, checkStore(-1, "after seeding", iam.Change{}))

	cur := make([]answer, len(f.triples))
	next := make([]answer, len(f.triples))
	undone := make([]answer, len(f.triples))
	mcur := make([]bool, len(f.triples))
	mnext := make([]bool, len(f.triples))
	f.eval(ctx, c, cur)
	f.evalModel(&f.model, mcur)
	// agree compares the Checker's answers with the model's (of the state
	// m, the store's): a difference is a fault of one or the other, and
	// the judgement, by the model, is only as good as the model.
	agree := func(step int, what string, ch iam.Change, m *oModel, chk []answer, mod []bool) {
		for i, tr := range f.triples {
			if chk[i].ok == mod[i] {
				continue
			}
			msg := fmt.Sprintf("fixture %d step %d: %s %s: the Checker and the oracle's model disagree: %s %s on %s: the Checker %s, the model %v\n%s%s",
				idx, step, what, changeString(ch), f.users[tr.user].id, f.perms[tr.perm].Name, objName(f.object(tr.obj)), chk[i], mod[i], f.describe(m), replay())
			rep.Disagreements++
			if len(rep.DisagreementReports) < maxFullReports {
				rep.DisagreementReports = append(rep.DisagreementReports, msg)
			}
			if !o.RecordOnly {
				t.Error(msg)
			}
			return
		}
	}
	agree(-1, "after seeding", iam.Change{}, &f.model, cur, mcur)
	allowed := func(as []bool) int {
		n := 0
		for i, a := range as {
			if a && f.actorKind(f.triples[i].user) == "plain" {
				n++
			}
		}
		return n
	}
	for _, tr := range f.triples {
		if f.actorKind(tr.user) == "plain" {
			rep.Triples++
		}
	}
	rep.AllowedStart = allowed(mcur)
	defer func() { rep.AllowedEnd = allowed(mcur) }()
	fullReports := 0
	evals := 0
	// evalAfter fills dst with the answers after ch (cur: before): every
	// triple, or those of the users ch concerns (see FullEvalEvery).
	evalAfter := func(step int, ch iam.Change, dst []answer) {
		evals++
		ks := f.concerned(ch)
		if o.FullEvalEvery > 1 && evals%o.FullEvalEvery != 0 {
			copy(dst, cur)
			for _, k := range ks {
				f.evalUser(ctx, c, dst, k)
			}
			return
		}
		f.eval(ctx, c, dst)
		n := len(f.tripleIdx)
		for i := range dst {
			if dst[i].ok != cur[i].ok && !slices.Contains(ks, i/n) {
				tr := f.triples[i]
				t.Errorf("fixture %d step %d: %s changed the access of %s, whom it does not concern: %s on %s: %s, was %s\n%s",
					idx, step, changeString(ch), f.users[tr.user].id, f.perms[tr.perm].Name, objName(f.object(tr.obj)), dst[i], cur[i], replay())
				return
			}
		}
	}
	escRefusals := 0
	share := 0
	if o.MinAccepted > 0 {
		share = (o.MinAccepted + o.Fixtures - 1) / o.Fixtures
	}

	for step := 0; step < 4*o.ChangesPerFixture && (step < o.ChangesPerFixture || rep.Accepted < share); step++ {
		f.cur, f.mcur = cur, mcur
		tc := f.randChange(rng, o.Apply == nil)
		actor := f.users[tc.actor]
		rep.Tried++
		var err error
		switch {
		case o.Apply != nil:
			err = o.Apply(ctx, m, st, actor, tc.ch)
		case tc.approve:
			var req iam.Request
			req, err = m.Request(ctx, f.users[tc.requester], tc.ch)
			if err == nil {
				err = m.Approve(ctx, actor, req)
			}
		default:
			err = m.Apply(ctx, actor, tc.ch)
		}
		who := actor.String()
		if tc.approve {
			who += " approving a request by " + f.users[tc.requester].id
		}

		if tc.expiry != "" {
			outcome := "accepted"
			if err != nil {
				outcome = classify(err)
			}
			rep.ExpiryOutcomes[tc.expiry+" "+outcome]++
		}
		if err != nil {
			class := classify(err)
			rep.Refused[class]++
			rep.ByActor[f.actorKind(tc.actor)+" "+class]++
			if class == "other" && len(rep.OtherErrors) < 8 && !slices.Contains(rep.OtherErrors, err.Error()) {
				rep.OtherErrors = append(rep.OtherErrors, err.Error())
			}
			if !checkStore(step, "refused ("+err.Error()+") but wrote", tc.ch) {
				return rep
			}
			if class != "ErrEscalation" {
				continue
			}
			escRefusals++
			if o.ReplayEvery > 1 && escRefusals%o.ReplayEvery != 0 {
				continue
			}
			// Judge the refusal: apply the change through the store, ask
			// the oracle, undo it.
			if werr := writeTrusted(ctx, st, tc.ch); werr != nil {
				continue // the store refuses it too (a missing profile)
			}
			rep.Replayed++
			after := f.model.clone()
			after.apply(tc.ch)
			evalAfter(step, tc.ch, next)
			f.evalModelAfter(after, tc.ch, mcur, mnext)
			agree(step, "replaying the refused", tc.ch, after, next, mnext)
			if len(f.violations(mcur, mnext, tc.actor, cur, next)) == 0 {
				rep.OverStrict++
				rep.OverStrictKinds[changeKind(tc.ch)]++
			}
			require.NoError(t, undo(ctx, st, &f.model, tc.ch))
			evalAfter(step, tc.ch, undone)
			for i := range f.triples {
				if undone[i].ok != cur[i].ok {
					tr := f.triples[i]
					t.Fatalf("fixture %d step %d: undoing %s did not restore %s %s on %s: %s, was %s\n%s",
						idx, step, changeString(tc.ch), f.users[tr.user].id, f.perms[tr.perm].Name, objName(f.object(tr.obj)),
						undone[i], cur[i], replay())
				}
			}
			if !checkStore(step, "undo of a replayed refusal", tc.ch) {
				return rep
			}
			continue
		}

		rep.Accepted++
		rep.ByActor[f.actorKind(tc.actor)+" accepted"]++
		if tc.approve {
			rep.Approved++
		}
		if g := tc.ch.Grant; tc.ch.Kind == iam.ChangeGrant && !g.ExpiresAt.IsZero() {
			rep.ExpiringGrants++
			if !f.live(g.ExpiresAt) {
				rep.ExpiredGrants++
			}
		}
		after := f.model.clone()
		if !after.apply(tc.ch) {
			t.Errorf("fixture %d step %d: %s was accepted, but the store cannot hold it", idx, step, changeString(tc.ch))
			return rep
		}
		evalAfter(step, tc.ch, next)
		f.evalModelAfter(after, tc.ch, mcur, mnext)
		agree(step, "accepted", tc.ch, after, next, mnext)
		if vs := f.violations(mcur, mnext, tc.actor, cur, next); len(vs) > 0 {
			rep.Escalations++
			rep.EscalatedTriples += len(vs)
			kind := changeKind(tc.ch) + " → " + f.howHeld(vs[0])
			rep.EscalationKinds[kind]++
			var b strings.Builder
			fmt.Fprintf(&b, "ESCALATION in fixture %d, step %d (seed %d; %s)\n", idx, step, seed, replay())
			fmt.Fprintf(&b, "  actor: %s\n  change: %s\n  kind: %s\n", who, changeString(tc.ch), kind)
			for i, v := range vs {
				if i == 5 {
					fmt.Fprintf(&b, "  ... and %d more triples\n", len(vs)-i)
					break
				}
				fmt.Fprintf(&b, "  %s can now %s on %s\n    after:  %s\n    before: %s\n    actor:  %s\n",
					f.users[v.tr.user].id, f.perms[v.tr.perm].Name, objName(f.object(v.tr.obj)), v.after, v.before, v.actor)
			}
			b.WriteString(f.describe(&f.model))
			if len(rep.Findings) < maxFindings {
				rep.Findings = append(rep.Findings, OracleFinding{Fixture: idx, Step: step, Actor: who, Change: tc.ch, Kind: kind, Report: b.String()})
			}
			if !o.RecordOnly {
				if fullReports < maxFullReports {
					t.Error(b.String())
				} else {
					t.Errorf("ESCALATION in fixture %d, step %d: %s by %s: %s can now %s on %s (%s)", idx, step, changeString(tc.ch), who,
						f.users[vs[0].tr.user].id, f.perms[vs[0].tr.perm].Name, objName(f.object(vs[0].tr.obj)), vs[0].after)
				}
				fullReports++
			}
		}
		f.model = *after
		if !checkStore(step, "accepted", tc.ch) {
			return rep
		}
		cur, next = next, cur
		mcur, mnext = mnext, mcur
	}
	return rep
}
