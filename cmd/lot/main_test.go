package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "lot-cli")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "lot")
	if out, err := exec.Command("go", "build", "-o", binary, ".").CombinedOutput(); err != nil {
		panic(string(out))
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// TestBadInputGivesOneClearError: every bad input exits non-zero with a
// single line on stderr that names the flag or file and the fault, and no
// usage text or stack trace.
func TestBadInputGivesOneClearError(t *testing.T) {
	dir := t.TempDir()
	unreadable := filepath.Join(dir, "bad.yaml")
	os.WriteFile(unreadable, []byte("tasks: [oops\n"), 0o644)
	typo := filepath.Join(dir, "typo.yaml")
	os.WriteFile(typo, []byte("taks: 3\n"), 0o644)
	out := filepath.Join(dir, "run")
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"run", "--out", out, "--activation", "swish"}, []string{"--activation", "swish"}},
		{[]string{"run", "--out", out, "--lr", "-0.1"}, []string{"--lr", "positive"}},
		{[]string{"run", "--out", out, "--data", filepath.Join(dir, "nowhere")}, []string{"nowhere", "no such file"}},
		{[]string{"run", "--out", out, "--config", unreadable}, []string{"--config", "bad.yaml"}},
		{[]string{"run", "--out", out, "--config", filepath.Join(dir, "absent.yaml")}, []string{"absent.yaml", "no such file"}},
		{[]string{"run", "--out", out, "--config", typo}, []string{"typo.yaml", "taks"}},
		{[]string{"run", "--out", out, "--hidden", "256,x"}, []string{"--hidden", "x"}},
		{[]string{"run", "--out", out, "--reg", "elastic"}, []string{"--reg", "elastic"}},
		{[]string{"run", "--out", out, "--method", "magic"}, []string{"--method", "magic"}},
		{[]string{"run", "--out", out, "--preset", "huge"}, []string{"--preset", "huge"}},
		{[]string{"run", "--out", out, "--tasks", "zero"}, []string{"--tasks", "zero"}},
		{[]string{"run", "--resume", filepath.Join(dir, "norun")}, []string{"--resume", "norun"}},
		{[]string{"run"}, []string{"--out"}},
	} {
		cmd := exec.Command(binary, tc.args...)
		var stderr strings.Builder
		cmd.Stderr = &stderr
		err := cmd.Run()
		msg := strings.TrimSpace(stderr.String())
		if err == nil {
			t.Errorf("%v: exited 0", tc.args)
			continue
		}
		if strings.Count(msg, "\n") != 0 || !strings.HasPrefix(msg, "lot: ") {
			t.Errorf("%v: want one line starting with 'lot: ', got:\n%s", tc.args, msg)
		}
		for _, w := range tc.want {
			if !strings.Contains(msg, w) {
				t.Errorf("%v: message %q does not mention %q", tc.args, msg, w)
			}
		}
	}
}

// TestConfigRoundTrip: the written config.yaml, fed back with --config,
// reproduces the run.
func TestConfigRoundTrip(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a"), filepath.Join(dir, "b")
	args := []string{"run", "--samples", "300", "--tasks", "2", "--epochs", "1", "--batch", "50", "--hidden", "16,8", "--activation", "leaky_relu:0.3", "--reg", "l2", "--log-every", "2"}
	if out, err := exec.Command(binary, append(args, "--out", a)...).CombinedOutput(); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if out, err := exec.Command(binary, "run", "--config", filepath.Join(a, "config.yaml"), "--out", b).CombinedOutput(); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	ca, _ := os.ReadFile(filepath.Join(a, "config.yaml"))
	cb, _ := os.ReadFile(filepath.Join(b, "config.yaml"))
	ma, _ := os.ReadFile(filepath.Join(a, "metrics.jsonl"))
	mb, _ := os.ReadFile(filepath.Join(b, "metrics.jsonl"))
	if string(ca) != string(cb) || string(ma) != string(mb) || len(ma) == 0 {
		t.Fatal("config.yaml fed back with --config did not reproduce the run")
	}
	if !strings.Contains(string(ca), "leaky_relu:0.3") || !strings.Contains(string(ca), "- 8") {
		t.Fatalf("flags not resolved into config.yaml:\n%s", ca)
	}
}
