package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/spf13/cobra"

	"github.com/lot-toolkit/lot/serve"
)

func serveCommand() *cobra.Command {
	var addr string
	cmd := &cobra.Command{
		Use:   "serve DIR...",
		Short: "Watch and compare runs in a browser (a local, read-only dashboard)",
		Long: `Serve a dashboard over run directories, reproductions and sweeps: the runs
found under each DIR with their status, progress and config differences; any
logged metric of a run (per-layer diagnostics and learning rates included),
updated live while it trains; runs overlaid, seeds of one config as a mean and
a band; the reports rendered with their figures. It only reads: nothing is
written, deleted or run, and no file outside the DIRs is served. It listens on
loopback unless --addr says otherwise.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, dirs []string) error {
			s, err := serve.New(serve.Options{Dirs: dirs})
			if err != nil {
				return err
			}
			defer s.Close()
			ln, err := net.Listen("tcp", addr)
			if err != nil {
				return fmt.Errorf("--addr %s: %v", addr, err)
			}
			if host, _, _ := net.SplitHostPort(ln.Addr().String()); !net.ParseIP(host).IsLoopback() {
				fmt.Fprintf(cmd.ErrOrStderr(), "lot serve: listening beyond this machine on %s; anyone who can reach it can read the runs\n", ln.Addr())
			}
			fmt.Fprintf(cmd.OutOrStdout(), "lot serve: http://%s/\n", ln.Addr())
			srv := &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 10 * time.Second}
			go func() {
				<-cmd.Context().Done()
				ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
				defer cancel()
				srv.Shutdown(ctx)
				srv.Close() // the live streams do not end by themselves
			}()
			if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
				return err
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&addr, "addr", "127.0.0.1:8080", "address to listen on (host:port; port 0 picks a free one)")
	return cmd
}
