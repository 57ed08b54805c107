package iamadmin_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

	"github.com/iamgo/iam"
	"github.com/iamgo/iam/iamadmin"
)

// user is the application's user type of the tests.
type user struct {
	id    string
	super bool
}

func (u *user) SubjectID() string  { return u.id }
func (u *user) IsSuperuser() bool  { return u.super }
func (u *user) String() string     { return u.id }
func (u *user) ObjectRef() iam.Ref { return iam.Ref{Type: "user", ID: u.id} }

// directory is the application's user list.
type directory map[string]*user

func (d directory) Search(_ context.Context, query, after string, limit int) ([]iamadmin.Entry, error) {
	var out []iamadmin.Entry
	for _, u := range d {
		p := iam.User(u.id)
		if p.String() > after && strings.Contains(u.id, query) {
			out = append(out, iamadmin.Entry{Principal: p, Name: "User " + u.id, Superuser: u.super})
		}
	}
	slices.SortFunc(out, func(a, b iamadmin.Entry) int { return strings.Compare(a.Principal.String(), b.Principal.String()) })
	return out[:min(limit, len(out))], nil
}

func (d directory) Lookup(_ context.Context, id string) (iamadmin.Entry, iam.Subject, error) {
	if u, ok := d[id]; ok {
		return iamadmin.Entry{Principal: iam.User(id), Name: "User " + id, Superuser: u.super}, u, nil
	}
	return iamadmin.Entry{}, nil, nil
}

var (
	viewer  = &iam.Role{Name: "blog.viewer", Perms: []string{"blog.view"}}
	editor  = &iam.Role{Name: "blog.editor", Perms: []string{"blog.edit"}, Includes: []*iam.Role{viewer}}
	manager = &iam.Role{Name: "site.manager", Perms: []string{iam.PermManageRoles, iam.PermManageGrants}, Includes: []*iam.Role{viewer}}
)

type fixture struct {
	t     *testing.T
	store *iam.MemoryStore
	c     *iam.Checker
	h     *iamadmin.Handler
	srv   *httptest.Server
	dir   directory
	audit *iamadmin.AuditLog
	reqs  *iamadmin.RequestLog
}

func newFixture(t *testing.T, o iamadmin.Options) *fixture {
	t.Helper()
	ctx := t.Context()
	f := &fixture{t: t, store: iam.NewMemoryStore(), audit: iamadmin.NewAuditLog(0), reqs: &iamadmin.RequestLog{}}
	f.dir = directory{}
	for _, id := range []string{"root", "mia", "ann", "bob", "eve"} {
		f.dir[id] = &user{id: id, super: id == "root"}
	}
	policy := iam.Policy{
		Roles: []*iam.Role{viewer, editor, manager},
		Rules: map[string]iam.Predicate{"blog.comment": iam.Or(iam.HasRole(editor), iam.IsSuperuser())},
	}
	var err error
	f.c, err = iam.New(policy, f.store)
	require.NoError(t, err)
	// Changes on an object are judged on the application's object; these
	// posts take global roles, as most objects do.
	// posts take global roles, as most objects do, and have no children.
	load := func(_ context.Context, ref iam.Ref) (iam.Object, error) { return ref, nil }
	none := func(context.Context, iam.Ref) ([]iam.Object, error) { return nil, nil }
	m := iam.NewManager(f.c, iam.ManagerOptions{Logger: slog.New(slog.DiscardHandler), Audit: f.audit.Record, Object: load, Children: none})
	require.NoError(t, f.c.AssignRole(ctx, iam.Profile{Holder: iam.User("mia"), Role: manager.Name, Active: true}))
	require.NoError(t, f.c.AssignRole(ctx, iam.Profile{Holder: iam.User("bob"), Role: viewer.Name, Active: true}))
	o.Subject = func(r *http.Request) iam.Subject {
		if u, ok := f.dir[r.Header.Get("X-User")]; ok {
			return u
		}
		return nil
	}
	o.Prefix = "/admin/iam"
	if o.Directory == nil {
		o.Directory = f.dir
	}
	o.Audit, o.Requests = f.audit, f.reqs
	o.Logger = slog.New(slog.DiscardHandler)
	f.h, err = iamadmin.New(f.c, m, o)
	require.NoError(t, err)
	mux := http.NewServeMux()
	mux.Handle("/admin/iam/", f.h)
	f.srv = httptest.NewServer(mux)
	t.Cleanup(f.srv.Close)
	return f
}

type resp struct {
	status int
	body   string
	header http.Header
}

var noRedirect = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

func (f *fixture) do(method, as, path string, form url.Values) resp {
	f.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequestWithContext(f.t.Context(), method, f.srv.URL+"/admin/iam"+path, body)
	require.NoError(f.t, err)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if as != "" {
		req.Header.Set("X-User", as)
	}
	res, err := noRedirect.Do(req)
	require.NoError(f.t, err)
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	require.NoError(f.t, err)
	return resp{res.StatusCode, string(b), res.Header}
}

var csrfRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// token reads the actor's CSRF token from a page it may see.
func (f *fixture) token(as string) string {
	f.t.Helper()
	r := f.do("GET", as, "/principal?kind=user&id=ann", nil)
	m := csrfRE.FindStringSubmatch(r.body)
	require.NotNil(f.t, m, "no CSRF field on the page of %s: %d %s", as, r.status, r.body)
	return m[1]
}

func (f *fixture) post(as, path string, form url.Values) resp {
	f.t.Helper()
	if form.Get("csrf") == "" {
		form.Set("csrf", f.token(as))
	}
	return f.do("POST", as, path, form)
}

func (f *fixture) roles(p iam.Principal) []string {
	f.t.Helper()
	h, err := f.store.Holding(f.t.Context(), p)
	require.NoError(f.t, err)
	var out []string
	for _, pr := range h.Profiles() {
		out = append(out, pr.Role)
	}
	slices.Sort(out)
	return out
}

// contract 21: deny by default. Nobody without iam.manage_roles or
// iam.manage_grants (or superuser) sees a page or makes a change.
func TestDenyByDefault(t *testing.T) {
	f := newFixture(t, iamadmin.Options{})
	pages := []string{"/", "/policy", "/principals", "/principal?kind=user&id=ann", "/object?type=blog.post&id=1", "/explain?user=ann&perm=blog.view", "/audit", "/requests", "/nope"}
	for _, as := range []string{"", "nobody", "bob", "ann"} {
		want := http.StatusForbidden
		if f.dir[as] == nil {
			want = http.StatusUnauthorized // not signed in
		}
		for _, p := range pages {
			r := f.do("GET", as, p, nil)
			require.Equal(t, want, r.status, "%q GET %s", as, p)
			require.NotContains(t, r.body, "csrf", "%q GET %s: a refused page carries no form", as, p)
		}
		r := f.do("POST", as, "/change", url.Values{"op": {"assign"}, "kind": {"user"}, "id": {as}, "role": {"blog.editor"}, "csrf": {"x"}})
		require.Equal(t, want, r.status, "%q POST", as)
	}
	require.Equal(t, []string{"blog.viewer"}, f.roles(iam.User("bob")), "nothing changed")
	require.Empty(t, f.roles(iam.User("ann")))
	for _, as := range []string{"mia", "root"} {
		for _, p := range pages[:len(pages)-1] {
			require.Equal(t, http.StatusOK, f.do("GET", as, p, nil).status, "%s GET %s", as, p)
		}
		require.Equal(t, http.StatusNotFound, f.do("GET", as, "/nope", nil).status)
	}
}

// contract 21: every POST carries the actor's CSRF token; a missing,
// forged or another actor's token is 403 and nothing changes.
func TestCSRF(t *testing.T) {
	f := newFixture(t, iamadmin.Options{})
	form := func(tok string) url.Values {
		return url.Values{"op": {"assign"}, "kind": {"user"}, "id": {"ann"}, "role": {"blog.viewer"}, "csrf": {tok}}
	}
	rootTok := f.token("root")
	for name, tok := range map[string]string{"missing": "", "forged": "AAAA", "another actor's": rootTok} {
		r := f.do("POST", "mia", "/change", form(tok))
		require.Equal(t, http.StatusForbidden, r.status, name)
		require.Empty(t, f.roles(iam.User("ann")), "%s token: nothing changes", name)
	}
	// A browser that says another site sent the form: refused, even with
	// the right token.
	req, err := http.NewRequestWithContext(t.Context(), "POST", f.srv.URL+"/admin/iam/change", strings.NewReader(form(f.token("mia")).Encode()))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-User", "mia")
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	res, err := noRedirect.Do(req)
	require.NoError(t, err)
	res.Body.Close()
	require.Equal(t, http.StatusForbidden, res.StatusCode)
	require.Empty(t, f.roles(iam.User("ann")), "a cross-site form changes nothing")

	r := f.do("POST", "mia", "/change", form(f.token("mia")))
	require.Equal(t, http.StatusSeeOther, r.status, r.body)
	require.Equal(t, "/admin/iam/principal?done=put_profile&id=ann&kind=user", r.header.Get("Location"))
	require.Equal(t, []string{"blog.viewer"}, f.roles(iam.User("ann")))
}

// contract 19 and 21: every write goes through the Manager with the
// signed-in actor; a refusal is shown on the form (403), not a 500.
func TestRefusalsOnTheForm(t *testing.T) {
	f := newFixture(t, iamadmin.Options{})
	cases := []struct {
		name, as string
		form     url.Values
		status   int
		says     string
	}{
		{"escalation: mia does not hold blog.editor", "mia", url.Values{"op": {"assign"}, "kind": {"user"}, "id": {"ann"}, "role": {"blog.editor"}}, 403, "Refused: "},
		{"self change", "mia", url.Values{"op": {"remove"}, "kind": {"user"}, "id": {"mia"}, "role": {"site.manager"}}, 403, "Refused: "},
		{"unknown role", "root", url.Values{"op": {"assign"}, "kind": {"user"}, "id": {"ann"}, "role": {"blog.edtor"}}, 400, "Not accepted: "},
		{"bad expiry", "root", url.Values{"op": {"assign"}, "kind": {"user"}, "id": {"ann"}, "role": {"blog.editor"}, "expires": {"soon"}}, 400, "not a date"},
		{"grant on no object", "root", url.Values{"op": {"grant"}, "kind": {"user"}, "id": {"ann"}, "perm": {"blog.edit"}}, 400, "name the object"},
		{"no such op", "root", url.Values{"op": {"promote"}, "kind": {"user"}, "id": {"ann"}}, 400, "unknown change"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := f.post(tc.as, "/change", tc.form)
			require.Equal(t, tc.status, r.status, r.body)
			require.Contains(t, r.body, `class="error"`)
			require.Contains(t, r.body, tc.says)
			require.Contains(t, r.body, "<h2>Roles held (profiles)</h2>", "the refusal is shown on the principal's page")
		})
	}
	require.Empty(t, f.roles(iam.User("ann")), "nothing changed")
	require.Equal(t, []string{"site.manager"}, f.roles(iam.User("mia")))
	// The page offers mia only the roles the Manager lets her assign.
	r := f.do("GET", "mia", "/principal?kind=user&id=ann", nil)
	opts := regexp.MustCompile(`<option>([^<]*)</option>`).FindAllStringSubmatch(r.body[strings.Index(r.body, "Assign role"):], -1)
	var offered []string
	for _, o := range opts {
		offered = append(offered, o[1])
	}
	require.Equal(t, []string{"blog.viewer"}, offered[:1])
	require.NotContains(t, offered, "blog.editor")
}

// contract 21: output is escaped: IDs that look like HTML are text.
func TestEscaping(t *testing.T) {
	f := newFixture(t, iamadmin.Options{})
	evil := `<script>alert(1)</script>`
	f.dir[evil] = &user{id: evil}
	require.NoError(t, f.store.AddMember(t.Context(), evil, "staff"))
	require.NoError(t, f.c.Grant(t.Context(), iam.Grant{Holder: iam.User(evil), Perm: "blog.view", On: iam.Ref{Type: "blog.post", ID: `"><img src=x>`}}))
	for _, p := range []string{
		"/principal?kind=user&id=" + url.QueryEscape(evil),
		"/object?type=blog.post&id=" + url.QueryEscape(`"><img src=x>`),
		"/explain?user=" + url.QueryEscape(evil) + "&perm=blog.view",
	} {
		r := f.do("GET", "root", p, nil)
		require.Equal(t, http.StatusOK, r.status, "%s: %s", p, r.body)
		require.NotContains(t, r.body, "<script>alert", p)
		require.NotContains(t, r.body, `"><img`, p)
		require.Contains(t, r.body, "&lt;script&gt;alert(1)&lt;/script&gt;", p)
	}
}

// contract 21: every page carries a Content-Security-Policy and is not
// cached.
func TestSecurityHeaders(t *testing.T) {
	f := newFixture(t, iamadmin.Options{})
	for _, as := range []string{"", "mia"} {
		r := f.do("GET", as, "/policy", nil)
		require.Contains(t, r.header.Get("Content-Security-Policy"), "default-src 'none'", as)
		require.Contains(t, r.header.Get("Content-Security-Policy"), "frame-ancestors 'none'", as)
		require.Equal(t, "no-store", r.header.Get("Cache-Control"), as)
		require.Equal(t, "nosniff", r.header.Get("X-Content-Type-Options"), as)
	}
	r := f.do("GET", "mia", "", nil)
	require.Contains(t, []int{http.StatusMovedPermanently, http.StatusTemporaryRedirect}, r.status, "the prefix without its slash")
	require.Equal(t, "/admin/iam/", r.header.Get("Location"))
	rec := httptest.NewRecorder()
	f.h.ServeHTTP(rec, httptest.NewRequest("GET", "/admin/iam", nil))
	require.Equal(t, http.StatusMovedPermanently, rec.Code, "the handler alone redirects too")
	r = f.do("GET", "", "/static/admin.css", nil)
	require.Equal(t, http.StatusOK, r.status)
	require.Equal(t, "text/css; charset=utf-8", r.header.Get("Content-Type"))
}

// contract 21: superusers are hidden from non-superusers (django-iam).
func TestSuperusersHidden(t *testing.T) {
	f := newFixture(t, iamadmin.Options{})
	list := func(as string) string { return f.do("GET", as, "/principals", nil).body }
	require.NotContains(t, list("mia"), ">root<")
	require.Contains(t, list("mia"), ">ann<")
	require.Contains(t, list("root"), ">root<")
	require.Equal(t, http.StatusNotFound, f.do("GET", "mia", "/principal?kind=user&id=root", nil).status)
	require.Equal(t, http.StatusNotFound, f.do("GET", "mia", "/explain?user=root&perm=blog.view", nil).status)
	require.Equal(t, http.StatusNotFound, f.do("GET", "mia", "/explain?user=nosuch&perm=blog.view", nil).status, "the same answer as an unknown user")
	require.Equal(t, http.StatusOK, f.do("GET", "root", "/principal?kind=user&id=root", nil).status)
	require.NoError(t, f.c.Grant(t.Context(), iam.Grant{Holder: iam.User("root"), Perm: "blog.view", On: iam.Ref{Type: "blog.post", ID: "1"}}))
	require.NoError(t, f.c.Grant(t.Context(), iam.Grant{Holder: iam.User("ann"), Perm: "blog.view", On: iam.Ref{Type: "blog.post", ID: "1"}}))
	obj := func(as string) string { return f.do("GET", as, "/object?type=blog.post&id=1", nil).body }
	require.NotContains(t, obj("mia"), "user:root")
	require.Contains(t, obj("mia"), "user:ann")
	require.Contains(t, obj("root"), "user:root")
}

// contract 21: a hidden superuser and a made-up ID get the same answers,
// on the principal page and for a change naming them, and the list hides
// a superuser its directory entry does not flag but its subject says is.
func TestHiddenLikeUnknown(t *testing.T) {
	f := newFixture(t, iamadmin.Options{})
	ctx := t.Context()
	grant := func(id string) url.Values {
		return url.Values{"from": {"object"}, "type": {"blog.post"}, "oid": {"1"}, "kind": {"user"}, "id": {id}, "perm": {"blog.view"}, "op": {"grant"}}
	}
	assign := func(id string) url.Values {
		return url.Values{"kind": {"user"}, "id": {id}, "role": {"blog.reviewer"}, "op": {"assign"}}
	}
	for _, as := range []string{"mia"} {
		var got []int
		for _, id := range []string{"root", "nosuch"} {
			got = append(got,
				f.do("GET", as, "/principal?kind=user&id="+id, nil).status,
				f.post(as, "/change", grant(id)).status,
				f.post(as, "/change", assign(id)).status)
		}
		if diff := cmp.Diff(got[:3], got[3:]); diff != "" {
			t.Errorf("%s: the hidden superuser's answers differ from an unknown user's (-root +nosuch):\n%s", as, diff)
		}
		require.Equal(t, []int{http.StatusNotFound, http.StatusNotFound, http.StatusNotFound}, got[:3])
	}
	for _, id := range []string{"root", "nosuch"} {
		gs, err := f.store.GrantsHeldBy(ctx, iam.User(id))
		require.NoError(t, err)
		require.Empty(t, gs, "nothing was written for %s", id)
	}
	// A superuser sees and manages superusers.
	require.Equal(t, http.StatusOK, f.do("GET", "root", "/principal?kind=user&id=root", nil).status)

	// The directory's flag left unset: the subject still says so.
	unflagged := unflaggedDirectory{f.dir}
	f2 := newFixture(t, iamadmin.Options{Directory: unflagged})
	list := f2.do("GET", "mia", "/principals", nil).body
	require.NotContains(t, list, ">root<")
	require.Contains(t, list, ">ann<")
	require.Equal(t, http.StatusNotFound, f2.do("GET", "mia", "/principal?kind=user&id=root", nil).status)
}

// unflaggedDirectory is a directory whose entries never carry the
// Superuser flag; its subjects still answer IsSuperuser.
type unflaggedDirectory struct{ directory }

func (d unflaggedDirectory) Search(ctx context.Context, query, after string, limit int) ([]iamadmin.Entry, error) {
	es, err := d.directory.Search(ctx, query, after, limit)
	for i := range es {
		es[i].Superuser = false
	}
	return es, err
}

func (d unflaggedDirectory) Lookup(ctx context.Context, id string) (iamadmin.Entry, iam.Subject, error) {
	e, s, err := d.directory.Lookup(ctx, id)
	e.Superuser = false
	return e, s, err
}

// A change posted from the object page for a scope (edited hidden fields)
// is refused on the principal's page with the Manager's reason, not
// replaced by the object page's own complaint.
func TestObjectFormScopeRefusal(t *testing.T) {
	f := newFixture(t, iamadmin.Options{})
	r := f.post("mia", "/change", url.Values{"from": {"object"}, "op": {"grant"}, "kind": {"user"}, "id": {"ann"}, "perm": {"blog.edit"}, "type": {"blog.post"}, "oid": {"*"}})
	require.Equal(t, http.StatusForbidden, r.status, r.body)
	require.Contains(t, r.body, "Refused")
	gs, err := f.store.GrantsHeldBy(t.Context(), iam.User("ann"))
	require.NoError(t, err)
	require.Empty(t, gs)
}

// contract 21: lists are paged with cursors: every principal once, in
// order, across the pages.
func TestPaging(t *testing.T) {
	dir := directory{}
	for _, id := range []string{"a1", "a2", "a3", "a4", "a5", "root", "mia"} {
		dir[id] = &user{id: id, super: id == "root"}
	}
	f := newFixture(t, iamadmin.Options{Directory: dir, PageSize: 2})
	f.dir = dir
	nextRE := regexp.MustCompile(`rel="next" href="([^"]+)"`)
	idRE := regexp.MustCompile(`principal\?id=([^"&]+)&amp;kind=user"`)
	var seen []string
	path := "/principals"
	for pages := 0; path != ""; pages++ {
		require.Less(t, pages, 10)
		r := f.do("GET", "mia", path, nil)
		require.Equal(t, http.StatusOK, r.status)
		got := idRE.FindAllStringSubmatch(r.body, -1)
		require.LessOrEqual(t, len(got), 2)
		for _, g := range got {
			seen = append(seen, g[1])
		}
		path = ""
		if m := nextRE.FindStringSubmatch(r.body); m != nil {
			path = strings.TrimPrefix(strings.ReplaceAll(m[1], "&amp;", "&"), "/admin/iam")
		}
	}
	if diff := cmp.Diff([]string{"a1", "a2", "a3", "a4", "a5", "mia"}, seen); diff != "" {
		t.Fatalf("principals across pages, root hidden (-want +got):\n%s", diff)
	}
}

// The object permissions page: holders with their paths, and grants and
// revokes through its form.
func TestObjectPage(t *testing.T) {
	f := newFixture(t, iamadmin.Options{})
	ctx := t.Context()
	post := iam.Ref{Type: "blog.post", ID: "7"}
	form := url.Values{"from": {"object"}, "type": {"blog.post"}, "oid": {"7"}, "kind": {"user"}, "id": {"ann"}, "perm": {"blog.view"}, "op": {"grant"}}
	r := f.post("mia", "/change", form)
	require.Equal(t, http.StatusSeeOther, r.status, r.body)
	require.Equal(t, "/admin/iam/object?done=grant&id=7&type=blog.post", r.header.Get("Location"))
	require.True(t, f.c.HasPerm(ctx, f.dir["ann"], "blog.view", post))
	page := f.do("GET", "mia", "/object?type=blog.post&id=7", nil)
	require.Contains(t, page.body, "user:ann")
	// The form suggests only what mia may grant here.
	suggested := func(list string) []string {
		i := strings.Index(page.body, `<datalist id="`+list+`">`)
		require.GreaterOrEqual(t, i, 0, list)
		block := page.body[i:]
		block = block[:strings.Index(block, "</datalist>")]
		var out []string
		for _, m := range regexp.MustCompile(`<option value="([^"]+)">`).FindAllStringSubmatch(block, -1) {
			out = append(out, m[1])
		}
		return out
	}
	require.Equal(t, []string{"blog.view", iam.PermManageGrants, iam.PermManageRoles}, suggested("grantable-perms"), "what she holds, not blog.edit")
	require.Equal(t, []string{"blog.viewer", "site.manager"}, suggested("grantable-roles"), "not blog.editor")
	require.Contains(t, page.body, "grant on blog.post:7: blog.view")

	// mia may not pass on blog.edit, which she does not hold: refused on
	// the object's page.
	form.Set("perm", "blog.edit")
	r = f.post("mia", "/change", form)
	require.Equal(t, http.StatusForbidden, r.status)
	require.Contains(t, r.body, "Refused: ")
	require.Contains(t, r.body, "Who holds what on blog.post:7")
	require.False(t, f.c.HasPerm(ctx, f.dir["ann"], "blog.edit", post))

	form.Set("perm", "blog.view")
	form.Set("op", "revoke")
	require.Equal(t, http.StatusSeeOther, f.post("mia", "/change", form).status)
	require.False(t, f.c.HasPerm(ctx, f.dir["ann"], "blog.view", post))

	// A grant that expires: stored with its expiry, shown on the
	// principal's page, and gone once past (contract 7d).
	form.Set("op", "grant")
	form.Set("expires", "2000-01-02")
	require.Equal(t, http.StatusSeeOther, f.post("mia", "/change", form).status)
	held, err := f.c.Store().(iam.HolderGrantLister).GrantsHeldBy(ctx, iam.User("ann"))
	require.NoError(t, err)
	require.Len(t, held, 1)
	require.Equal(t, "2000-01-02", held[0].ExpiresAt.Format(time.DateOnly))
	require.False(t, f.c.HasPerm(ctx, f.dir["ann"], "blog.view", post), "expired in 2000")
	page = f.do("GET", "mia", "/principal?kind=user&id=ann", nil)
	require.Contains(t, page.body, "(until 2000-01-02 00:00 UTC)")
	form.Set("expires", "soon")
	require.Equal(t, http.StatusBadRequest, f.post("mia", "/change", form).status)
}

// The explain page shows the decision and every leaf of the rule.
func TestExplainPage(t *testing.T) {
	f := newFixture(t, iamadmin.Options{})
	r := f.do("GET", "mia", "/explain?user=bob&perm=blog.comment&type=blog.post&id=1", nil)
	require.Equal(t, http.StatusOK, r.status, r.body)
	require.Contains(t, r.body, "Denied")
	require.Contains(t, r.body, "has_role:blog.editor")
	require.Contains(t, r.body, "is_superuser")
	r = f.do("GET", "mia", "/explain?user=bob&perm=blog.view", nil)
	require.Contains(t, r.body, "Allowed")
	require.Contains(t, r.body, "blog.viewer")
	r = f.do("GET", "mia", "/explain?user=bob&perm=blog.nope", nil)
	require.Equal(t, http.StatusBadRequest, r.status)
	require.Contains(t, r.body, "unknown permission")
}

// The audit page lists the Manager's events, newest first, filtered.
func TestAuditPage(t *testing.T) {
	f := newFixture(t, iamadmin.Options{})
	f.post("mia", "/change", url.Values{"op": {"assign"}, "kind": {"user"}, "id": {"ann"}, "role": {"blog.viewer"}})
	f.post("mia", "/change", url.Values{"op": {"assign"}, "kind": {"user"}, "id": {"eve"}, "role": {"blog.editor"}})
	f.post("root", "/change", url.Values{"op": {"assign"}, "kind": {"user"}, "id": {"eve"}, "role": {"blog.editor"}})
	body := f.do("GET", "root", "/audit", nil).body
	i, j, k := strings.Index(body, "<td>root</td>"), strings.Index(body, ">refused<"), strings.LastIndex(body, ">applied<")
	require.True(t, i >= 0 && j > i && k > j, "newest first: root's change, mia's refused one, then mia's applied one:\n%s", body)
	require.NotContains(t, f.do("GET", "mia", "/audit", nil).body, "<td>root</td>", "a superuser's changes are hidden from mia")
	body = f.do("GET", "root", "/audit?target=user:ann", nil).body
	require.Contains(t, body, "user:ann")
	require.NotContains(t, body, "user:eve")
	require.Equal(t, http.StatusBadRequest, f.do("GET", "root", "/audit?before=x", nil).status)
}

// Requests: a manager asks for a change she may not make; a superuser
// approves it on fresh state; a denial drops it.
func TestRequests(t *testing.T) {
	f := newFixture(t, iamadmin.Options{})
	r := f.post("mia", "/change", url.Values{"op": {"assign"}, "kind": {"user"}, "id": {"ann"}, "role": {"blog.editor"}, "as_request": {"1"}})
	require.Equal(t, http.StatusSeeOther, r.status, r.body)
	require.Empty(t, f.roles(iam.User("ann")), "a request changes nothing")
	page := f.do("GET", "root", "/requests", nil).body
	m := regexp.MustCompile(`name="id" value="([^"]+)"`).FindStringSubmatch(page)
	require.NotNil(t, m, page)
	// eve, another manager, may neither approve nor drop it: she could not
	// make the change herself.
	require.NoError(t, f.c.AssignRole(t.Context(), iam.Profile{Holder: iam.User("eve"), Role: manager.Name, Active: true}))
	r = f.post("eve", "/request", url.Values{"id": {m[1]}, "decision": {"deny"}})
	require.Equal(t, http.StatusForbidden, r.status, r.body)
	require.Contains(t, f.do("GET", "root", "/requests", nil).body, m[1], "still pending")
	// mia cannot approve (she does not hold blog.editor).
	r = f.post("mia", "/request", url.Values{"id": {m[1]}, "decision": {"approve"}})
	require.Equal(t, http.StatusForbidden, r.status, r.body)
	require.Contains(t, r.body, "Refused: ")
	require.Empty(t, f.roles(iam.User("ann")))
	r = f.post("root", "/request", url.Values{"id": {m[1]}, "decision": {"approve"}})
	require.Equal(t, http.StatusSeeOther, r.status, r.body)
	require.Equal(t, []string{"blog.editor"}, f.roles(iam.User("ann")))
	require.Contains(t, f.do("GET", "root", "/requests", nil).body, "No pending requests")
	r = f.post("root", "/request", url.Values{"id": {m[1]}, "decision": {"approve"}})
	require.Equal(t, http.StatusBadRequest, r.status, "a request is approved once")
}

// failing is a store whose reads fail after the fixture is built.
type failing struct {
	*iam.MemoryStore
	fail bool
}

func (s *failing) Holding(ctx context.Context, p iam.Principal) (*iam.Holding, error) {
	if s.fail {
		return nil, errors.New("disk on fire: secret detail")
	}
	return s.MemoryStore.Holding(ctx, p)
}

// A store error is a 503 with a generic message: no internal detail.
func TestStoreErrorsAreNotShown(t *testing.T) {
	st := &failing{MemoryStore: iam.NewMemoryStore()}
	c, err := iam.New(iam.Policy{Roles: []*iam.Role{viewer, manager}}, st)
	require.NoError(t, err)
	root := &user{id: "root", super: true}
	h, err := iamadmin.New(c, iam.NewManager(c, iam.ManagerOptions{Logger: slog.New(slog.DiscardHandler)}), iamadmin.Options{
		Subject: func(*http.Request) iam.Subject { return root },
		Logger:  slog.New(slog.DiscardHandler),
	})
	require.NoError(t, err)
	st.fail = true
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/principal?kind=user&id=ann", nil))
	require.Equal(t, http.StatusServiceUnavailable, rec.Code)
	require.NotContains(t, rec.Body.String(), "disk on fire")
	require.Contains(t, rec.Body.String(), "could not be reached")
}

// contract 21: a Subject function that returns a typed nil (a failed
// lookup's nil *user, whose SubjectID would panic) means nobody is signed
// in: 401, as for nil.
func TestTypedNilSubjectIsSignedOut(t *testing.T) {
	c, err := iam.New(iam.Policy{Roles: []*iam.Role{viewer, manager}}, iam.NewMemoryStore())
	require.NoError(t, err)
	h, err := iamadmin.New(c, iam.NewManager(c, iam.ManagerOptions{Logger: slog.New(slog.DiscardHandler)}), iamadmin.Options{
		Subject: func(*http.Request) iam.Subject { var u *user; return u },
		Logger:  slog.New(slog.DiscardHandler),
	})
	require.NoError(t, err)
	for _, p := range []string{"/", "/principals"} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", p, nil))
		require.Equal(t, http.StatusUnauthorized, rec.Code, p)
	}
}

func TestNewValidates(t *testing.T) {
	c, err := iam.New(iam.Policy{}, iam.NewMemoryStore())
	require.NoError(t, err)
	m := iam.NewManager(c, iam.ManagerOptions{})
	sub := func(*http.Request) iam.Subject { return nil }
	for name, o := range map[string]iamadmin.Options{
		"no subject":         {},
		"prefix without /":   {Subject: sub, Prefix: "admin"},
		"prefix ending in /": {Subject: sub, Prefix: "/admin/"},
	} {
		_, err := iamadmin.New(c, m, o)
		require.Error(t, err, name)
	}
	_, err = iamadmin.New(nil, m, iamadmin.Options{Subject: sub})
	require.Error(t, err)
}

// Every form of a principal's page, through the Manager: assign with an
// expiry, switch off and on, remove, add to and remove from a group (from
// the user's page and from the group's).
func TestPrincipalForms(t *testing.T) {
	f := newFixture(t, iamadmin.Options{})
	ctx := t.Context()
	profile := func() (iam.Profile, bool) {
		h, err := f.store.Holding(ctx, iam.User("ann"))
		require.NoError(t, err)
		return h.Profile("blog.viewer")
	}
	groups := func(u string) []string {
		h, err := f.store.Holding(ctx, iam.User(u))
		require.NoError(t, err)
		return h.Groups()
	}
	ann := url.Values{"kind": {"user"}, "id": {"ann"}, "role": {"blog.viewer"}}
	with := func(kv ...string) url.Values {
		v := url.Values{}
		for k, x := range ann {
			v[k] = x
		}
		for i := 0; i+1 < len(kv); i += 2 {
			v.Set(kv[i], kv[i+1])
		}
		return v
	}
	steps := []struct {
		name  string
		form  url.Values
		check func()
	}{
		{"assign with expiry", with("op", "assign", "expires", "2099-01-02"), func() {
			p, ok := profile()
			require.True(t, ok && p.Active)
			require.Equal(t, "2099-01-02", p.ExpiresAt.Format("2006-01-02"))
		}},
		{"switch off", with("op", "deactivate"), func() { p, ok := profile(); require.True(t, ok && !p.Active) }},
		{"switch on", with("op", "activate"), func() { p, ok := profile(); require.True(t, ok && p.Active) }},
		{"remove", with("op", "remove"), func() { _, ok := profile(); require.False(t, ok) }},
		{"join from the user's page", with("op", "join", "group", "staff"), func() { require.Equal(t, []string{"staff"}, groups("ann")) }},
		{"leave from the user's page", with("op", "leave", "group", "staff"), func() { require.Empty(t, groups("ann")) }},
		{"join from the group's page", url.Values{"op": {"join"}, "kind": {"group"}, "id": {"staff"}, "user": {"eve"}}, func() {
			require.Equal(t, []string{"staff"}, groups("eve"))
		}},
	}
	for _, st := range steps {
		r := f.post("mia", "/change", st.form)
		require.Equal(t, http.StatusSeeOther, r.status, "%s: %s", st.name, r.body)
		st.check()
	}
	page := f.do("GET", "mia", "/principal?kind=user&id=eve", nil).body
	require.Contains(t, page, `href="/admin/iam/principal?id=staff&amp;kind=group"`, "eve's page links her group")
	page = f.do("GET", "mia", "/principal?kind=group&id=staff", nil).body
	require.NotContains(t, page, "<h2>Groups</h2>", "a group has no groups")
}

// No query or form makes a page fail with a 500 or leak a Go error: random
// parameters on every page and form answer 2xx, 3xx, 400, 403 or 404.
func TestAnyInputAnswersCleanly(t *testing.T) {
	f := newFixture(t, iamadmin.Options{PageSize: 3})
	r := rand.New(rand.NewPCG(7, 11))
	values := []string{"", "*", "user", "group", "ann", "root", "mia", "blog.post", "1", "7", "blog.view", "blog.editor", "site.manager",
		"<b>", "%00", "a b", "user:ann", "group:", "2099-01-01", "-1", "99999999999999999999", strings.Repeat("x", 300), "assign", "grant", "revoke",
		"join", "leave", "remove", "activate", "deactivate", "approve", "deny", "object", "\u00e9\u0301", "../../etc"}
	keys := []string{"kind", "id", "type", "oid", "role", "perm", "op", "user", "group", "from", "expires", "q", "after", "before", "actor", "target", "decision", "as_request"}
	pages := []string{"/", "/policy", "/principals", "/principal", "/object", "/explain", "/audit", "/requests"}
	tok := f.token("mia")
	for i := range 600 {
		q := url.Values{}
		for range 1 + r.IntN(6) {
			q.Set(keys[r.IntN(len(keys))], values[r.IntN(len(values))])
		}
		var res resp
		if i%2 == 0 {
			res = f.do("GET", "mia", pages[r.IntN(len(pages))]+"?"+q.Encode(), nil)
		} else {
			q.Set("csrf", tok)
			res = f.do("POST", "mia", []string{"/change", "/request"}[r.IntN(2)], q)
		}
		switch res.status {
		case 200, 303, 400, 403, 404:
		default:
			t.Fatalf("%v: status %d\n%s", q, res.status, res.body)
		}
		require.NotContains(t, res.body, "goroutine", "%v", q)
		require.NotContains(t, res.body, "runtime error", "%v", q)
	}
}

// The admin pages cannot be used to escalate (contract 19 through the
// UI), judged by brute force, independently of the Manager: mia holds the
// viewer role and the manage permissions; after each of her random forms
// that the pages accept, every (user, permission, object) newly allowed
// for someone else is one mia holds herself.
func TestAdminCannotEscalate(t *testing.T) {
	f := newFixture(t, iamadmin.Options{})
	ctx := t.Context()
	users := []string{"ann", "bob", "eve"}
	perms := []string{"blog.view", "blog.edit", "blog.comment", iam.PermManageRoles, iam.PermManageGrants}
	objs := []iam.Object{nil, iam.Ref{Type: "blog.post", ID: "1"}, iam.Ref{Type: "blog.post", ID: "7"}}
	allowed := func() map[string]bool {
		out := map[string]bool{}
		for _, u := range users {
			for _, p := range perms {
				for i, o := range objs {
					if f.c.HasPerm(ctx, f.dir[u], p, o) {
						out[fmt.Sprint(u, " ", p, " ", i)] = true
					}
				}
			}
		}
		return out
	}
	miaHolds := func(p string, i int) bool { return f.c.HasPerm(ctx, f.dir["mia"], p, objs[i]) }
	r := rand.New(rand.NewPCG(3, 5))
	pick := func(xs ...string) string { return xs[r.IntN(len(xs))] }
	tok := f.token("mia")
	accepted := 0
	for range 400 {
		form := url.Values{"csrf": {tok}, "op": {pick("assign", "remove", "deactivate", "activate", "join", "leave", "grant", "revoke")},
			"kind": {pick("user", "user", "group")}, "id": {pick(append(users, "staff")...)},
			"role": {pick("", "blog.viewer", "blog.editor", "site.manager")}, "perm": {pick(perms...)},
			"group": {pick("staff", "writers")}, "user": {pick(users...)},
			"type": {pick("blog.post", "*")}, "oid": {pick("1", "7", "*", "")}}
		if form.Get("role") != "" && r.IntN(2) == 0 {
			form.Del("perm")
		}
		before := allowed()
		res := f.do("POST", "mia", "/change", form)
		if res.status != http.StatusSeeOther {
			require.Equal(t, before, allowed(), "a refused form changed something: %v", form)
			continue
		}
		accepted++
		for k := range allowed() {
			if before[k] {
				continue
			}
			var u, p string
			var i int
			_, err := fmt.Sscan(k, &u, &p, &i)
			require.NoError(t, err)
			require.True(t, miaHolds(p, i), "form %v let %s gain %s on %v, which mia does not hold", form, u, p, objs[i])
		}
	}
	require.Greater(t, accepted, 20, "the random forms must exercise accepted changes too")
	t.Logf("%d of 400 random forms accepted", accepted)
}
