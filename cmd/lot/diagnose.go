package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/lot-toolkit/lot/checkpoint"
	"github.com/lot-toolkit/lot/data"
	"github.com/lot-toolkit/lot/diagnostics"
	"github.com/lot-toolkit/lot/linalg"
	"github.com/lot-toolkit/lot/model"
	"github.com/lot-toolkit/lot/rundir"
)

func diagnoseCommand() *cobra.Command {
	var (
		ckpt, inputs, labels, activation, bnMode string
		asJSON                                   bool
		threads                                  int
	)
	cmd := &cobra.Command{
		Use:   "diagnose",
		Short: "Measure a trained model's trainability signals on a batch (PyTorch state_dicts welcome)",
		Long: `Load an MLP from a safetensors file — a PyTorch state_dict in lot's layout
(fc1, [bn1,] fc2, ..., nn.Linear weights [out, in]) or a lot run checkpoint —
and measure on the whole batch given by --inputs (float32 .npy, [N, input])
and --labels (int64 or int32 .npy, [N]): the mean cross-entropy, the
gradient's squared norm, the per-sample gradient noise σ², the sharpness (top
Hessian eigenvalue, to 1e-4 relative) and the empirical-Fisher rank, and per
module (fc1, bn1, fc2, ...) the same plus the unit-sign entropy of its output
and its weight norm.

A PyTorch checkpoint does not record its activation: give --activation. A lot
run checkpoint records it (--activation may then be omitted). BatchNorm's
num_batches_tracked counters are ignored.

From PyTorch:
  safetensors.torch.save_file(model.state_dict(), "m.safetensors")
  numpy.save("x.npy", x.numpy().astype("float32")); numpy.save("y.npy", y.numpy())
  lot diagnose --checkpoint m.safetensors --inputs x.npy --labels y.npy --activation relu`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			switch {
			case ckpt == "":
				return errors.New("--checkpoint: a safetensors file is required")
			case inputs == "":
				return errors.New("--inputs: a .npy file of float32 inputs [N, features] is required")
			case labels == "":
				return errors.New("--labels: a .npy file of int64 or int32 labels [N] is required")
			case bnMode != "train" && bnMode != "eval":
				return fmt.Errorf("--bn-mode: %q is not train or eval", bnMode)
			case threads < 1:
				return fmt.Errorf("--threads: want at least 1, got %d", threads)
			}
			linalg.SetThreads(threads)
			m, lay, origin, err := loadForDiagnosis(ckpt, activation, cmd.Flags().Changed("activation"))
			if err != nil {
				return err
			}
			if bnMode == "eval" && m.Spec.BatchNorm {
				return errors.New("--bn-mode eval: not supported for a model with BatchNorm: lot's exact Hessian-vector products differentiate BatchNorm through its batch statistics only, so the sharpness would be wrong; use --bn-mode train")
			}
			x, n, err := data.ReadNpyInputs(inputs, m.Spec.Input)
			if err != nil {
				return err
			}
			y, err := data.ReadNpyLabels(labels, n, m.Spec.Classes)
			if err != nil {
				return err
			}
			if m.Spec.BatchNorm && n < 2 {
				return fmt.Errorf("%s: BatchNorm in train mode needs at least 2 samples, the file has 1", inputs)
			}
			rep, err := diagnostics.Analyze(m, x, y, bnMode == "train")
			if err != nil {
				return err
			}
			for i := range rep.Layers { // the checkpoint's own names (fc4, not lot's fc3)
				rep.Layers[i].Name = lay.Name(rep.Layers[i].Name)
			}
			if asJSON {
				b, err := json.Marshal(rep)
				if err != nil {
					return err
				}
				for _, note := range rep.Notes {
					fmt.Fprintf(os.Stderr, "lot: note: %s\n", note)
				}
				_, err = fmt.Fprintf(os.Stdout, "%s\n", b)
				return err
			}
			return printReport(os.Stdout, rep, m.Spec, origin, n, bnMode)
		},
	}
	f := cmd.Flags()
	f.StringVar(&ckpt, "checkpoint", "", "safetensors file: a PyTorch state_dict in lot's layout or a lot run checkpoint")
	f.StringVar(&inputs, "inputs", "", "float32 .npy inputs, [N, features] ([N, 28, 28] and [N, 1, 28, 28] too)")
	f.StringVar(&labels, "labels", "", "int64 or int32 .npy labels, [N]")
	f.StringVar(&activation, "activation", "", "hidden activation: "+model.ActivationNames+" (required for a PyTorch checkpoint)")
	f.BoolVar(&asJSON, "json", false, "print one JSON object instead of the table")
	f.StringVar(&bnMode, "bn-mode", "train", "BatchNorm statistics: train (batch statistics, the training loss) or eval (running statistics; models without BatchNorm only)")
	f.IntVar(&threads, "threads", 1, "BLAS threads")
	return cmd
}

// loadForDiagnosis reads a checkpoint into a model. A lot run checkpoint
// (metadata lot.spec) carries its spec; a PyTorch state_dict's spec is
// inferred from the tensor shapes and --activation, and its linear layers
// may be numbered with gaps (the authors' fc1, fc2, fc4): lay maps lot's
// module names back to the checkpoint's. origin describes which.
func loadForDiagnosis(path, activation string, actGiven bool) (m *model.MLP, lay model.Layout, origin string, err error) {
	var act model.Activation
	if actGiven {
		if act, err = model.ParseActivation(activation); err != nil {
			return nil, lay, "", fmt.Errorf("--activation: %v", err)
		}
	}
	f, err := checkpoint.Read(path)
	if err != nil {
		return nil, lay, "", err
	}
	var spec model.Spec
	var tensors []model.Tensor
	origin = "PyTorch state_dict"
	if rundir.IsRunCheckpoint(f) {
		origin = "lot run checkpoint"
		sm, ts, err := rundir.ModelState(path, f)
		if err != nil {
			return nil, lay, "", err
		}
		saved, err := model.ParseActivation(sm.Activation)
		if err != nil {
			return nil, lay, "", fmt.Errorf("%s: lot.spec metadata: %v", path, err)
		}
		if actGiven && act != saved {
			return nil, lay, "", fmt.Errorf("--activation %s: %s was trained with %s", act, path, saved)
		}
		spec = model.Spec{Input: sm.Input, Hidden: sm.Hidden, Classes: sm.Classes, Activation: saved, BatchNorm: sm.BatchNorm}
		for _, t := range ts {
			tensors = append(tensors, model.Tensor{Name: t.Name, Shape: t.Shape, Data: t.Data})
		}
	} else {
		if !actGiven {
			return nil, lay, "", fmt.Errorf("--activation: %s is a PyTorch state_dict (no lot.spec metadata), which does not record its activation: give one of %s", path, model.ActivationNames)
		}
		shapes := make(map[string][]int, len(f.Tensors))
		for _, t := range f.Tensors {
			shapes[t.Name] = t.Shape
		}
		if spec, lay, err = model.InferLayout(shapes, act); err != nil {
			return nil, lay, "", inFile(path, err)
		}
		for _, t := range f.Tensors {
			tensors = append(tensors, model.Tensor{Name: lay.ToLot(t.Name), Shape: t.Shape, Data: t.Data})
		}
	}
	if m, err = model.New(spec); err != nil {
		return nil, lay, "", inFile(path, err)
	}
	if err := m.LoadStateDict(tensors); err != nil {
		return nil, lay, "", inFile(path, err)
	}
	return m, lay, origin, nil
}

// printReport writes the report as an aligned table: a header, the whole
// network's line, then one row per module.
func printReport(w io.Writer, rep diagnostics.Report, spec model.Spec, origin string, n int, bnMode string) error {
	arch := []string{fmt.Sprint(spec.Input)}
	for _, h := range spec.Hidden {
		arch = append(arch, fmt.Sprint(h))
	}
	arch = append(arch, fmt.Sprint(spec.Classes))
	desc := strings.Join(arch, "-") + " " + spec.Activation.String()
	if spec.BatchNorm {
		desc += ", BatchNorm with " + map[string]string{"train": "batch", "eval": "running"}[bnMode] + " statistics"
	}
	num := func(v diagnostics.Num) string { return fmt.Sprintf("%.6g", float64(v)) }
	fmt.Fprintf(w, "model  %s (%s), %d samples\n", desc, origin, n)
	fmt.Fprintf(w, "loss   %s    fisher_rank %s (empirical Fisher, 99%% rule, first %d samples)\n\n", num(rep.Loss), num(rep.FisherRank), min(n, 100))
	// Names left-aligned (padded to one width), numbers right-aligned.
	wide := len("layer")
	for _, l := range rep.Layers {
		wide = max(wide, len(l.Name))
	}
	pad := func(s string) string { return fmt.Sprintf("%-*s", wide, s) }
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "%s\tgrad_norm_sq\tgrad_noise\tsharpness\tuse\tweight_norm\t\n", pad("layer"))
	fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t-\t-\t\n", pad("all"), num(rep.GradNormSq), num(rep.GradNoise), num(rep.Sharpness))
	for _, l := range rep.Layers {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t\n", pad(l.Name), num(l.GradNormSq), num(l.GradNoise), num(l.Sharpness), num(l.Use), num(l.WeightNorm))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, note := range rep.Notes {
		fmt.Fprintf(w, "note: %s\n", note)
	}
	return nil
}

// inFile names the checkpoint behind a fault of the state_dict it holds.
func inFile(path string, err error) error {
	var me *model.Error
	if errors.As(err, &me) {
		err = me.Err // worded without the package name, for the file's
	}
	return fmt.Errorf("%s: %w", path, err)
}
