package model

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// InferSpec is InferLayout's spec, for state_dicts whose names need no
// translation.
func InferSpec(shapes map[string][]int, act Activation) (Spec, error) {
	spec, _, err := InferLayout(shapes, act)
	return spec, err
}

// Layout is how a state_dict names its linear layers. lot numbers them
// fc1 … fcL; other code need not: the authors' MLP is fc1, fc2, fc4. FC[i]
// is the state_dict's name of lot's fc{i+1}.
type Layout struct {
	FC []string
}

// ToLot renames a state_dict tensor to lot's name (fc4.weight → fc3.weight
// for fc1, fc2, fc4); other names are kept.
func (l Layout) ToLot(name string) string {
	mod, rest, _ := strings.Cut(name, ".")
	for i, fc := range l.FC {
		if fc == mod {
			return fmt.Sprintf("fc%d.%s", i+1, rest)
		}
	}
	return name
}

// Name returns the state_dict's name of lot's module (fc3 → fc4 for fc1,
// fc2, fc4); other names are kept.
func (l Layout) Name(lot string) string {
	if rest, ok := strings.CutPrefix(lot, "fc"); ok {
		if i, err := strconv.Atoi(rest); err == nil && i >= 1 && i <= len(l.FC) {
			return l.FC[i-1]
		}
	}
	return lot
}

// InferLayout reads an MLP's architecture from the shapes of a PyTorch
// state_dict: linear layers fc<k> (weight [out, in]) in increasing k, not
// necessarily consecutive (the authors' fc1, fc2, fc4), optionally
// BatchNorm1d bn1 … bn{L−1} after each hidden linear layer. The activation
// cannot be read from shapes and is given; it matters because CReLU
// doubles the width that the next layer reads. Only the fc and bn entries
// are looked at; LoadStateDict checks the rest, under the names ToLot
// gives.
func InferLayout(shapes map[string][]int, act Activation) (Spec, Layout, error) {
	var spec Spec
	var lay Layout
	spec.Activation = act
	var ks []int
	for name := range shapes {
		if rest, ok := strings.CutPrefix(name, "fc"); ok {
			num, _, _ := strings.Cut(rest, ".")
			// Only canonical numbers: fc01 would alias fc1.
			if k, err := strconv.Atoi(num); err == nil && k >= 0 && strconv.Itoa(k) == num && !slices.Contains(ks, k) {
				ks = append(ks, k)
			}
		}
	}
	if len(ks) == 0 {
		return spec, lay, fault("no fc1.weight (no linear layer fc<k> at all): not a state_dict of lot's MLP layout (fc1, [bn1,] fc2, ...)")
	}
	slices.Sort(ks)
	f := act.widthFactor()
	prevOut, prev := 0, ""
	for i, k := range ks {
		fc := fmt.Sprintf("fc%d", k)
		lay.FC = append(lay.FC, fc)
		name := fc + ".weight"
		s, ok := shapes[name]
		if !ok {
			return spec, lay, fault("%s missing (the state_dict has other %s tensors)", name, fc)
		}
		if len(s) != 2 || s[0] < 1 || s[1] < 1 {
			return spec, lay, fault("%s has shape %v, want [out in]", name, s)
		}
		if i == 0 {
			spec.Input = s[1]
		} else if s[1] != prevOut*f {
			hint := "check the activation"
			switch {
			case f == 1 && s[1] == 2*prevOut:
				hint = "its input is twice " + prev + "'s width: is the activation crelu?"
			case f == 2 && 2*s[1] == prevOut*f:
				hint = "its input equals " + prev + "'s width: the activation is not crelu"
			}
			return spec, lay, fault("%s has shape %v, but %s has %d outputs, which %s feeds forward as %d inputs; %s",
				name, s, prev, prevOut, act, prevOut*f, hint)
		}
		if i < len(ks)-1 {
			spec.Hidden = append(spec.Hidden, s[0])
		} else {
			spec.Classes = s[0]
		}
		prevOut, prev = s[0], fc
	}
	L := len(ks)
	// BatchNorm after every hidden layer or after none.
	bnFields := []string{"weight", "bias", "running_mean", "running_var"}
	var have, lack []string
	for i := 1; i < L; i++ {
		for _, fld := range bnFields {
			name := fmt.Sprintf("bn%d.%s", i, fld)
			if _, ok := shapes[name]; ok {
				have = append(have, name)
			} else {
				lack = append(lack, name)
			}
		}
	}
	if len(have) > 0 && len(lack) > 0 {
		return spec, lay, fault("BatchNorm must follow every hidden layer or none: %s present but %s missing", have[0], lack[0])
	}
	spec.BatchNorm = len(have) > 0
	if err := spec.Validate(); err != nil {
		return spec, lay, err
	}
	return spec, lay, nil
}

// LoadStateDict copies every entry of a state_dict (trainable tensors and
// BatchNorm's running statistics, by PyTorch name) into the model, checking
// each shape. A name the model does not have, and a tensor the model needs
// but the list lacks, are errors that name them. Everything is checked
// before anything is copied, so on error the model is unchanged.
func (m *MLP) LoadStateDict(tensors []Tensor) error {
	want := m.StateDict()
	index := make(map[string]int, len(want))
	for i, t := range want {
		index[t.Name] = i
	}
	seen := make([]bool, len(want))
	var unknown []string
	for _, t := range tensors {
		i, ok := index[t.Name]
		if !ok {
			unknown = append(unknown, t.Name)
			continue
		}
		if seen[i] {
			return fault("tensor %s given twice", t.Name)
		}
		seen[i] = true
		dst := want[i]
		n := 1
		for _, d := range t.Shape {
			n *= d
		}
		if !slices.Equal(t.Shape, dst.Shape) {
			return fault("tensor %s has shape %v, the model needs %v", t.Name, t.Shape, dst.Shape)
		}
		if n != len(t.Data) {
			return fault("tensor %s has shape %v but %d values", t.Name, t.Shape, len(t.Data))
		}
	}
	if len(unknown) > 0 {
		slices.Sort(unknown)
		return fault("unknown tensor %s (the model has %s)", strings.Join(unknown, ", "), names(want))
	}
	for i, ok := range seen {
		if !ok {
			return fault("tensor %s missing", want[i].Name)
		}
	}
	for _, t := range tensors {
		copy(want[index[t.Name]].Data, t.Data)
	}
	return nil
}

func names(ts []Tensor) string {
	s := make([]string, len(ts))
	for i, t := range ts {
		s[i] = t.Name
	}
	return strings.Join(s, ", ")
}
