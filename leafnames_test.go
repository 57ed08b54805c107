package iam_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/iamgo/iam"
)

// TestDuplicateLeafNames: two different predicates under one name are a
// policy error at New, within one rule or across rules, since they would
// print alike and a check runs each named leaf once; one Predicate value
// reused is fine. contract 12
func TestDuplicateLeafNames(t *testing.T) {
	yes := func(context.Context, iam.Subject, iam.Object) bool { return true }
	no := func(context.Context, iam.Subject, iam.Object) bool { return false }
	check := iam.Pred("check", yes)
	other := iam.Pred("check", no)
	editor := &iam.Role{Name: "editor"}
	tests := []struct {
		name  string
		rules map[string]iam.Predicate
		ok    bool
	}{
		{"same value twice in a rule", map[string]iam.Predicate{"a": iam.And(check, iam.Not(check))}, true},
		{"same value in two rules", map[string]iam.Predicate{"a": check, "b": iam.Or(check, iam.HasRole(editor))}, true},
		{"HasRole built twice", map[string]iam.Predicate{"a": iam.HasRole(editor), "b": iam.HasRole(editor)}, true},
		{"two predicates in one rule", map[string]iam.Predicate{"a": iam.And(check, other)}, false},
		{"two predicates in two rules", map[string]iam.Predicate{"a": check, "b": iam.Not(other)}, false},
		{"a Pred named like a built-in", map[string]iam.Predicate{"a": iam.Or(iam.HasRole(editor), iam.Pred("has_role:editor", yes))}, false},
		{"two PredProfile", map[string]iam.Predicate{
			"a": iam.PredProfile("dept", editor, func(context.Context, iam.Subject, iam.Object, int) bool { return true }),
			"b": iam.PredProfile("dept", editor, func(context.Context, iam.Subject, iam.Object, int) bool { return false }),
		}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := iam.New(iam.Policy{Roles: []*iam.Role{editor}, Rules: tc.rules}, iam.NewMemoryStore())
			if tc.ok {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, iam.ErrInvalidPolicy)
			require.Contains(t, err.Error(), "two different predicates")
		})
	}
}
