// Command lot trains networks on continual-learning task streams and measures
// their loss of trainability. Run `lot help` for the commands.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"runtime/pprof"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/lot-toolkit/lot/linalg"
	"github.com/lot-toolkit/lot/train"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var cpuProfile string
	root := &cobra.Command{
		Use:           "lot",
		Short:         "lot: measure, predict and prevent loss of trainability in continual learning",
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			// Every command but plot and serve multiplies matrices; without OpenBLAS
			// they would silently run on gonum, slower and with other bits.
			if cmd.Name() != "plot" && cmd.Name() != "serve" {
				if err := linalg.Ready(); err != nil {
					return err
				}
			}
			if cpuProfile == "" {
				return nil
			}
			f, err := os.Create(cpuProfile)
			if err != nil {
				return fmt.Errorf("--cpuprofile: %v", err)
			}
			return pprof.StartCPUProfile(f)
		},
	}
	root.PersistentFlags().StringVar(&cpuProfile, "cpuprofile", "", "write a CPU profile (go tool pprof) to this file")
	root.AddCommand(runCommand(), benchCommand(), plotCommand(), diagnoseCommand(), reproduceCommand(), sweepCommand(), serveCommand())
	err := root.ExecuteContext(ctx)
	pprof.StopCPUProfile() // also on errors and interruptions; a no-op if none runs
	var ie interrupted
	switch {
	case errors.As(err, &ie):
		fmt.Fprintf(os.Stderr, "lot: interrupted; checkpoint saved; continue with: lot run --resume %s\n", ie.dir)
		os.Exit(exitInterrupted)
	case errors.Is(err, train.ErrDiverged):
		fmt.Fprintf(os.Stderr, "lot: %v\n", err)
		os.Exit(exitDiverged)
	case err != nil:
		fmt.Fprintf(os.Stderr, "lot: %v\n", err)
		os.Exit(1)
	}
}

// Exit statuses besides 0 (done) and 1 (bad input or a failure).
const (
	exitDiverged    = 3                     // the loss, a gradient or a parameter went non-finite
	exitInterrupted = train.ExitInterrupted // SIGINT or SIGTERM; checkpointed
)

// interrupted carries the run directory of a run stopped by a signal.
type interrupted struct{ dir string }

func (i interrupted) Error() string { return train.ErrInterrupted.Error() }
