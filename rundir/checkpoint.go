package rundir

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"

	"github.com/lot-toolkit/lot/checkpoint"
)

// The layout of a lot run checkpoint: the model's state_dict under PyTorch
// names, the other state under these prefixes, and these metadata keys.
const (
	MetaFormat      = "lot.format"
	MetaConfig      = "lot.config"
	MetaSpec        = "lot.spec"
	MetaPosition    = "lot.position"
	MetaDiagnostics = "lot.diagnostics"
	MetaMethod      = "lot.method" // the method's own state (train.Method), if any
	FormatVersion   = "1"

	OptimizerPrefix   = "optimizer."
	AnchorPrefix      = "anchor."
	DiagnosticsPrefix = "diagnostics."
	DiagPowerPrefix   = DiagnosticsPrefix + "power."
	MethodPrefix      = "method."
	RegPrefix         = "reg." // a stateful in-loss regulariser's state
)

// extraPrefixes name the tensors that are not the model's state_dict.
var extraPrefixes = []string{OptimizerPrefix, AnchorPrefix, DiagnosticsPrefix, MethodPrefix, RegPrefix}

// SpecMeta is the architecture as stored in checkpoint metadata, so that
// tools can rebuild the model without the config.
type SpecMeta struct {
	Input      int    `json:"input"`
	Hidden     []int  `json:"hidden"`
	Classes    int    `json:"classes"`
	Activation string `json:"activation"`
	BatchNorm  bool   `json:"batchnorm"`
}

// WriteCheckpoint replaces a checkpoint atomically and durably, stamping it
// with this version's format.
func WriteCheckpoint(path string, tensors []checkpoint.Tensor, meta map[string]string) error {
	meta[MetaFormat] = FormatVersion
	return checkpoint.Write(path, tensors, meta)
}

// ReadCheckpoint reads a lot run checkpoint: ErrNoRun when there is none,
// ErrUnreadable when it is damaged, ErrOtherVersion when another version
// of lot wrote it.
func ReadCheckpoint(path string) (*checkpoint.File, error) {
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		return nil, &Error{Path: path, Kind: ErrNoRun, Err: errors.New("no checkpoint")}
	}
	f, err := checkpoint.Read(path)
	if err != nil {
		var ce *checkpoint.Error
		if errors.As(err, &ce) {
			err = ce.Err // this error names the file itself
		}
		return nil, &Error{Path: path, Kind: ErrUnreadable, Err: err}
	}
	if v, ok := f.Meta[MetaFormat]; !ok {
		return nil, &Error{Path: path, Kind: ErrUnreadable, Err: errors.New("not a lot run checkpoint (no " + MetaFormat + " metadata)")}
	} else if v != FormatVersion {
		return nil, &Error{Path: path, Kind: ErrOtherVersion, Err: fmt.Errorf("checkpoint format %q, this version reads %q", v, FormatVersion)}
	}
	return f, nil
}

// IsRunCheckpoint reports whether a safetensors file's metadata marks it
// as a lot run checkpoint rather than, say, a PyTorch state_dict.
func IsRunCheckpoint(f *checkpoint.File) bool {
	_, ok := f.Meta[MetaSpec]
	return ok
}

// ModelState returns a lot run checkpoint's architecture and the tensors
// of its model (the state_dict, without optimiser and other state).
func ModelState(path string, f *checkpoint.File) (SpecMeta, []checkpoint.Tensor, error) {
	var sm SpecMeta
	if v := f.Meta[MetaFormat]; v != FormatVersion {
		return sm, nil, &Error{Path: path, Kind: ErrOtherVersion, Err: fmt.Errorf("checkpoint format %q, this version reads %q", v, FormatVersion)}
	}
	if err := json.Unmarshal([]byte(f.Meta[MetaSpec]), &sm); err != nil {
		return sm, nil, &Error{Path: path, Kind: ErrUnreadable, Err: fmt.Errorf("%s metadata: %v", MetaSpec, err)}
	}
	var ts []checkpoint.Tensor
	for _, t := range f.Tensors {
		if !hasAnyPrefix(t.Name, extraPrefixes) {
			ts = append(ts, t)
		}
	}
	return sm, ts, nil
}

func hasAnyPrefix(s string, prefixes []string) bool {
	for _, p := range prefixes {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}
