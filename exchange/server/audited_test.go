package server

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"strings"
	"testing"
)

// storeWrites are the store methods that write business rows (store.Store's repositories).
var storeWrites = map[string]bool{
	"Create": true, "Update": true, "MarkPublished": true, "Put": true, "Publish": true, "Heartbeat": true,
	"Raise": true, "Resolve": true, "Escalate": true, "Decide": true, "End": true, "AddMaterials": true,
	"PutType": true, "Issue": true, "ChangeStatus": true, "PutSeal": true, "RevokeSeal": true, "PutSealedDocument": true,
	"Apply": true, "SetStatus": true, "PutBundle": true, "AddCRLSource": true, "RemoveCRLSource": true, "UpdateCertificate": true,
}

// notBusiness are store writes that are not business writes (see AuditDecisions): the
// cached copies of public CRLs the trust store fetches.
var notBusiness = map[string]bool{"RecordCRL": true, "RecordCRLError": true}

// auditedPaths are the functions whose function arguments run inside an audited write.
var auditedPaths = map[string]bool{"auditedWrite": true, "auditedWriteAll": true, "writeAudited": true, "write": true,
	"AuditedWrite": true, "AuditedWriteAll": true, "WriteAudited": true}

// serverPackages are the directories of every gxhub service (relative to this one): each
// domain's API has its own, and every one of them goes through the audited-write path.
var serverPackages = []string{".", "../../certs/server", "../../ledger/server"}

// serverFiles lists the non-test Go files of every server package.
func serverFiles(t *testing.T) []string {
	t.Helper()
	var files []string
	for _, dir := range serverPackages {
		fs, err := filepath.Glob(filepath.Join(dir, "*.go"))
		if err != nil {
			t.Fatal(err)
		}
		if len(fs) == 0 && dir != "../../ledger/server" {
			t.Fatalf("no Go files in %s: update serverPackages", dir)
		}
		files = append(files, fs...)
	}
	return files
}

// TestBusinessWritesAreAudited reads the code of every server package and fails for a call of a store
// write (…Store.<Repository>().<Write>(…)) that is not inside a function handed to the
// audited-write path: a handler cannot commit a business row without its audit intent.
func TestBusinessWritesAreAudited(t *testing.T) {
	files := serverFiles(t)
	fset := token.NewFileSet()
	checked := 0
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		file, err := parser.ParseFile(fset, f, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		// The spans of function literals handed to the audited-write path.
		var inside [][2]token.Pos
		ast.Inspect(file, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok || !auditedPaths[funcName(call.Fun)] {
				return true
			}
			for _, a := range call.Args {
				if fl, ok := a.(*ast.FuncLit); ok {
					inside = append(inside, [2]token.Pos{fl.Pos(), fl.End()})
				}
			}
			return true
		})
		ast.Inspect(file, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok {
				return true
			}
			sel, ok := call.Fun.(*ast.SelectorExpr)
			if !ok || !storeWrites[sel.Sel.Name] || notBusiness[sel.Sel.Name] || !onStore(sel.X) {
				return true
			}
			checked++
			for _, span := range inside {
				if call.Pos() >= span[0] && call.End() <= span[1] {
					return true
				}
			}
			t.Errorf("%s: %s is a business write outside the audited-write path: wrap it in auditedWrite (the write and its audit record commit together)",
				fset.Position(call.Pos()), sel.Sel.Name)
			return true
		})
	}
	if checked < 20 {
		t.Fatalf("found only %d store writes: the check no longer recognises them", checked)
	}
}

// onStore reports whether x is X.Store.<Repository>() (a store repository).
func onStore(x ast.Expr) bool {
	call, ok := x.(*ast.CallExpr)
	if !ok {
		return false
	}
	sel, ok := call.Fun.(*ast.SelectorExpr)
	if !ok {
		return false
	}
	inner, ok := sel.X.(*ast.SelectorExpr)
	return ok && inner.Sel.Name == "Store"
}

func funcName(e ast.Expr) string {
	switch f := e.(type) {
	case *ast.Ident:
		return f.Name
	case *ast.SelectorExpr:
		return f.Sel.Name
	}
	return ""
}
