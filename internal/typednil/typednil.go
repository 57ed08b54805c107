// Package typednil tells a typed nil: a non-nil interface value holding a
// nil pointer, map, slice, channel or function (a nil *User in an
// iam.Subject), whose methods may panic or answer for nobody.
package typednil

import "reflect"

// Is reports whether v is a typed nil. A nil interface is not one.
func Is(v any) bool {
	if v == nil {
		return false
	}
	switch rv := reflect.ValueOf(v); rv.Kind() {
	case reflect.Pointer, reflect.Map, reflect.Slice, reflect.Chan, reflect.Func, reflect.UnsafePointer:
		return rv.IsNil()
	}
	return false
}
