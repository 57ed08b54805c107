package typednil_test

import (
	"testing"
	"unsafe"

	"github.com/iamgo/iam/internal/typednil"
)

type user struct{}

func (*user) SubjectID() string { return "" }

type subject interface{ SubjectID() string }

func TestIs(t *testing.T) {
	var (
		nilUser *user
		nilMap  map[string]int
		nilFunc func()
		nilCh   chan int
		nilSl   []int
		nilPtr  unsafe.Pointer
	)
	tests := []struct {
		name string
		v    any
		want bool
	}{
		{"nil interface", nil, false},
		{"nil interface of an interface type", subject(nil), false},
		{"nil pointer", nilUser, true},
		{"nil pointer in an interface", subject(nilUser), true},
		{"pointer", &user{}, false},
		{"nil map", nilMap, true},
		{"nil func", nilFunc, true},
		{"nil chan", nilCh, true},
		{"nil slice", nilSl, true},
		{"nil unsafe.Pointer", nilPtr, true},
		{"struct", user{}, false},
		{"string", "", false},
		{"int", 0, false},
	}
	for _, tt := range tests {
		if got := typednil.Is(tt.v); got != tt.want {
			t.Errorf("%s: Is = %v, want %v", tt.name, got, tt.want)
		}
	}
}
