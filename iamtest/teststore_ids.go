package iamtest

import (
	"fmt"
	"strings"
	"testing"

	"github.com/iamgo/iam"
)

// Identifiers: user, group, role, permission, type and object IDs are opaque
// byte strings. A store compares them exactly (no case folding, Unicode
// normalisation, trimming or collation), keeps them exactly, and never lets
// separators, quotes or wildcards inside them make two keys collide.
//
// The suite uses valid UTF-8 without NUL bytes only: IDs must not contain
// NUL, and a store may reject invalid UTF-8.

// Fixed names next to the IDs under test. Their "·" keeps them apart from
// every ID in the tables below.
const (
	fixedUser  = "·user"
	fixedGroup = "·group"
	fixedRole  = "·role"
	fixedPerm  = "·perm"
	fixedType  = "·type"
	fixedID    = "·id"
)

// itemsFor returns items that use x in every position an ID can take: user,
// group, role and permission name, object type and object ID, as the key of
// each kind of record and inside its value.
func itemsFor(x string) []item {
	data := []byte(fmt.Sprintf(`{"id":%q}`, x))
	u := iam.User(fixedUser)
	return []item{
		profileItem(iam.Profile{Holder: iam.User(x), Role: fixedRole, Active: true, Data: data}),
		profileItem(iam.Profile{Holder: iam.Group(x), Role: fixedRole, Data: data}),
		profileItem(iam.Profile{Holder: u, Role: x, Active: true, Data: data}),
		memberItem(fixedUser, x),
		memberItem(x, fixedGroup),
		grantItem(permGrant(u, fixedPerm, iam.Ref{Type: x, ID: fixedID})),
		grantItem(permGrant(u, fixedPerm, iam.Ref{Type: fixedType, ID: x})),
		grantItem(permGrant(u, fixedPerm, iam.TypeScope(x))),
		grantItem(permGrant(iam.User(x), x, iam.Ref{Type: x, ID: x})),
		grantItem(permGrant(u, x, iam.Ref{Type: fixedType, ID: fixedID})),
		grantItem(roleGrant(u, x, iam.Ref{Type: fixedType, ID: fixedID})),
		grantItem(permGrant(iam.User(x), fixedPerm, iam.Ref{Type: fixedType, ID: fixedID})),
		grantItem(roleGrant(iam.Group(x), x, iam.TypeScope(fixedType))),
		grantItem(permGrant(iam.Group(x), x, global)),
		parentsItem(iam.Ref{Type: fixedType, ID: x}, iam.Ref{Type: x, ID: x}, iam.Ref{Type: x, ID: fixedID}),
		parentsItem(iam.Ref{Type: x, ID: fixedID}, iam.Ref{Type: fixedType, ID: x}),
	}
}

// controlChars is every byte from 0x01 to 0x1f.
func controlChars() string {
	var b strings.Builder
	for c := byte(1); c < 0x20; c++ {
		b.WriteByte(c)
	}
	return b.String()
}

// oddIDs are IDs a store must keep exactly.
var oddIDs = []struct{ name, id string }{
	{"plain", "abc"},
	{"digits", "0042"},
	{"colon", "a:b"},
	{"colons", "::"},
	{"slash", "a/b"},
	{"dollars", "$$x$$"},
	{"dollar tag", "$tag$"},
	{"single quote", "o'brien"},
	{"double quote", `say "hi"`},
	{"backslash", `a\b\\`},
	{"percent", "100%"},
	{"underscore", "a_b"},
	{"semicolon", "a;b"},
	{"SQL comment", "a -- b"},
	{"SQL injection", "x'); DROP TABLE grants; --"},
	{"asterisk", "*"},
	{"dot", "."},
	{"dots", ".."},
	{"pipe and hash", "a|b#c"},
	{"brackets", "[a](b){c}<d>"},
	{"JSON", `{"a":[1]}`},
	{"HTML", "<script>&amp;</script>"},
	{"space", "a b"},
	{"only a space", " "},
	{"leading and trailing spaces", "  a  "},
	{"tab", "a\tb"},
	{"newlines", "a\nb\r\nc\r"},
	{"control bytes", "x" + controlChars() + "y"},
	{"Japanese", "渡辺"},
	{"Latin diacritics", "Ünïcødé"},
	{"emoji", "😀"},
	{"emoji ZWJ sequence", "👩‍💻🏳️‍🌈"},
	{"right to left", "שלום مرحبا"},
	{"combining mark", "e\u0301"},
	{"zero-width space", "a\u200bb"},
	{"byte order mark", "\ufeffa"},
	{"replacement character", "\ufffd"},
	{"astral plane", "\U0001D11E\U00020000"},
	{"long ASCII", strings.Repeat("x", 1000)},
	{"long Unicode", strings.Repeat("渡", 334)}, // 1002 bytes
	{"long with separators", strings.Repeat("a:/%_'\\", 143)},
}

func (s *suite) testIDsRoundTrip(t *testing.T) {
	// Every ID in oddIDs, in every position, is stored and read back
	// exactly, and removed by the same ID.
	for _, tt := range oddIDs {
		t.Run(tt.name, func(t *testing.T) {
			requireSeparate(t, s.store(t), itemsFor(tt.id), nil)
		})
	}
}

func (s *suite) testIDsDistinct(t *testing.T) {
	// IDs that differ only in case, Unicode normalisation, width, spaces or
	// invisible characters are different IDs, in every position.
	pairs := []struct{ name, a, b string }{
		{"case", "Admin", "admin"},
		{"upper case", "ADMIN", "admin"},
		{"sharp s", "straße", "strasse"},
		{"capital sharp s", "ß", "ẞ"},
		{"NFC and NFD", "\u00e9", "e\u0301"},
		{"accents", "resume", "résumé"},
		{"trailing space", "a", "a "},
		{"leading space", "a", " a"},
		{"spaces", " ", "  "},
		{"tab and space", "a b", "a\tb"},
		{"CRLF and LF", "a\nb", "a\r\nb"},
		{"fullwidth", "Ａ", "A"},
		{"ligature", "ﬁ", "fi"},
		{"Kelvin sign", "\u212a", "K"},
		{"dotless i", "ı", "i"},
		{"dotted capital I", "İ", "I"},
		{"final sigma", "σ", "ς"},
		{"zero-width space", "ab", "a\u200bb"},
		{"byte order mark", "a", "\ufeffa"},
		{"skin tone", "👍", "👍🏽"},
		{"prefix", "al", "alice"},
		{"number prefix", "1", "10"},
	}
	for _, tt := range pairs {
		t.Run(tt.name, func(t *testing.T) {
			requireSeparate(t, s.store(t), itemsFor(tt.a), itemsFor(tt.b))
		})
	}
}

func (s *suite) testIDsNoCollision(t *testing.T) {
	// Keys built from several IDs must not collide, however the store
	// encodes them: no separator, escape, wildcard or kind prefix in an ID
	// makes two records one.
	u := iam.User(fixedUser)
	on := iam.Ref{Type: fixedType, ID: fixedID}
	refPair := func(a, b iam.Ref) ([]item, []item) {
		side := func(r iam.Ref, perm string) []item {
			its := []item{
				grantItem(permGrant(u, perm, r)),
				grantItem(roleGrant(iam.Group(fixedGroup), fixedRole, r)),
			}
			if r.IsObject() {
				its = append(its, parentsItem(r, iam.Ref{Type: fixedType, ID: perm}))
			}
			return its
		}
		return side(a, "pa"), side(b, "pb")
	}
	type row struct {
		name string
		a, b []item
	}
	rows := []row{}
	addRefs := func(name string, a, b iam.Ref) {
		x, y := refPair(a, b)
		rows = append(rows, row{name, x, y})
	}
	addRefs("type and ID split at a colon", iam.Ref{Type: "a:b", ID: "c"}, iam.Ref{Type: "a", ID: "b:c"})
	addRefs("type and ID split at a slash", iam.Ref{Type: "a/b", ID: "c"}, iam.Ref{Type: "a", ID: "b/c"})
	addRefs("type and ID concatenated", iam.Ref{Type: "ab", ID: "c"}, iam.Ref{Type: "a", ID: "bc"})
	addRefs("escaped separator", iam.Ref{Type: `a\:b`, ID: "c"}, iam.Ref{Type: "a", ID: `b\:c`})
	addRefs("object * and whole type", iam.Ref{Type: "a", ID: "*"}, iam.TypeScope("a"))
	addRefs("object *:* and type *", iam.Ref{Type: "*", ID: "*"}, iam.TypeScope("*"))
	addRefs("type * and global", iam.TypeScope("*"), iam.GlobalScope())
	addRefs("blank ID and whole type", iam.Ref{Type: "a", ID: " "}, iam.TypeScope("a"))
	addRefs("blank type and global", iam.TypeScope(" "), iam.GlobalScope())
	addRefs("LIKE percent in the type", iam.Ref{Type: "d%", ID: "1"}, iam.Ref{Type: "doc", ID: "1"})
	addRefs("LIKE percent as the ID", iam.Ref{Type: "doc", ID: "%"}, iam.Ref{Type: "doc", ID: "1"})
	addRefs("LIKE underscore in the type", iam.Ref{Type: "d_c", ID: "1"}, iam.Ref{Type: "doc", ID: "1"})
	addRefs("LIKE underscore as the ID", iam.Ref{Type: "doc", ID: "_"}, iam.Ref{Type: "doc", ID: "1"})
	addRefs("GLOB star in the ID", iam.Ref{Type: "doc", ID: "1*"}, iam.Ref{Type: "doc", ID: "12"})
	addRefs("ID prefix", iam.Ref{Type: "doc", ID: "1"}, iam.Ref{Type: "doc", ID: "10"})
	addRefs("type prefix", iam.TypeScope("doc"), iam.TypeScope("docs"))
	addRefs("type and ID swapped", iam.Ref{Type: "a", ID: "b"}, iam.Ref{Type: "b", ID: "a"})
	addRefs("type case", iam.Ref{Type: "Doc", ID: "1"}, iam.Ref{Type: "doc", ID: "1"})

	rows = append(rows,
		row{"user and group of one name",
			[]item{profileItem(iam.Profile{Holder: iam.User("a"), Role: "r", Active: true}), grantItem(permGrant(iam.User("a"), "p", on))},
			[]item{profileItem(iam.Profile{Holder: iam.Group("a"), Role: "r"}), grantItem(permGrant(iam.Group("a"), "p", on))}},
		row{"kind spelt in the ID",
			[]item{profileItem(iam.Profile{Holder: iam.User("group:a"), Role: "r", Active: true}), grantItem(permGrant(iam.User("group:a"), "p", on))},
			[]item{profileItem(iam.Profile{Holder: iam.Group("a"), Role: "r"}), grantItem(permGrant(iam.Group("a"), "p", on))}},
		row{"kind spelt in a group ID",
			[]item{profileItem(iam.Profile{Holder: iam.Group("user:a"), Role: "r", Active: true}), grantItem(permGrant(iam.Group("user:a"), "p", on))},
			[]item{profileItem(iam.Profile{Holder: iam.User("a"), Role: "r"}), grantItem(permGrant(iam.User("a"), "p", on))}},
		row{"profile holder and role split at a colon",
			[]item{profileItem(iam.Profile{Holder: iam.User("a:b"), Role: "c", Active: true, Data: []byte(`{"side":"a"}`)})},
			[]item{profileItem(iam.Profile{Holder: iam.User("a"), Role: "b:c", Data: []byte(`{"side":"b"}`)})}},
		row{"profile holder and role concatenated",
			[]item{profileItem(iam.Profile{Holder: iam.User("ab"), Role: "c", Active: true})},
			[]item{profileItem(iam.Profile{Holder: iam.User("a"), Role: "bc"})}},
		row{"membership split at a colon",
			[]item{memberItem("a:b", "c")},
			[]item{memberItem("a", "b:c")}},
		row{"membership with LIKE wildcards",
			[]item{memberItem("a_", "%")},
			[]item{memberItem("ab", "x")}},
		row{"grant holder and permission split at a colon",
			[]item{grantItem(permGrant(iam.User("a:b"), "c", on))},
			[]item{grantItem(permGrant(iam.User("a"), "b:c", on))}},
		row{"permission and role of one name",
			[]item{grantItem(permGrant(u, "x", on))},
			[]item{grantItem(roleGrant(u, "x", on))}},
		row{"role spelt in a permission name",
			[]item{grantItem(permGrant(u, "role:x", on)), grantItem(permGrant(u, "role/x", on))},
			[]item{grantItem(roleGrant(u, "x", on))}},
		row{"permission with LIKE wildcards",
			[]item{grantItem(permGrant(u, "doc.%", on)), grantItem(permGrant(u, "doc._iew", on))},
			[]item{grantItem(permGrant(u, "doc.view", on))}},
		row{"holder and object swapped",
			[]item{grantItem(permGrant(iam.User("1"), "p", iam.Ref{Type: "doc", ID: "a"}))},
			[]item{grantItem(permGrant(iam.User("a"), "p", iam.Ref{Type: "doc", ID: "1"}))}},
		row{"parents split at a colon",
			[]item{parentsItem(iam.Ref{Type: "a:b", ID: "c"}, iam.Ref{Type: "p:q", ID: "r"})},
			[]item{parentsItem(iam.Ref{Type: "a", ID: "b:c"}, iam.Ref{Type: "p", ID: "q:r"})}},
		row{"parent lists joined",
			[]item{parentsItem(iam.Ref{Type: "t", ID: "1"}, iam.Ref{Type: "a", ID: "b,a:c"})},
			[]item{parentsItem(iam.Ref{Type: "t", ID: "2"}, iam.Ref{Type: "a", ID: "b"}, iam.Ref{Type: "a", ID: "c"})}},
	)
	for _, tt := range rows {
		t.Run(tt.name, func(t *testing.T) {
			requireSeparate(t, s.store(t), tt.a, tt.b)
		})
	}
}
