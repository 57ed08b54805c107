package iam_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/iamgo/iam"
	"github.com/iamgo/iam/iamtest"
)

// TestManagerOracleCatchesExpiredGrantCounted: the oracle finds a Manager
// that lets an expired grant count for the actor. The mutant applier
// writes a grant of a permission the Manager refused with ErrEscalation
// when the actor, or a group it is in, holds a grant of that permission
// with an expiry on the same ref or globally: had that grant been live,
// the Manager would have accepted, so it was expired and gave the actor
// nothing to hand on. The oracle must report escalations, among them one
// of those writes. contract 7d, contract 19
func TestManagerOracleCatchesExpiredGrantCounted(t *testing.T) {
	var (
		forced  atomic.Int64
		written sync.Map // the grants the mutant wrote
	)
	mutant := func(ctx context.Context, m *iam.Manager, st iam.Store, actor iam.Subject, ch iam.Change) error {
		err := m.Apply(ctx, actor, ch)
		if !errors.Is(err, iam.ErrEscalation) || ch.Kind != iam.ChangeGrant || ch.Grant.Perm == "" {
			return err
		}
		// The actor and its groups, as the Manager reads them.
		h, rerr := st.Holding(ctx, iam.User(actor.SubjectID()))
		if rerr != nil {
			return rerr
		}
		holders := []iam.Principal{iam.User(actor.SubjectID())}
		for _, g := range h.Groups() {
			holders = append(holders, iam.Group(g))
		}
		if sg, ok := actor.(interface{ SubjectGroups() []string }); ok {
			for _, g := range sg.SubjectGroups() {
				holders = append(holders, iam.Group(g))
			}
		}
		for _, on := range []iam.Ref{ch.Grant.On, iam.GlobalScope()} {
			gs, rerr := st.Grants(ctx, on)
			if rerr != nil {
				return rerr
			}
			for _, g := range gs.Grants(on) {
				if slices.Contains(holders, g.Holder) && g.Perm == ch.Grant.Perm && !g.ExpiresAt.IsZero() {
					forced.Add(1)
					written.Store(ch.Grant, true)
					return st.Grant(ctx, ch.Grant)
				}
			}
		}
		return err
	}
	rep := iamtest.ManagerOracle(t, func(t *testing.T) iam.Store { return iam.NewMemoryStore() }, iamtest.OracleOptions{
		Fixtures:          48,
		ChangesPerFixture: 500,
		FullEvalEvery:     10,
		ReplayEvery:       100,
		RecordOnly:        true,
		Apply:             mutant,
		Name:              "memory, expired grants count for the actor",
	})
	requirePlantedFound(t, rep, forced.Load(), &written)
	require.Zero(t, rep.Disagreements, "the Checker and the oracle's model disagree: %v", rep.DisagreementReports)
}
