package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// browser finds a Chromium to drive. Without one the test is skipped,
// unless CI or LOT_BROWSER_TEST is set (CI sets CI=true, and
// scripts/test-setup installs chromium): then it fails.
func browser(t *testing.T) string {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") != "" || os.Getenv("LOT_BROWSER_TEST") != "" {
		t.Fatal("no chromium is installed (scripts/test-setup installs it)")
	}
	t.Skip("no chromium: apt-get install chromium to run the browser test")
	return ""
}

// startServe starts `lot serve DIR... --addr 127.0.0.1:0` in workDir and returns its
// base URL; the process is stopped when the test ends.
func startServe(t *testing.T, workDir string, dirs ...string) string {
	t.Helper()
	cmd := exec.Command(binary, append(append([]string{"serve"}, dirs...), "--addr", "127.0.0.1:0")...)
	cmd.Dir = workDir
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Signal(os.Interrupt); cmd.Wait() })
	line, err := bufio.NewReader(out).ReadString('\n')
	m := regexp.MustCompile(`http://127\.0\.0\.1:\d+/`).FindString(line)
	if err != nil || m == "" {
		t.Fatalf("lot serve did not say where it listens: %q %v; stderr: %s", line, err, stderr.String())
	}
	return m
}

func mustRunLot(t *testing.T, args ...string) {
	t.Helper()
	if out, err := exec.Command(binary, args...).CombinedOutput(); err != nil {
		t.Fatalf("lot %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// TestServeInBrowser drives headless Chromium over `lot serve` on a sweep
// of small runs made here: the run list shows them, a run's chart draws
// data, a row appended to metrics.jsonl appears without a reload, and the
// compare view overlays two configs (one of them two seeds). Screenshots
// are kept under $TMPDIR/lot-serve-screenshots.
func TestServeInBrowser(t *testing.T) {
	chrome := browser(t)
	sweep := t.TempDir()
	smoke := []string{"run", "--preset", "smoke", "--diagnostics", "full"}
	mustRunLot(t, append(smoke, "--out", filepath.Join(sweep, "base-s0"))...)
	mustRunLot(t, append(smoke, "--seed", "1", "--out", filepath.Join(sweep, "base-s1"))...)
	mustRunLot(t, append(smoke, "--lr", "0.001", "--out", filepath.Join(sweep, "lowlr-s0"))...)
	// A run still training: no summary yet, logs written just now.
	live := filepath.Join(sweep, "live")
	mustRunLot(t, append(smoke, "--seed", "2", "--out", live)...)
	if err := os.Remove(filepath.Join(live, "summary.json")); err != nil {
		t.Fatal(err)
	}
	base := startServe(t, ".", sweep)

	shots := filepath.Join(os.TempDir(), "lot-serve-screenshots")
	if err := os.MkdirAll(shots, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshots in %s", shots)

	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(chrome), chromedp.NoSandbox,
		chromedp.DisableGPU, chromedp.WindowSize(1280, 900))
	actx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancel()
	bctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	if err := chromedp.Do(bctx); err != nil { // starts the browser, untimed
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(bctx, 3*time.Minute)
	defer cancel()

	navigate := func(u string) {
		t.Helper()
		if err := chromedp.Do(ctx, chromedp.Navigate(u)); err != nil {
			t.Fatal(err)
		}
	}
	eval := func(js string, v any) {
		t.Helper()
		r, err := chromedp.Run(ctx, chromedp.Evaluate[json.RawMessage](js))
		if err == nil {
			err = json.Unmarshal(r, v)
		}
		if err != nil {
			t.Fatalf("%s: %v", js, err)
		}
	}
	// waitJS polls a JavaScript condition until it holds.
	waitJS := func(what, js string) {
		t.Helper()
		for deadline := time.Now().Add(time.Minute); ; time.Sleep(100 * time.Millisecond) {
			var ok bool
			eval(js, &ok)
			if ok {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("waited a minute for %s (%s)", what, js)
			}
		}
	}
	shot := func(name string) {
		t.Helper()
		png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100)) // quality 100: PNG, not JPEG
		if err == nil {
			err = os.WriteFile(filepath.Join(shots, name+".png"), png, 0o644)
		}
		if err != nil {
			t.Fatal(err)
		}
	}

	// The run list shows every run, the live one as running.
	var names []string
	var liveStatus string
	navigate(base)
	waitJS("the run list", `main.dataset.view === "runs" && document.querySelectorAll("a.run-link").length === 4`)
	eval(`[...document.querySelectorAll("a.run-link")].map(a => a.textContent)`, &names)
	eval(`[...document.querySelectorAll("tr")].find(tr => tr.textContent.includes("/live")).querySelector("td[class^=status]").textContent`, &liveStatus)
	shot("run-list")
	root := filepath.Base(sweep)
	for _, want := range []string{"base-s0", "base-s1", "lowlr-s0", "live"} {
		if !contains(names, root+"/"+want) {
			t.Errorf("run list %v lacks %s", names, want)
		}
	}
	if liveStatus != "running" {
		t.Errorf("the live run's status is %q, want running", liveStatus)
	}

	// A run's page draws its accuracy; a row appended appears unreloaded.
	accChart := `[...document.querySelectorAll(".series-chart")].find(c => c.querySelector("select").value === "acc")?.querySelector(".chart")`
	var points, lastX string
	navigate(base + "#/run/" + url.PathEscape("0:live"))
	waitJS("the acc chart", `main.dataset.view === "run" && (()=>{const c=`+accChart+`; return !!c && Number(c.dataset.points) > 0 && !!c.querySelector("canvas")})()`)
	waitJS("the live stream", `document.getElementById("live").textContent.includes("live")`)
	eval(accChart+`.dataset.points`, &points)
	eval(accChart+`.dataset.lastX`, &lastX)
	last, _ := strconv.Atoi(lastX)
	if n, _ := strconv.Atoi(points); n < 2 || last <= 0 {
		t.Fatalf("acc chart holds %s points, last step %s", points, lastX)
	}
	var marked bool
	eval(`window.__notReloaded = true`, &marked)
	appendRows(t, filepath.Join(live, "metrics.jsonl"), last+1000, 1)
	waitJS("the appended row", accChart+`.dataset.lastX === "`+strconv.Itoa(last+1000)+`"`)
	// Thousands more: the page holds at most the server's 2,000 a series.
	appendRows(t, filepath.Join(live, "metrics.jsonl"), last+1001, 5000)
	waitJS("5,000 rows more", accChart+`.dataset.lastX === "`+strconv.Itoa(last+6000)+`"`)
	eval(accChart+`.dataset.points`, &points)
	if n, _ := strconv.Atoi(points); n > 2000 || n < 1000 {
		t.Errorf("the acc chart holds %s points of 5,008; want at most 2,000 (and not far fewer)", points)
	}
	var reloads int
	eval(`window.__notReloaded ? 0 : 1`, &reloads)
	shot("run-live")
	if reloads != 0 {
		t.Error("the page reloaded to show the appended row")
	}

	// Export: the acc chart as SVG and PNG, the task table as CSV. The
	// page's download function is swapped for one that keeps the file.
	var saved bool
	eval(`window.__saved = []; window.download = (name, blob) => blob.text().then(text => window.__saved.push({name, type: blob.type, size: blob.size, text})); true`, &saved)
	eval(`[...`+accChart+`.querySelectorAll("button")].filter(b => b.textContent === "SVG" || b.textContent === "PNG").forEach(b => b.click()); document.querySelector("[data-table=tasks]").parentElement.querySelector("button").click(); true`, &saved)
	waitJS("the exported files", `window.__saved.length === 3`)
	var files []struct {
		Name, Type, Text string
		Size             int
	}
	eval(`window.__saved`, &files)
	kinds := map[string]bool{}
	for _, f := range files {
		switch {
		case strings.HasSuffix(f.Name, ".svg"):
			kinds["svg"] = strings.HasPrefix(f.Text, "<svg") && strings.Contains(f.Text, "<polyline points=") && strings.HasSuffix(f.Text, "</svg>")
		case strings.HasSuffix(f.Name, ".png"):
			kinds["png"] = f.Type == "image/png" && f.Size > 1000 && strings.HasPrefix(f.Text, "\ufffdPNG")
		case strings.HasSuffix(f.Name, ".csv"):
			kinds["csv"] = strings.HasPrefix(f.Text, "task,") && strings.Count(f.Text, "\n") == 4
		}
	}
	if !kinds["svg"] || !kinds["png"] || !kinds["csv"] {
		t.Errorf("exports %v: want a chart's SVG and PNG and the task table's CSV (3 tasks)", kinds)
	}

	// Compare: the seeds of base are one line with a band, lowlr another.
	var lines string
	var legend int
	q := "id=" + url.QueryEscape("0:base-s0") + "&id=" + url.QueryEscape("0:base-s1") + "&id=" + url.QueryEscape("0:lowlr-s0") + "&metric=acc"
	navigate(base + "#/compare?" + q)
	waitJS("the compare chart", `main.dataset.view === "compare" && !!document.querySelector(".chart[data-lines]") && Number(document.querySelector(".chart").dataset.points) > 0`)
	eval(`document.querySelector(".chart").dataset.lines`, &lines)
	eval(`document.querySelectorAll(".u-legend .u-series").length`, &legend)
	shot("compare")
	if lines != "2" {
		t.Errorf("compare draws %s lines, want 2 (base's two seeds as one, and lowlr)", lines)
	}
	// x, base mean, its min and max, lowlr: five legend entries.
	if legend != 5 {
		t.Errorf("compare legend has %d entries, want 5 (x, base, base min, base max, lowlr)", legend)
	}

	// The committed paper-scale reproduction: its 11 runs listed, and
	// Fig. 5's L2 runs overlaid (README's screenshot is this one).
	paper := startServe(t, filepath.Join("..", ".."), filepath.Join("results", "reproduce-paper"))
	navigate(paper)
	waitJS("the reproduction's run list", `main.dataset.view === "runs" && document.querySelectorAll("a.run-link").length === 11`)
	shot("reproduce-paper")
	q = ""
	for _, m := range []string{"vanilla", "reset-optimizer", "scheduled"} {
		q += "id=" + url.QueryEscape("0:runs/fig5-l2-"+m+"-s0") + "&"
	}
	navigate(paper + "#/compare?" + q + "metric=online_acc")
	waitJS("the reproduction's compare chart", `main.dataset.view === "compare" && document.querySelector(".chart")?.dataset.lines === "3" && document.querySelector(".chart").dataset.points === "40"`)
	shot("reproduce-paper-compare")

	// Its Fig. 5 report, rendered with its six figures (raw and EMA) loaded.
	navigate(paper + "#/report/" + url.PathEscape("0:report-fig5.md"))
	waitJS("the report's figures", `main.dataset.view === "report" && document.querySelectorAll(".report img").length === 6 && [...document.querySelectorAll(".report img")].every(i => i.complete && i.naturalWidth > 0)`)
	shot("reproduce-paper-report")
}

func contains(xs []string, s string) bool {
	for _, x := range xs {
		if x == s {
			return true
		}
	}
	return false
}

// appendRows appends n copies of a metrics.jsonl's last row at steps
// from, from+1, ..., as a training run would.
func appendRows(t *testing.T, path string, from, n int) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := bytes.Split(bytes.TrimSpace(b), []byte("\n"))
	var row map[string]any
	if err := json.Unmarshal(lines[len(lines)-1], &row); err != nil {
		t.Fatal(err)
	}
	var out []byte
	for i := range n {
		row["step"] = from + i
		nb, _ := json.Marshal(row)
		out = append(append(out, nb...), '\n')
	}
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Write(out); err != nil {
		t.Fatal(err)
	}
}

// TestServeBadInput: a missing directory, a file, or an address it cannot
// listen on is one line naming it, and a non-zero exit.
func TestServeBadInput(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	os.WriteFile(file, nil, 0o644)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"serve", filepath.Join(dir, "absent")}, "absent"},
		{[]string{"serve", file}, "not a directory"},
		{[]string{"serve", dir, "--addr", "nowhere:port"}, "--addr"},
		{[]string{"serve"}, "requires at least 1 arg"},
	} {
		out, err := exec.Command(binary, tc.args...).CombinedOutput()
		lines := strings.Split(strings.TrimSpace(string(out)), "\n")
		if err == nil || len(lines) != 1 || !strings.Contains(lines[0], tc.want) {
			t.Errorf("lot %s: err %v, output %q; want one line with %q", strings.Join(tc.args, " "), err, out, tc.want)
		}
	}
}
