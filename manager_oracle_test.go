package iam_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/iamgo/iam"
	"github.com/iamgo/iam/iamtest"
)

// TestManagerOracleMemory judges the Manager by brute force on the
// MemoryStore: after every accepted change, no user of the fixture can do
// anything that neither it could before nor the actor can (more than
// 10,000 accepted changes over random fixtures, with profiles and grants
// that expire; IAM_ORACLE_SEED replays a run). contract 7d, contract 19
func TestManagerOracleMemory(t *testing.T) {
	iamtest.ManagerOracle(t, func(t *testing.T) iam.Store { return iam.NewMemoryStore() }, iamtest.OracleOptions{
		Fixtures:          60,
		ChangesPerFixture: 400,
		MinAccepted:       10_000,
		Name:              "memory",
	})
}

// TestManagerOracleCatchesPlantedEscalation: the oracle finds a planted
// bug. The mutant applier writes type-level and global grants the Manager
// refused with ErrEscalation; the oracle must report escalations, among
// them one of those writes. contract 19
func TestManagerOracleCatchesPlantedEscalation(t *testing.T) {
	var (
		forced  atomic.Int64
		written sync.Map // the grants the mutant wrote
	)
	mutant := func(ctx context.Context, m *iam.Manager, st iam.Store, actor iam.Subject, ch iam.Change) error {
		err := m.Apply(ctx, actor, ch)
		if errors.Is(err, iam.ErrEscalation) && ch.Kind == iam.ChangeGrant && !ch.Grant.On.IsObject() {
			forced.Add(1)
			written.Store(ch.Grant, true)
			return st.Grant(ctx, ch.Grant)
		}
		return err
	}
	rep := iamtest.ManagerOracle(t, func(t *testing.T) iam.Store { return iam.NewMemoryStore() }, iamtest.OracleOptions{
		Fixtures:          24,
		ChangesPerFixture: 400,
		RecordOnly:        true,
		Apply:             mutant,
		Name:              "memory, mutant",
	})
	requirePlantedFound(t, rep, forced.Load(), &written)
}

// requirePlantedFound fails unless a mutant's run overrode refusals and the
// oracle reported escalations, among them one of the grants the mutant
// wrote (kept as keys of written).
func requirePlantedFound(t *testing.T, rep iamtest.OracleReport, forced int64, written *sync.Map) {
	t.Helper()
	require.Positive(t, forced, "the mutant never overrode a refusal")
	require.Positive(t, rep.Escalations, "the oracle missed the planted escalation")
	planted := 0
	for _, f := range rep.Findings {
		if _, ok := written.Load(f.Change.Grant); ok && f.Change.Kind == iam.ChangeGrant {
			planted++
		}
	}
	require.Positive(t, planted, "no finding is one of the mutant's writes: %v", rep.EscalationKinds)
	t.Logf("mutant: %d refusals overridden, %d escalations found, e.g.\n%s", forced, rep.Escalations, rep.Findings[0].Report)
}
