package iamsql_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/iamgo/iam"
	"github.com/iamgo/iam/iamsql"
)

// BenchmarkSQLListObjects is BenchmarkListObjects of the root package on
// the SQL stores: 1,000,000 documents with one doc.view grant each, the
// reader holding 10,000 of them (every 100th); ListObjects is one SQL query
// (no cache). The grants are loaded with one INSERT ... SELECT.
func BenchmarkSQLListObjects(b *testing.B) {
	for _, d := range dialects {
		b.Run("10k_of_1M/"+d.name, func(b *testing.B) {
			ctx := context.Background()
			s := d.open(b, iamsql.Options{})
			gen := `WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < 999999)
				INSERT INTO iam_grants (obj_type, obj_id, holder_kind, holder_id, is_role, name)
				SELECT 'doc', printf('d%07d', i), 1, 'u' || (i % 100), 0, 'doc.view' FROM n`
			if s.Dialect() == iamsql.Postgres {
				gen = `INSERT INTO iam_grants (obj_type, obj_id, holder_kind, holder_id, is_role, name)
					SELECT 'doc', 'd' || lpad(i::text, 7, '0'), 1, 'u' || (i % 100), FALSE, 'doc.view'
					FROM generate_series(0, 999999) AS i`
			}
			_, err := s.DB().ExecContext(ctx, gen)
			require.NoError(b, err)
			if s.Dialect() == iamsql.Postgres {
				_, err = s.DB().ExecContext(ctx, `ANALYZE iam_grants`)
			} else {
				_, err = s.DB().ExecContext(ctx, `ANALYZE`)
			}
			require.NoError(b, err)
			c, err := iam.New(iam.Policy{Perms: []iam.Perm{{Name: "doc.view"}}}, s)
			require.NoError(b, err)
			u := benchSubject("u0")
			for _, page := range []struct {
				name string
				o    iam.ListOptions
				want int
			}{
				{"all", iam.ListOptions{}, 10_000},
				{"page50", iam.ListOptions{After: "d0500000", Limit: 50}, 50},
			} {
				b.Run(page.name, func(b *testing.B) {
					b.ReportAllocs()
					for b.Loop() {
						l, err := c.ListObjects(ctx, u, "doc.view", "doc", page.o)
						if err != nil || len(l.IDs) != page.want {
							b.Fatalf("ListObjects: %d IDs, %v; want %d", len(l.IDs), err, page.want)
						}
					}
				})
			}
		})
	}
}

type benchSubject string

func (s benchSubject) SubjectID() string { return string(s) }
