package main

import (
	"encoding/json"
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
	badLR := filepath.Join(dir, "badlr.yaml")
	os.WriteFile(badLR, []byte("lr: -1\n"), 0o644)
	badWindow := filepath.Join(dir, "badwindow.yaml")
	os.WriteFile(badWindow, []byte("diagnostics:\n    window: 0\n"), 0o644)
	out := filepath.Join(dir, "run")
	// Runs to resume: one whose checkpoint is torn, one whose config.yaml
	// holds a value this version refuses.
	torn, refused := filepath.Join(dir, "torn"), filepath.Join(dir, "refused")
	os.MkdirAll(torn, 0o755)
	os.WriteFile(filepath.Join(torn, "config.yaml"), []byte("samples: 300\ntasks: 1\nepochs: 1\nhidden: [4]\n"), 0o644)
	os.WriteFile(filepath.Join(torn, "checkpoint.safetensors"), []byte("\x10\x00\x00\x00\x00\x00\x00\x00{\"a\":"), 0o644)
	os.MkdirAll(refused, 0o755)
	os.WriteFile(filepath.Join(refused, "config.yaml"), []byte("lr: -1\n"), 0o644)
	repro := func(args ...string) []string {
		return append([]string{"reproduce", "fig5", "--out", filepath.Join(dir, "repro")}, args...)
	}
	smoke := func(args ...string) []string {
		return append([]string{"run", "--preset", "smoke", "--out", filepath.Join(dir, "smoke")}, args...)
	}
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
		{[]string{"run", "--out", out, "--method", "scheduled", "--max-lr", "-1"}, []string{"--max-lr", "-1"}},
		{[]string{"run", "--out", out, "--preset", "huge"}, []string{"--preset", "huge"}},
		{[]string{"run", "--out", out, "--tasks", "zero"}, []string{"--tasks", "zero"}},
		{[]string{"run", "--resume", filepath.Join(dir, "norun")}, []string{"--resume", "norun", "not a run directory"}},
		{[]string{"run", "--resume", torn}, []string{"--resume " + torn + ": ", filepath.Join(torn, "checkpoint.safetensors") + ": unreadable"}},
		{[]string{"run", "--resume", refused}, []string{"--resume " + refused + ": config.yaml: lr: ", "positive"}},
		// reproduce's settings are named by its flags.
		{repro("--scale", "huge"), []string{"--scale: ", "huge"}},
		{repro("--seeds", "0"), []string{"--seeds: ", "at least 1"}},
		{repro("--protocol", "mine"), []string{"--protocol: ", "mine"}},
		{repro("--jobs", "0"), []string{"--jobs: ", "at least 1"}},
		{repro("--only", "[x"), []string{"--only: ", "not a glob"}},
		{repro("--only", "nothing-*"), []string{"--only: ", "matches none"}},
		{[]string{"run"}, []string{"--out"}},
		// An explicit zero is refused with its reason, never replaced by the
		// default (which would run, and exit 0, with the smoke preset).
		{smoke("--method", "scheduled", "--cool", "0"), []string{"--cool", "(0, 1)", "got 0"}},
		{smoke("--method", "scheduled", "--warm", "0"), []string{"--warm", "above 1"}},
		{smoke("--method", "scheduled", "--gamma", "0"), []string{"--gamma", "positive"}},
		{smoke("--window", "0"), []string{"--window", "at least 2"}},
		{smoke("--kappa", "0"), []string{"--kappa", "positive"}},
		{smoke("--power-tol", "-1"), []string{"--power-tol", ">= 0"}},
		{smoke("--power-iters", "0"), []string{"--power-iters", "at least 1"}},
		{smoke("--fisher-samples", "0"), []string{"--fisher-samples", "at least 2"}},
		{smoke("--method", "scheduled", "--diagnostics", "light"), []string{"--method", "full diagnostics"}},
		// A bad value from a config file names the file and the key.
		{smoke("--config", badLR), []string{"--config", "badlr.yaml", "lr: ", "positive"}},
		{smoke("--config", badWindow), []string{"--config", "badwindow.yaml", "diagnostics.window", "at least 2"}},
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

// TestMissingMNISTNamesTheDataFlag: without GoMNIST in any module cache
// the one line says where lot looked and that --data gives the directory.
func TestMissingMNISTNamesTheDataFlag(t *testing.T) {
	empty := t.TempDir()
	cmd := exec.Command(binary, "run", "--preset", "smoke", "--out", filepath.Join(empty, "run"))
	// The go command that lot asks for GOMODCACHE writes telemetry under
	// the user's config directory, and can still be writing when lot has
	// exited: kept out of the TempDir, whose cleanup would race it.
	cmd.Env = append(os.Environ(), "GOMODCACHE="+filepath.Join(empty, "modcache"), "GOPATH="+filepath.Join(empty, "gopath"), "HOME="+empty,
		"XDG_CONFIG_HOME="+filepath.Join(os.TempDir(), "lot-test-config"))
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Run(); err == nil {
		t.Fatal("exited 0")
	}
	msg := strings.TrimSpace(stderr.String())
	for _, w := range []string{"lot: data: cannot find the MNIST files", filepath.Join(empty, "modcache"), "go mod download", "with --data DIR"} {
		if !strings.Contains(msg, w) || strings.Contains(msg, "\n") {
			t.Errorf("message %q: want one line mentioning %q", msg, w)
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

// TestMaxLRCeiling: --max-lr reaches the controller and config.yaml, and no
// logged learning rate crosses it; a run without it writes no max_lr, so
// the configs (and hashes) of earlier runs are unchanged.
func TestMaxLRCeiling(t *testing.T) {
	dir := t.TempDir()
	args := []string{"run", "--preset", "smoke", "--method", "scheduled", "--lr", "0.0199", "--epochs", "10", "--window", "5"}
	capped, free := filepath.Join(dir, "capped"), filepath.Join(dir, "free")
	for _, run := range [][]string{append(args, "--max-lr", "0.02", "--out", capped), append(args, "--out", free)} {
		if out, err := exec.Command(binary, run...).CombinedOutput(); err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
	}
	maxLR := func(rd string) float64 {
		b, err := os.ReadFile(filepath.Join(rd, "metrics.jsonl"))
		if err != nil {
			t.Fatal(err)
		}
		hi := 0.0
		for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
			var row struct{ LR map[string]float64 }
			if err := json.Unmarshal([]byte(line), &row); err != nil {
				t.Fatal(err)
			}
			for _, v := range row.LR {
				hi = max(hi, v)
			}
		}
		return hi
	}
	if hi := maxLR(capped); hi > 0.02 {
		t.Errorf("with --max-lr 0.02 a layer's lr reached %v", hi)
	}
	if hi := maxLR(free); hi <= 0.02 {
		t.Errorf("without a ceiling no layer warmed past 0.02 (max %v): the test shows nothing", hi)
	}
	cc, _ := os.ReadFile(filepath.Join(capped, "config.yaml"))
	cf, _ := os.ReadFile(filepath.Join(free, "config.yaml"))
	if !strings.Contains(string(cc), "max_lr: 0.02") || strings.Contains(string(cf), "max_lr") {
		t.Errorf("config.yaml: capped run\n%s\nfree run\n%s", cc, cf)
	}
}
