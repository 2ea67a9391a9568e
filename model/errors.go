package model

import "fmt"

// Error is a fault of a spec or a state_dict. Callers that name where the
// state_dict came from (a file) word the fault from Err.
type Error struct {
	Err error // what is wrong, without the package name
}

func (e *Error) Error() string { return "model: " + e.Err.Error() }
func (e *Error) Unwrap() error { return e.Err }

// fault returns an *Error with a formatted cause.
func fault(format string, a ...any) error {
	return &Error{Err: fmt.Errorf(format, a...)}
}
