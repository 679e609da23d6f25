package policy_test

import (
	"go/ast"
	"go/build"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/zhiliao/zhiliao/policy"
)

const module = "github.com/zhiliao/zhiliao"

// packages lists the module's packages (directories with Go files), by
// import path, from the module root.
func packages(t *testing.T) map[string]*build.Package {
	t.Helper()
	root, _ := filepath.Abs("..")
	out := map[string]*build.Package{}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || !d.IsDir() {
			return err
		}
		if name := d.Name(); path != root && (strings.HasPrefix(name, ".") || name == "testdata" || name == "data") {
			return filepath.SkipDir
		}
		p, err := build.ImportDir(path, 0)
		if err != nil {
			return nil // no Go files here
		}
		rel, _ := filepath.Rel(root, path)
		out[filepath.ToSlash(filepath.Join(module, rel))] = p
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestLayers keeps the arrows between the layers the README draws: model
// imports only the standard library; policy imports only model; nothing but
// cmd imports api; no production package imports a test-support package.
func TestLayers(t *testing.T) {
	pkgs := packages(t)
	if len(pkgs) < 20 {
		t.Fatalf("found %d packages: not the module root?", len(pkgs))
	}
	for path, p := range pkgs {
		for _, imp := range p.Imports {
			own := strings.HasPrefix(imp, module+"/")
			switch {
			case path == module+"/model" && strings.Contains(strings.SplitN(imp, "/", 2)[0], "."):
				t.Errorf("model imports %s: it may import only the standard library", imp)
			case path == module+"/policy" && own && imp != module+"/model":
				t.Errorf("policy imports %s: it may import only model", imp)
			case imp == module+"/api" && !strings.HasPrefix(path, module+"/cmd/"):
				t.Errorf("%s imports api: nothing but cmd may", path)
			case own && strings.HasPrefix(imp, module+"/internal/test") && !strings.HasPrefix(path, module+"/internal/test") && !strings.HasSuffix(path, "test"):
				t.Errorf("%s (production code) imports the test support %s", path, imp)
			case strings.HasPrefix(path, module+"/gen") && strings.HasPrefix(imp, module+"/ingest/"):
				t.Errorf("%s imports %s: the generator drives the core as a hospital would, not through an intake's internals", path, imp)
			}
		}
	}
}

// TestNoRoleListsOutsidePolicy: the doors (api, dashboards, frontline,
// exports, evidence) keep no role list of their own and name no role at
// all; who may do what is policy's table.
func TestNoRoleListsOutsidePolicy(t *testing.T) {
	root, _ := filepath.Abs("..")
	for _, dir := range []string{"api", "dashboards", "frontline", "exports", "evidence"} {
		fset := token.NewFileSet()
		entries, err := os.ReadDir(filepath.Join(root, dir))
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			if !strings.HasSuffix(e.Name(), ".go") || strings.HasSuffix(e.Name(), "_test.go") {
				continue
			}
			f, err := parser.ParseFile(fset, filepath.Join(root, dir, e.Name()), nil, 0)
			if err != nil {
				t.Fatal(err)
			}
			ast.Inspect(f, func(n ast.Node) bool {
				if sel, ok := n.(*ast.SelectorExpr); ok && strings.HasPrefix(sel.Sel.Name, "Role") && len(sel.Sel.Name) > 4 {
					if x, ok := sel.X.(*ast.Ident); ok && x.Name == "model" {
						t.Errorf("%s: names the role model.%s outside policy", fset.Position(sel.Pos()), sel.Sel.Name)
					}
				}
				lit, ok := n.(*ast.CompositeLit)
				if !ok {
					return true
				}
				roles := 0
				for _, el := range lit.Elts {
					if sel, ok := el.(*ast.SelectorExpr); ok && strings.HasPrefix(sel.Sel.Name, "Role") {
						roles++
					}
				}
				if roles > 0 {
					t.Errorf("%s: a list of roles (%d) outside policy", fset.Position(lit.Pos()), roles)
				}
				return true
			})
		}
	}
}

// TestActionsTable: every action of the table has a name, a Chinese title
// and roles, and names are unique.
func TestActionsTable(t *testing.T) {
	seen := map[string]bool{}
	for _, a := range policy.Actions {
		if a.Name == "" || a.Title == "" || len(a.Roles) == 0 || seen[a.Name] {
			t.Errorf("action %+v", a)
		}
		seen[a.Name] = true
	}
}
