package main

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// flagName is a command-line flag as the user types it (--out, --resume).
var flagName = regexp.MustCompile(`--[A-Za-z]`)

// TestLibraryErrorsNameNoFlags: no error text written in a library package
// (every package but cmd/) names a flag; the command line maps keys, files
// and typed errors to its flags. The rule is checked on the sources: the
// string literals given to fmt.Errorf, errors.New, keyerr.Errorf and to a
// package's own error-making helpers (functions returning an error from a
// format string), the strings assigned to the variables those calls
// format, and the strings inside Error methods.
func TestLibraryErrorsNameNoFlags(t *testing.T) {
	found := flagsInLibraryErrors(t, filepath.Join("..", ".."))
	for _, f := range found {
		t.Errorf("%s: a library error names a flag; return a key or typed error and let cmd/lot name the flag", f)
	}
}

// TestFlagScanSeesErrors: the scan above finds a flag in each kind of
// error text it claims to check (a string assigned to a variable that an
// error call formats included), and ignores the rest.
func TestFlagScanSeesErrors(t *testing.T) {
	dir := t.TempDir()
	src := `package p

import ("errors"; "fmt"; "github.com/lot-toolkit/lot/internal/keyerr")

type E struct{}

func (E) Error() string { return fmt.Sprintf("--in-error-method %d", 1) }

func fault(path, format string, a ...any) error { return fmt.Errorf(format, a...) }

var help = "see --not-an-error" // help text, not an error

func f() error {
	_ = errors.New("--in-errors-new")
	_ = keyerr.Errorf("k", "--in-keyerr %d", 1)
	_ = fault("p", "--in-helper")
	_ = fmt.Sprintf("--in-sprintf")
	fail := func(format string, a ...any) (int, error) { return 0, fmt.Errorf(format, a...) }
	_, _ = fail("--in-closure")
	hint := "fine"
	if len(help) > 0 {
		hint = "--in-hint"
	}
	_ = fmt.Errorf("x; %s", hint)
	return fmt.Errorf("x %s: use --in-errorf", "y")
}
`
	writeFile(t, filepath.Join(dir, "p", "p.go"), src)
	writeFile(t, filepath.Join(dir, "cmd", "c", "c.go"), `package main; import "errors"; var e = errors.New("--cmd-may")`)
	writeFile(t, filepath.Join(dir, "p", "p_test.go"), `package p; import "errors"; var e = errors.New("--tests-may")`)
	got := strings.Join(flagsInLibraryErrors(t, dir), "\n")
	for _, w := range []string{"--in-error-method", "--in-errors-new", "--in-keyerr", "--in-helper", "--in-closure", "--in-hint", "--in-errorf"} {
		if !strings.Contains(got, w) {
			t.Errorf("scan missed %s; found:\n%s", w, got)
		}
	}
	for _, w := range []string{"--not-an-error", "--in-sprintf", "--cmd-may", "--tests-may"} {
		if strings.Contains(got, w) {
			t.Errorf("scan reported %s, which is no library error", w)
		}
	}
}

func writeFile(t *testing.T, path, s string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}

// flagsInLibraryErrors returns "file:line: literal" for every flag name in
// the error texts of the non-test Go files under root outside cmd/.
func flagsInLibraryErrors(t *testing.T, root string) []string {
	t.Helper()
	fset := token.NewFileSet()
	var files []*ast.File
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		if d.IsDir() {
			if rel == "cmd" || d.Name() == "testdata" || rel != "." && strings.HasPrefix(d.Name(), ".") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, 0)
		if err != nil {
			return err
		}
		files = append(files, f)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// Helpers may be called from other files of their package; a name
	// shared with another package's helper only widens the check.
	helpers := map[string]bool{}
	for _, f := range files {
		errorHelpers(f, helpers)
	}
	var found []string
	check := func(n ast.Node) {
		ast.Inspect(n, func(n ast.Node) bool {
			if lit, ok := n.(*ast.BasicLit); ok && lit.Kind == token.STRING {
				if s, err := strconv.Unquote(lit.Value); err == nil && flagName.MatchString(s) {
					found = append(found, fset.Position(lit.Pos()).String()+": "+lit.Value)
				}
			}
			return true
		})
	}
	for _, f := range files {
		for _, d := range f.Decls {
			fd, ok := d.(*ast.FuncDecl)
			if !ok || fd.Body == nil {
				ast.Inspect(d, func(n ast.Node) bool {
					if c, ok := n.(*ast.CallExpr); ok && makesError(c.Fun, helpers) {
						check(c)
					}
					return true
				})
				continue
			}
			if fd.Name.Name == "Error" && fd.Recv != nil {
				check(fd.Body)
				continue
			}
			// The error calls' arguments, and the values assigned in the
			// function to the variables among them (a hint worded apart).
			vars := map[string]bool{}
			ast.Inspect(fd.Body, func(n ast.Node) bool {
				if c, ok := n.(*ast.CallExpr); ok && makesError(c.Fun, helpers) {
					for _, a := range c.Args {
						check(a)
						ast.Inspect(a, func(n ast.Node) bool {
							if id, ok := n.(*ast.Ident); ok {
								vars[id.Name] = true
							}
							return true
						})
					}
				}
				return true
			})
			ast.Inspect(fd.Body, func(n ast.Node) bool {
				if as, ok := n.(*ast.AssignStmt); ok {
					for i, l := range as.Lhs {
						if id, ok := l.(*ast.Ident); ok && vars[id.Name] && i < len(as.Rhs) {
							check(as.Rhs[i])
						}
					}
				}
				return true
			})
		}
	}
	return found
}

// makesError reports whether fun is fmt.Errorf, errors.New, keyerr.Errorf
// or a helper.
func makesError(fun ast.Expr, helpers map[string]bool) bool {
	switch fn := fun.(type) {
	case *ast.SelectorExpr:
		pkg, ok := fn.X.(*ast.Ident)
		if !ok {
			return false
		}
		switch pkg.Name + "." + fn.Sel.Name {
		case "fmt.Errorf", "errors.New", "keyerr.Errorf":
			return true
		}
	case *ast.Ident:
		return helpers[fn.Name]
	}
	return false
}

// errorHelpers adds to helpers the names of a file's functions, and of
// the function literals it assigns to a name, that make an error from a
// format string: a parameter named format and an error result.
func errorHelpers(f *ast.File, helpers map[string]bool) {
	ast.Inspect(f, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.FuncDecl:
			if n.Recv == nil && formatsError(n.Type) {
				helpers[n.Name.Name] = true
			}
		case *ast.AssignStmt:
			for i, r := range n.Rhs {
				if fl, ok := r.(*ast.FuncLit); ok && formatsError(fl.Type) && i < len(n.Lhs) {
					if id, ok := n.Lhs[i].(*ast.Ident); ok {
						helpers[id.Name] = true
					}
				}
			}
		}
		return true
	})
}

func formatsError(ft *ast.FuncType) bool {
	if ft.Results == nil {
		return false
	}
	returnsError, hasFormat := false, false
	for _, r := range ft.Results.List {
		if id, ok := r.Type.(*ast.Ident); ok && id.Name == "error" {
			returnsError = true
		}
	}
	for _, p := range ft.Params.List {
		for _, name := range p.Names {
			hasFormat = hasFormat || name.Name == "format"
		}
	}
	return returnsError && hasFormat
}
