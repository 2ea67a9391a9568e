package keyerr

import (
	"errors"
	"fmt"
	"testing"
)

// TestUnder: a key error is placed below the prefix and keeps its fault;
// nil and other errors pass through unchanged.
func TestUnder(t *testing.T) {
	fault := errors.New("must be positive")
	err := Under("diagnostics", &Error{Key: "kappa", Err: fault})
	var ke *Error
	if !errors.As(err, &ke) || ke.Key != "diagnostics.kappa" || !errors.Is(err, fault) {
		t.Fatalf("got %v", err)
	}
	if got := err.Error(); got != "diagnostics.kappa: must be positive" {
		t.Errorf("message %q", got)
	}
	if Under("x", nil) != nil {
		t.Error("nil became an error")
	}
	wrapped := fmt.Errorf("file.yaml: %w", &Error{Key: "lr", Err: fault})
	if Under("x", wrapped) != wrapped {
		t.Error("a wrapped key error was re-keyed")
	}
	if got := Errorf("lr", "got %v", -1).Error(); got != "lr: got -1" {
		t.Errorf("Errorf: %q", got)
	}
}
