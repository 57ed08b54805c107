package iamsql_test

import (
	"testing"

	"github.com/iamgo/iam"
	"github.com/iamgo/iam/iamsql"
	"github.com/iamgo/iam/iamtest"
)

// TestAccessConsistency runs the access-query consistency suite on SQLite
// and PostgreSQL: for each of 14,400 (user, permission, object) triples,
// Check allows ⇔ ListObjects (one SQL query) lists the object ⇔ Holders
// lists the user. The stores run with their default cache (checks warm
// up; ListObjects, Holders and the listers always query the database):
// without it the 14,400 checks cost ~3 queries each (measured: 40 s on
// SQLite, 102 s on PostgreSQL without -race), and TestConformance already
// runs every read uncached. contract 4a, 4b, 4c, 7, 15
func TestAccessConsistency(t *testing.T) {
	for _, d := range dialects {
		t.Run(d.name, func(t *testing.T) {
			iamtest.TestAccess(t, func(t *testing.T) iam.Store { return d.open(t, iamsql.DefaultOptions()) })
		})
	}
}
