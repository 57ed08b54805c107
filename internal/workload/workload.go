// Package workload generates the data of the realistic check benchmarks:
// users, objects (with parents, for an ancestry), groups and their
// members, the grants of permissions on objects, and a pool of distinct
// (user, permission, object) questions drawn into Zipf and uniform
// sequences. Everything follows from a Spec by arithmetic on a seed, so
// the expected answer of every question is known without asking any
// authorization engine, and the same Spec gives the same data in every
// process.
//
// It imports only the standard library: the root package's benchmarks,
// the iamsql benchmarks and the benchmarks module (which compares iam
// with other libraries) all load the same data, each converting the plain
// Grant, Parent and Membership values into its own engine's form.
package workload

import (
	"encoding/hex"
	"errors"
	"fmt"
	"iter"
	"math/rand/v2"
	"strconv"
)

// The full scale of the benchmarks: Flat(1) and the other standard specs
// with a divisor of 1 make Grants grants over Users users.
const (
	Users  = 100_000
	Grants = 1_000_000
	// PoolSize distinct questions at full scale.
	PoolSize = 1 << 17
	// SeqLen questions in each sequence: drawn in advance, so that drawing
	// is not timed; a power of two, so that a benchmark can wrap around
	// with a mask.
	SeqLen = 1 << 20
	// ZipfS is the Zipf exponent: a few hot questions, a long tail.
	ZipfS = 1.1
)

// perms are the permissions the grants give and the questions ask about;
// Question.Perm indexes them (Workload.Perms).
var perms = [...]string{"doc.view", "doc.edit", "doc.comment"}

// The strides that space the holders of one object's slots (and one
// user's groups): the holder of slot j is base+j*stride, modulo the
// number of users or groups. A prime stride that does not divide the
// modulus keeps the holders of one object distinct, so no two slots
// collapse into one grant, and who holds which slot is arithmetic rather
// than a lookup.
const (
	userStride  = 997
	groupStride = 499
)

// Level is one level of a spec's objects. Level 0 holds the objects the
// questions are about; object x of level L has parent x/(N_L/N_{L+1}) on
// level L+1, so each level's N must be a multiple of the next one's.
type Level struct {
	Type       string // the objects' type, such as "doc"
	N          int    // objects on the level
	Slots      int    // grants on each object
	GroupSlots int    // how many of those (the last ones) go to groups
}

// Spec describes a workload by its sizes and seed.
type Spec struct {
	Name string
	Seed uint64
	// Users is the number of users; UUID makes user and object IDs
	// UUID-shaped instead of short ("u17", "d42").
	Users int
	UUID  bool
	// Groups is the number of groups; each user is a member of
	// GroupsPerUser of them (when Groups > 0).
	Groups        int
	GroupsPerUser int
	Levels        []Level
	// Pool is the number of distinct questions, SeqLen the length of each
	// sequence (a power of two), ZipfS the Zipf exponent (0: ZipfS).
	Pool   int
	SeqLen int
	ZipfS  float64
}

// Flat is the spec of the flat mixes: documents with 4 grants each, to
// users with short IDs. div divides every size: 1 gives 1,000,000 grants
// over 100,000 users and 250,000 documents, 10 a tenth of that.
func Flat(div int) Spec {
	return Spec{Name: "flat", Seed: 1, Users: Users / div,
		Levels: []Level{{Type: "doc", N: 250_000 / div, Slots: 4}}, Pool: PoolSize / div, SeqLen: SeqLen}
}

// UUIDs is Flat with UUID-shaped user and document IDs.
func UUIDs(div int) Spec {
	s := Flat(div)
	s.Name, s.Seed, s.UUID = "uuid", 2, true
	return s
}

// Groups20 is Flat with half of the grants on each document given to
// groups; each user is a member of 20 of the 10,000/div groups.
func Groups20(div int) Spec {
	s := Flat(div)
	s.Name, s.Seed, s.Groups, s.GroupsPerUser = "groups20", 3, 10_000/div, 20
	s.Levels[0].GroupSlots = 2
	return s
}

// Depth4 has documents in folders in projects in organisations, with
// grants on every level: fewer on a document, many on an organisation, as
// sharing a whole organisation with its staff would give.
func Depth4(div int) Spec {
	s := Flat(div)
	s.Name, s.Seed = "depth4", 4
	s.Levels = []Level{
		{Type: "doc", N: 200_000 / div, Slots: 3},
		{Type: "folder", N: 50_000 / div, Slots: 4},
		{Type: "project", N: 10_000 / div, Slots: 10},
		{Type: "org", N: 1_000 / div, Slots: 100},
	}
	return s
}

// Question is one (user, permission, object) question and its expected
// answer. User indexes Workload.Users, Perm Workload.Perms, Object the
// objects of level 0.
type Question struct {
	User, Perm, Object int
	Want               bool
}

// Grant is one grant, by IDs: exactly one of User and Group is set.
type Grant struct {
	User, Group string
	Perm        string
	ObjectType  string
	ObjectID    string
}

// Parent says that an object's parent is another object.
type Parent struct {
	Type, ID             string
	ParentType, ParentID string
}

// Membership says that a user is a member of a group.
type Membership struct{ User, Group string }

// Workload is a generated workload.
type Workload struct {
	Spec  Spec
	Perms []string
	// Users are the user IDs, Objects the object IDs of each level,
	// GroupIDs the group IDs.
	Users    []string
	Objects  [][]string
	GroupIDs []string
	// Pool holds the distinct questions, allowed and denied in turn.
	Pool []Question
	// Uniform and Zipf are sequences of indexes into Pool. Zipf rank k is
	// question k, so the hottest questions alternate between allowed and
	// denied too.
	Uniform, Zipf []uint32
}

// mix is the splitmix64 finaliser: a deterministic hash of x.
func mix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ x>>30) * 0xbf58476d1ce4e5b9
	x = (x ^ x>>27) * 0x94d049bb133111eb
	return x ^ x>>31
}

func (s *Spec) hash(salt uint64, l, x int) uint64 {
	return mix(s.Seed<<56 ^ salt<<48 ^ uint64(l)<<40 ^ uint64(x))
}

// perm is the permission index of slot j of object x on level l.
func (s *Spec) perm(l, x, j int) int { return (x + j + l) % len(perms) }

// holder returns who holds slot j of object x on level l: a user index, or
// a group index when group is true.
func (s *Spec) holder(l, x, j int) (id int, group bool) {
	us := s.Levels[l].Slots - s.Levels[l].GroupSlots
	if j < us {
		return (int(s.hash(1, l, x)%uint64(s.Users)) + j*userStride) % s.Users, false
	}
	return (int(s.hash(2, l, x)%uint64(s.Groups)) + (j-us)*groupStride) % s.Groups, true
}

// group returns the k-th group of user u.
func (s *Spec) group(u, k int) int {
	return (int(s.hash(3, 0, u)%uint64(s.Groups)) + k*groupStride) % s.Groups
}

func (s *Spec) member(u, g int) bool {
	for k := range s.GroupsPerUser {
		if s.group(u, k) == g {
			return true
		}
	}
	return false
}

// parent returns the index of x's parent on level l+1.
func (s *Spec) parent(l, x int) int { return x / (s.Levels[l].N / s.Levels[l+1].N) }

// holds is the expected answer: user u holds permission p on object d of
// level 0 through a grant to itself or to one of its groups, on d or on
// one of its ancestors.
func (s *Spec) holds(u, p, d int) bool {
	x := d
	for l, lv := range s.Levels {
		for j := range lv.Slots {
			if s.perm(l, x, j) != p {
				continue
			}
			id, group := s.holder(l, x, j)
			if group && s.member(u, id) || !group && id == u {
				return true
			}
		}
		if l+1 < len(s.Levels) {
			x = s.parent(l, x)
		}
	}
	return false
}

func gcd(a, b int) int {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

// distinct reports whether base+j*stride (mod n) is distinct for j < k.
func distinct(stride, n, k int) bool { return n/gcd(stride, n) >= k }

func (s *Spec) validate() error {
	switch {
	case s.Users <= 0:
		return errors.New("no users")
	case len(s.Levels) == 0:
		return errors.New("no levels")
	case s.Pool <= 0:
		return errors.New("no questions")
	case s.SeqLen <= 0 || s.SeqLen&(s.SeqLen-1) != 0:
		return fmt.Errorf("SeqLen %d is not a power of two", s.SeqLen)
	case s.Groups > 0 && (s.GroupsPerUser <= 0 || !distinct(groupStride, s.Groups, s.GroupsPerUser)):
		return fmt.Errorf("%d groups cannot give each user %d distinct groups", s.Groups, s.GroupsPerUser)
	}
	for l, lv := range s.Levels {
		us := lv.Slots - lv.GroupSlots
		switch {
		case lv.Type == "" || lv.N <= 0 || lv.Slots <= 0 || us < 0:
			return fmt.Errorf("level %d: %+v", l, lv)
		case !distinct(userStride, s.Users, us):
			return fmt.Errorf("level %d: %d users cannot hold %d distinct slots", l, s.Users, us)
		case lv.GroupSlots > 0 && (s.Groups == 0 || !distinct(groupStride, s.Groups, lv.GroupSlots)):
			return fmt.Errorf("level %d: %d groups cannot hold %d distinct slots", l, s.Groups, lv.GroupSlots)
		case l+1 < len(s.Levels) && (s.Levels[l+1].N <= 0 || lv.N%s.Levels[l+1].N != 0):
			return fmt.Errorf("level %d: %d objects are not a multiple of the next level's %d", l, lv.N, s.Levels[l+1].N)
		}
	}
	return nil
}

// uuid returns a random version-4 UUID string drawn from r.
func uuid(r *rand.Rand) string {
	var u [16]byte
	for i := range 2 {
		x := r.Uint64()
		for k := range 8 {
			u[i*8+k] = byte(x >> (8 * k))
		}
	}
	u[6] = u[6]&0x0f | 0x40
	u[8] = u[8]&0x3f | 0x80
	var b [36]byte
	hex.Encode(b[0:8], u[0:4])
	hex.Encode(b[9:13], u[4:6])
	hex.Encode(b[14:18], u[6:8])
	hex.Encode(b[19:23], u[8:10])
	hex.Encode(b[24:36], u[10:16])
	b[8], b[13], b[18], b[23] = '-', '-', '-', '-'
	return string(b[:])
}

// Generate builds the workload of s: its IDs, its questions with their
// expected answers, and the two sequences.
func Generate(s Spec) (*Workload, error) {
	s.Levels = append([]Level(nil), s.Levels...)
	if s.ZipfS == 0 {
		s.ZipfS = ZipfS
	}
	if err := s.validate(); err != nil {
		return nil, fmt.Errorf("workload %s: %w", s.Name, err)
	}
	w := &Workload{Spec: s, Perms: perms[:]}
	names := rand.New(rand.NewPCG(s.Seed, 0x1d))
	name := func(prefix string, i int) string {
		if s.UUID {
			return uuid(names)
		}
		return prefix + strconv.Itoa(i)
	}
	w.Users = make([]string, s.Users)
	for i := range w.Users {
		w.Users[i] = name("u", i)
	}
	w.Objects = make([][]string, len(s.Levels))
	for l, lv := range s.Levels {
		w.Objects[l] = make([]string, lv.N)
		for x := range w.Objects[l] {
			w.Objects[l][x] = name(lv.Type[:1], x)
		}
	}
	w.GroupIDs = make([]string, s.Groups)
	for g := range w.GroupIDs {
		w.GroupIDs[g] = "g" + strconv.Itoa(g)
	}
	if err := w.questions(); err != nil {
		return nil, fmt.Errorf("workload %s: %w", s.Name, err)
	}
	return w, nil
}

// questions draws the distinct questions, allowed and denied in turn, and
// the sequences asked from them. Denied questions are half near misses (a
// holder of a grant on the object's chain, asking for another permission)
// and half a random user.
func (w *Workload) questions() error {
	s := &w.Spec
	r := rand.New(rand.NewPCG(s.Seed, 0x9e37))
	var members [][]int32
	if s.Groups > 0 {
		members = make([][]int32, s.Groups)
		for u := range s.Users {
			for k := range s.GroupsPerUser {
				g := s.group(u, k)
				members[g] = append(members[g], int32(u))
			}
		}
	}
	seen := make(map[[3]int32]bool, s.Pool)
	w.Pool = make([]Question, 0, s.Pool)
	// A spec too small for its pool would draw for ever: give up after
	// many more draws than questions.
	for tries := 0; len(w.Pool) < s.Pool; tries++ {
		if tries > 100*s.Pool+1000 {
			return fmt.Errorf("found only %d distinct questions of %d", len(w.Pool), s.Pool)
		}
		want := len(w.Pool)%2 == 0
		d := r.IntN(s.Levels[0].N)
		var u, p int
		if want || r.IntN(2) == 0 {
			l := r.IntN(len(s.Levels))
			x := d
			for k := range l {
				x = s.parent(k, x)
			}
			j := r.IntN(s.Levels[l].Slots)
			id, group := s.holder(l, x, j)
			u, p = id, s.perm(l, x, j)
			if group {
				ms := members[id]
				if len(ms) == 0 {
					continue
				}
				u = int(ms[r.IntN(len(ms))])
			}
			if !want {
				p = (p + 1 + r.IntN(len(perms)-1)) % len(perms)
			}
		} else {
			u, p = r.IntN(s.Users), r.IntN(len(perms))
		}
		k := [3]int32{int32(u), int32(p), int32(d)}
		if s.holds(u, p, d) != want || seen[k] {
			continue
		}
		seen[k] = true
		w.Pool = append(w.Pool, Question{User: u, Perm: p, Object: d, Want: want})
	}
	w.Uniform = make([]uint32, s.SeqLen)
	for i := range w.Uniform {
		w.Uniform[i] = uint32(r.IntN(s.Pool))
	}
	z := rand.NewZipf(r, s.ZipfS, 1, uint64(s.Pool-1))
	w.Zipf = make([]uint32, s.SeqLen)
	for i := range w.Zipf {
		w.Zipf[i] = uint32(z.Uint64())
	}
	return nil
}

// Holds reports whether user u holds permission p (an index of Perms) on
// object d of level 0: the generator's answer, computed from the spec's
// formulas.
func (w *Workload) Holds(u, p, d int) bool { return w.Spec.holds(u, p, d) }

// NumGrants is the number of grants Grants yields.
func (w *Workload) NumGrants() int {
	n := 0
	for _, lv := range w.Spec.Levels {
		n += lv.N * lv.Slots
	}
	return n
}

// Grants yields every grant, level by level, object by object.
func (w *Workload) Grants() iter.Seq[Grant] {
	return func(yield func(Grant) bool) {
		s := &w.Spec
		for l, lv := range s.Levels {
			for x, oid := range w.Objects[l] {
				for j := range lv.Slots {
					g := Grant{Perm: perms[s.perm(l, x, j)], ObjectType: lv.Type, ObjectID: oid}
					if id, group := s.holder(l, x, j); group {
						g.Group = w.GroupIDs[id]
					} else {
						g.User = w.Users[id]
					}
					if !yield(g) {
						return
					}
				}
			}
		}
	}
}

// Parents yields the parent of every object below the top level.
func (w *Workload) Parents() iter.Seq[Parent] {
	return func(yield func(Parent) bool) {
		s := &w.Spec
		for l := 0; l+1 < len(s.Levels); l++ {
			for x, id := range w.Objects[l] {
				p := Parent{Type: s.Levels[l].Type, ID: id, ParentType: s.Levels[l+1].Type, ParentID: w.Objects[l+1][s.parent(l, x)]}
				if !yield(p) {
					return
				}
			}
		}
	}
}

// Memberships yields every user's groups, user by user.
func (w *Workload) Memberships() iter.Seq[Membership] {
	return func(yield func(Membership) bool) {
		s := &w.Spec
		if s.Groups == 0 {
			return
		}
		for u, uid := range w.Users {
			for k := range s.GroupsPerUser {
				if !yield(Membership{User: uid, Group: w.GroupIDs[s.group(u, k)]}) {
					return
				}
			}
		}
	}
}

// Writes returns n grants of the level-0 objects to users that no
// question asks about ("w0", "w1", ...), for a benchmark to write and
// revoke in turn: the store keeps its size and every expected answer
// holds.
func (w *Workload) Writes(n int) []Grant {
	s := &w.Spec
	r := rand.New(rand.NewPCG(s.Seed, 0x77))
	out := make([]Grant, n)
	for k := range out {
		out[k] = Grant{User: "w" + strconv.Itoa(k), Perm: perms[k%len(perms)], ObjectType: s.Levels[0].Type,
			ObjectID: w.Objects[0][r.IntN(s.Levels[0].N)]}
	}
	return out
}

// Sample returns n pool indexes for a benchmark to check before its
// timing: the first n/2 questions of seq (what the timed loop asks first)
// and n/2 spread over the whole pool (the hottest Zipf ranks among them).
func (w *Workload) Sample(seq []uint32, n int) []uint32 {
	half := min(n/2, len(seq), len(w.Pool))
	out := make([]uint32, 0, 2*half)
	out = append(out, seq[:half]...)
	for k := range half {
		out = append(out, uint32(k*len(w.Pool)/half))
	}
	return out
}

// AllowedShare is the share of seq's questions whose answer is allowed.
func (w *Workload) AllowedShare(seq []uint32) float64 {
	if len(seq) == 0 {
		return 0
	}
	yes := 0
	for _, k := range seq {
		if w.Pool[k].Want {
			yes++
		}
	}
	return float64(yes) / float64(len(seq))
}
