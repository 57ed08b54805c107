package iamadmin_test

import (
	"context"
	"io"
	"iter"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/iamgo/iam"
	"github.com/iamgo/iam/iamadmin"
	"github.com/iamgo/iam/internal/workload"
)

// bigDirectory is a directory of the workload's 100,000 users, sorted, so
// a page is a binary search and a slice.
type bigDirectory struct{ ids []string } // sorted by Principal.String

func (d bigDirectory) Search(_ context.Context, query, after string, limit int) ([]iamadmin.Entry, error) {
	i := 0
	if after != "" {
		id := strings.TrimPrefix(after, "user:")
		i = sort.SearchStrings(d.ids, id)
		if i < len(d.ids) && d.ids[i] == id {
			i++
		}
	}
	var out []iamadmin.Entry
	for ; i < len(d.ids) && len(out) < limit; i++ {
		if strings.Contains(d.ids[i], query) {
			out = append(out, iamadmin.Entry{Principal: iam.User(d.ids[i])})
		}
	}
	return out, nil
}

func (d bigDirectory) Lookup(_ context.Context, id string) (iamadmin.Entry, iam.Subject, error) {
	if _, ok := slices.BinarySearch(d.ids, id); ok || id == "admin" {
		u := &user{id: id, super: id == "admin"}
		return iamadmin.Entry{Principal: iam.User(id), Superuser: u.super}, u, nil
	}
	return iamadmin.Entry{}, nil, nil
}

// BenchmarkAdminPage renders the admin pages over 1,000,000 grants on
// 250,000 documents to 100,000 users (the realistic workload's data), as a
// superuser: a user's page (profiles, grants, effective permissions and the
// roles offered), a document's holders, a page of the principals list deep
// in the directory, Explain, and the policy.
func BenchmarkAdminPage(b *testing.B) {
	w, err := workload.Generate(workload.Flat(1))
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	store := iam.NewMemoryStore()
	types := []string{w.Spec.Levels[0].Type}
	var pol iam.Policy
	for _, p := range w.Perms {
		pol.Perms = append(pol.Perms, iam.Perm{Name: p, Types: types})
	}
	pol.Roles = []*iam.Role{{Name: "doc.reader", Perms: w.Perms[:1]}, {Name: "doc.admin", Perms: w.Perms}}
	next, stop := iter.Pull(w.Grants())
	defer stop()
	for more := true; more; {
		err := store.Transact(ctx, func(ctx context.Context, tx iam.Store) error {
			for range 100_000 {
				g, ok := next()
				if !ok {
					more = false
					return nil
				}
				h := iam.User(g.User)
				if g.Group != "" {
					h = iam.Group(g.Group)
				}
				if err := tx.Grant(ctx, iam.Grant{Holder: h, Perm: g.Perm, On: iam.Ref{Type: g.ObjectType, ID: g.ObjectID}}); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	c, err := iam.New(pol, store)
	if err != nil {
		b.Fatal(err)
	}
	u0, doc0 := w.Users[len(w.Users)/2], w.Objects[0][len(w.Objects[0])/3]
	if err := c.AssignRole(ctx, iam.Profile{Holder: iam.User(u0), Role: "doc.reader", Active: true}); err != nil {
		b.Fatal(err)
	}
	ids := slices.Clone(w.Users)
	slices.Sort(ids)
	admin := &user{id: "admin", super: true}
	h, err := iamadmin.New(c, iam.NewManager(c, iam.ManagerOptions{Logger: slog.New(slog.DiscardHandler)}), iamadmin.Options{
		Subject:   func(*http.Request) iam.Subject { return admin },
		Directory: bigDirectory{ids},
		Logger:    slog.New(slog.DiscardHandler),
	})
	if err != nil {
		b.Fatal(err)
	}
	pages := []struct{ name, path string }{
		{"principal", "/principal?kind=user&id=" + url.QueryEscape(u0)},
		{"object", "/object?type=" + types[0] + "&id=" + url.QueryEscape(doc0)},
		{"principals", "/principals?after=" + url.QueryEscape("user:"+ids[len(ids)*3/4])},
		{"explain", "/explain?user=" + url.QueryEscape(u0) + "&perm=" + w.Perms[0] + "&type=" + types[0] + "&id=" + url.QueryEscape(doc0)},
		{"policy", "/policy"},
	}
	for _, p := range pages {
		b.Run(p.name, func(b *testing.B) {
			req := httptest.NewRequest("GET", p.path, nil)
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != http.StatusOK {
				b.Fatalf("%s: %d\n%s", p.path, rec.Code, rec.Body.String())
			}
			b.ReportMetric(float64(rec.Body.Len()), "bytes/page")
			b.ReportAllocs()
			for b.Loop() {
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, req)
				if rec.Code != http.StatusOK {
					b.Fatal(rec.Code)
				}
				_, _ = io.Copy(io.Discard, rec.Body)
			}
		})
	}
}
