package model

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// InferSpec reads an MLP's architecture from the shapes of a PyTorch
// state_dict in lot's layout: linear layers fc1 … fcL (weight [out, in]),
// optionally BatchNorm1d bn1 … bn{L−1} after each hidden linear layer. The
// activation cannot be read from shapes and is given; it matters because
// CReLU doubles the width that the next layer reads. Only the fc and bn
// entries are looked at; LoadStateDict checks the rest.
func InferSpec(shapes map[string][]int, act Activation) (Spec, error) {
	var spec Spec
	spec.Activation = act
	// The fc layers must be numbered 1..L with no gap.
	L := 0
	for name := range shapes {
		if rest, ok := strings.CutPrefix(name, "fc"); ok {
			num, _, _ := strings.Cut(rest, ".")
			if i, err := strconv.Atoi(num); err == nil && i > L {
				L = i
			}
		}
	}
	if L == 0 {
		return spec, fmt.Errorf("model: no fc1.weight: not a state_dict of lot's MLP layout (fc1, [bn1,] fc2, ...)")
	}
	f := act.widthFactor()
	prevOut := 0
	for i := 1; i <= L; i++ {
		name := fmt.Sprintf("fc%d.weight", i)
		s, ok := shapes[name]
		if !ok {
			return spec, fmt.Errorf("model: %s missing (the state_dict has fc%d)", name, L)
		}
		if len(s) != 2 || s[0] < 1 || s[1] < 1 {
			return spec, fmt.Errorf("model: %s has shape %v, want [out in]", name, s)
		}
		if i == 1 {
			spec.Input = s[1]
		} else if s[1] != prevOut*f {
			hint := "check --activation"
			switch {
			case f == 1 && s[1] == 2*prevOut:
				hint = "its input is twice fc" + strconv.Itoa(i-1) + "'s width: is the activation crelu?"
			case f == 2 && 2*s[1] == prevOut*f:
				hint = "its input equals fc" + strconv.Itoa(i-1) + "'s width: the activation is not crelu"
			}
			return spec, fmt.Errorf("model: %s has shape %v, but fc%d has %d outputs, which %s feeds forward as %d inputs; %s",
				name, s, i-1, prevOut, act, prevOut*f, hint)
		}
		if i < L {
			spec.Hidden = append(spec.Hidden, s[0])
		} else {
			spec.Classes = s[0]
		}
		prevOut = s[0]
	}
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
		return spec, fmt.Errorf("model: BatchNorm must follow every hidden layer or none: %s present but %s missing", have[0], lack[0])
	}
	spec.BatchNorm = len(have) > 0
	if err := spec.Validate(); err != nil {
		return spec, err
	}
	return spec, nil
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
			return fmt.Errorf("model: tensor %s given twice", t.Name)
		}
		seen[i] = true
		dst := want[i]
		n := 1
		for _, d := range t.Shape {
			n *= d
		}
		if !slices.Equal(t.Shape, dst.Shape) {
			return fmt.Errorf("model: tensor %s has shape %v, the model needs %v", t.Name, t.Shape, dst.Shape)
		}
		if n != len(t.Data) {
			return fmt.Errorf("model: tensor %s has shape %v but %d values", t.Name, t.Shape, len(t.Data))
		}
	}
	if len(unknown) > 0 {
		slices.Sort(unknown)
		return fmt.Errorf("model: unknown tensor %s (the model has %s)", strings.Join(unknown, ", "), names(want))
	}
	for i, ok := range seen {
		if !ok {
			return fmt.Errorf("model: tensor %s missing", want[i].Name)
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
