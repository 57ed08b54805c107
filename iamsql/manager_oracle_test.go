package iamsql_test

import (
	"testing"

	"github.com/iamgo/iam"
	"github.com/iamgo/iam/iamsql"
	"github.com/iamgo/iam/iamtest"
)

// TestManagerOracleSQLite judges the Manager by brute force on SQLite
// (through the read cache, which the Manager's writes invalidate): after
// every accepted change, no user of the fixture can do anything that
// neither it could before nor the actor can; more than 10,000 accepted
// changes (IAM_ORACLE_SEED replays a run). contract 19
func TestManagerOracleSQLite(t *testing.T) {
	iamtest.ManagerOracle(t, func(t *testing.T) iam.Store { return openSQLite(t, iamsql.DefaultOptions()) }, iamtest.OracleOptions{
		Fixtures:          32,
		ChangesPerFixture: 500,
		MinAccepted:       10_000,
		FullEvalEvery:     10,
		ReplayEvery:       3,
		Name:              "sqlite",
	})
}

// TestManagerOraclePostgres is the same oracle on PostgreSQL, a smaller
// run (each fixture on a fresh schema; under CI=true a missing
// IAM_TEST_POSTGRES_DSN fails the test). contract 19
func TestManagerOraclePostgres(t *testing.T) {
	postgresDSN(t)
	iamtest.ManagerOracle(t, func(t *testing.T) iam.Store { return openPostgres(t, iamsql.DefaultOptions()) }, iamtest.OracleOptions{
		Fixtures:          10,
		ChangesPerFixture: 200,
		MinAccepted:       1000,
		FullEvalEvery:     10,
		ReplayEvery:       3,
		Name:              "postgres",
	})
}
