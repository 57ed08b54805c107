package benchmarks

import (
	"fmt"
	"math/rand/v2"
	"strconv"
)

// Seed is the fixed seed every data set is generated from: each run, and
// each library, sees the same users, roles, grants and requests.
const Seed = 20261122

// Kind is the shape of a scenario's data.
type Kind uint8

// The scenario shapes.
const (
	// RBAC: casbin's "RBAC" benchmark shape. Users hold one role each,
	// role r may read resource r/10.
	RBAC Kind = iota + 1
	// ObjectGrants: per-object grants of doc.view to users and groups;
	// users are members of groups.
	ObjectGrants
	// OwnerRule: an attribute rule, "the owner of the post, or an editor".
	OwnerRule
)

// Rotate is how many allowed (and how many denied) requests a timed
// benchmark cycles through: not one cached answer, and the same working set
// at every size, so the sizes compare.
const Rotate = 64

// SampleSize is how many requests the correctness cross-check decides with
// every library before any timing.
const SampleSize = 10_000

// Request is one access check: may User do the scenario's action on Obj?
// Users, roles, resources, documents, groups and posts are numbered; each
// library gets the same numbers as its own strings (see Names).
type Request struct {
	User int
	Obj  int // RBAC: resource; ObjectGrants: document; OwnerRule: post
	Want bool
}

// Grant is one per-object grant of doc.view.
type Grant struct {
	Holder int  // a user, or a group when Group is set
	Group  bool // the holder is a group
	Doc    int
}

// Scenario is one generated data set and its requests.
type Scenario struct {
	Name string
	Kind Kind

	Users int
	Names Names

	// RBAC
	Roles, Resources int
	UserRole         []int // the one role of each user
	RoleResource     []int // the resource each role may read

	// ObjectGrants
	Groups, Docs int
	Grants       []Grant
	Members      [][]int // the groups of each user

	// OwnerRule
	Posts     int
	PostOwner []int
	Editor    []bool

	Allowed, Denied []Request // Rotate each: the timed requests
	Sample          []Request // SampleSize: the cross-check

	allowedBy map[int][]principal // ObjectGrants oracle: doc -> holders
}

type principal struct {
	id    int
	group bool
}

// Names are the strings every library uses for the scenario's numbers.
type Names struct {
	User, Role, Resource, Group, Doc, Post []string
	// Perm is the iam permission for reading each RBAC resource
	// ("data7.read"); Act is the action for the other libraries.
	Perm []string
}

// Lines is the number of casbin policy lines the scenario loads (p and g
// lines), and Grants the number of per-object grants.
func (s *Scenario) Lines() int {
	switch s.Kind {
	case RBAC:
		return s.Roles + s.Users
	case ObjectGrants:
		n := len(s.Grants)
		for _, gs := range s.Members {
			n += len(gs)
		}
		return n
	case OwnerRule:
		n := 0
		for _, e := range s.Editor {
			if e {
				n++
			}
		}
		return n
	}
	return 0
}

// Scenarios lists the scenario names in the order they are benchmarked.
var Scenarios = []string{
	"rbac_small", "rbac_medium", "rbac_large",
	"object_grants_1k", "object_grants_100k", "object_grants_1M",
	"owner_rule",
}

// Generate builds the named scenario from the fixed seed. "parallel" is
// rbac_small.
func Generate(name string) (*Scenario, error) {
	switch name {
	case "rbac_small", "parallel":
		return genRBAC(name, 1), nil
	case "rbac_medium":
		return genRBAC(name, 10), nil
	case "rbac_large":
		return genRBAC(name, 100), nil
	case "object_grants_1k":
		return genObjects(name, 1_000), nil
	case "object_grants_100k":
		return genObjects(name, 100_000), nil
	case "object_grants_1M":
		return genObjects(name, 1_000_000), nil
	case "owner_rule":
		return genOwner(name), nil
	}
	return nil, fmt.Errorf("unknown scenario %q", name)
}

func rng(name string) *rand.Rand {
	var h uint64 = 14695981039346656037
	for i := 0; i < len(name); i++ {
		h = (h ^ uint64(name[i])) * 1099511628211
	}
	return rand.New(rand.NewPCG(Seed, h))
}

func names(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = prefix + strconv.Itoa(i)
	}
	return out
}

// genRBAC: casbin's RBAC benchmark at scale k: 1,000k users, 100k roles,
// 10k resources; role r may read resource r/10; each user holds one role,
// drawn from the seed. casbin: 100k p lines and 1,000k g lines.
func genRBAC(name string, k int) *Scenario {
	r := rng(name)
	s := &Scenario{Name: name, Kind: RBAC, Users: 1000 * k, Roles: 100 * k, Resources: 10 * k}
	s.Names = Names{User: names("user", s.Users), Role: names("role", s.Roles), Resource: names("data", s.Resources)}
	s.Names.Perm = make([]string, s.Resources)
	for i, res := range s.Names.Resource {
		s.Names.Perm[i] = res + ".read"
	}
	s.RoleResource = make([]int, s.Roles)
	for i := range s.RoleResource {
		s.RoleResource[i] = i / 10
	}
	s.UserRole = make([]int, s.Users)
	for u := range s.UserRole {
		s.UserRole[u] = r.IntN(s.Roles)
	}
	allowed := func() Request {
		u := r.IntN(s.Users)
		return Request{User: u, Obj: s.RoleResource[s.UserRole[u]], Want: true}
	}
	denied := func() Request {
		u := r.IntN(s.Users)
		res := r.IntN(s.Resources - 1)
		if res >= s.RoleResource[s.UserRole[u]] {
			res++
		}
		return Request{User: u, Obj: res}
	}
	s.requests(r, allowed, denied)
	return s
}

// genObjects: n grants of doc.view on n/2 documents, 80% to one of 10,000
// users and 20% to one of 100 groups; each user is a member of two groups.
func genObjects(name string, n int) *Scenario {
	r := rng(name)
	s := &Scenario{Name: name, Kind: ObjectGrants, Users: 10_000, Groups: 100, Docs: max(n/2, 1)}
	s.Names = Names{User: names("user", s.Users), Group: names("group", s.Groups), Doc: names("doc", s.Docs)}
	s.Members = make([][]int, s.Users)
	groupMembers := make([][]int, s.Groups)
	for u := range s.Members {
		a := r.IntN(s.Groups)
		b := r.IntN(s.Groups - 1)
		if b >= a {
			b++
		}
		s.Members[u] = []int{a, b}
		groupMembers[a] = append(groupMembers[a], u)
		groupMembers[b] = append(groupMembers[b], u)
	}
	s.allowedBy = make(map[int][]principal, s.Docs)
	s.Grants = make([]Grant, 0, n)
	for len(s.Grants) < n {
		g := Grant{Doc: r.IntN(s.Docs)}
		if r.IntN(5) == 0 {
			g.Group, g.Holder = true, r.IntN(s.Groups)
		} else {
			g.Holder = r.IntN(s.Users)
		}
		p := principal{g.Holder, g.Group}
		dup := false
		for _, q := range s.allowedBy[g.Doc] {
			dup = dup || q == p
		}
		if dup {
			continue
		}
		s.allowedBy[g.Doc] = append(s.allowedBy[g.Doc], p)
		s.Grants = append(s.Grants, g)
	}
	allowed := func() Request {
		g := s.Grants[r.IntN(len(s.Grants))]
		if !g.Group {
			return Request{User: g.Holder, Obj: g.Doc, Want: true}
		}
		ms := groupMembers[g.Holder]
		return Request{User: ms[r.IntN(len(ms))], Obj: g.Doc, Want: true}
	}
	denied := func() Request {
		for {
			q := Request{User: r.IntN(s.Users), Obj: r.IntN(s.Docs)}
			if !s.oracle(q) {
				return q
			}
		}
	}
	s.requests(r, allowed, denied)
	return s
}

// genOwner: 10,000 users, 10% of them editors; 10,000 posts, each owned by
// a user. post.edit: the owner of the post, or an editor.
func genOwner(name string) *Scenario {
	r := rng(name)
	s := &Scenario{Name: name, Kind: OwnerRule, Users: 10_000, Posts: 10_000}
	s.Names = Names{User: names("user", s.Users), Post: names("post", s.Posts)}
	s.Editor = make([]bool, s.Users)
	for u := range s.Editor {
		s.Editor[u] = r.IntN(10) == 0
	}
	s.PostOwner = make([]int, s.Posts)
	for p := range s.PostOwner {
		s.PostOwner[p] = r.IntN(s.Users)
	}
	allowed := func() Request {
		// Half through ownership by a non-editor (the rule's second
		// branch), half through the editor role.
		for {
			p := r.IntN(s.Posts)
			u := s.PostOwner[p]
			if r.IntN(2) == 0 {
				u = r.IntN(s.Users)
				if !s.Editor[u] {
					continue
				}
			} else if s.Editor[u] {
				continue
			}
			return Request{User: u, Obj: p, Want: true}
		}
	}
	denied := func() Request {
		for {
			q := Request{User: r.IntN(s.Users), Obj: r.IntN(s.Posts)}
			if !s.oracle(q) {
				return q
			}
		}
	}
	s.requests(r, allowed, denied)
	return s
}

func (s *Scenario) requests(r *rand.Rand, allowed, denied func() Request) {
	s.Allowed = make([]Request, Rotate)
	s.Denied = make([]Request, Rotate)
	for i := range Rotate {
		s.Allowed[i] = allowed()
		s.Denied[i] = denied()
	}
	s.Sample = make([]Request, SampleSize)
	for i := range s.Sample {
		if r.IntN(2) == 0 {
			s.Sample[i] = allowed()
		} else {
			s.Sample[i] = denied()
		}
	}
}

// oracle decides q from the generated data directly: the expected answer
// every library must give.
func (s *Scenario) oracle(q Request) bool {
	switch s.Kind {
	case RBAC:
		return s.RoleResource[s.UserRole[q.User]] == q.Obj
	case ObjectGrants:
		for _, p := range s.allowedBy[q.Obj] {
			if !p.group && p.id == q.User {
				return true
			}
			if p.group {
				for _, g := range s.Members[q.User] {
					if g == p.id {
						return true
					}
				}
			}
		}
		return false
	case OwnerRule:
		return s.Editor[q.User] || s.PostOwner[q.Obj] == q.User
	}
	return false
}

// Oracle is the expected decision of q (see Request.Want).
func (s *Scenario) Oracle(q Request) bool { return s.oracle(q) }
