// Package keyerr owns the error type of a bad setting named by its config
// key, so that library packages report keys (window, schedule.gamma) and
// the command line maps each key to the flag its user typed.
package keyerr

import (
	"errors"
	"fmt"
)

// Error is a fault in the value of one config key.
type Error struct {
	Key string // dotted config key, e.g. "diagnostics.window"
	Err error  // what is wrong, without the key
}

func (e *Error) Error() string { return e.Key + ": " + e.Err.Error() }
func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an *Error for key with a formatted fault.
func Errorf(key, format string, a ...any) error {
	return &Error{Key: key, Err: fmt.Errorf(format, a...)}
}

// Under places a key error below prefix (window becomes
// diagnostics.window); other errors are returned unchanged.
func Under(prefix string, err error) error {
	var ke *Error
	if err == nil || !errors.As(err, &ke) || error(ke) != err {
		return err
	}
	return &Error{Key: prefix + "." + ke.Key, Err: ke.Err}
}
