// Command sizes prints the largest files and the longest functions of the
// module's Go code, tests left out, so that the sizes a change is judged by
// (issue 23's "largest file and longest function in toolbox/") are measured
// the same way each time: a function counts the lines from its func keyword
// to its closing brace, doc comment left out.
//
//	go run ./scripts/sizes [-n 10] [dir ...]
//
// dir defaults to every folder of the module; name one (toolbox) for one
// package. It reads files only; it does not build or run anything.
package main

import (
	"flag"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

type size struct {
	lines int
	name  string
}

func main() {
	n := flag.Int("n", 10, "how many of each to print")
	flag.Parse()
	dirs := flag.Args()
	if len(dirs) == 0 {
		dirs = []string{"."}
	}
	var files, funcs []size
	for _, dir := range dirs {
		err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() && path != dir && (strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata") {
				return filepath.SkipDir
			}
			if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
				return nil
			}
			fset := token.NewFileSet()
			f, err := parser.ParseFile(fset, path, nil, 0)
			if err != nil {
				return err
			}
			files = append(files, size{fset.Position(f.End()).Line, path})
			for _, decl := range f.Decls {
				if fd, ok := decl.(*ast.FuncDecl); ok {
					lines := fset.Position(fd.End()).Line - fset.Position(fd.Pos()).Line + 1
					funcs = append(funcs, size{lines, path + ":" + funcName(fd)})
				}
			}
			return nil
		})
		if err != nil {
			fmt.Fprintln(os.Stderr, "sizes:", err)
			os.Exit(1)
		}
	}
	report("largest files", files, *n)
	report("longest functions", funcs, *n)
}

// funcName is a function's name, with its receiver's type for a method.
func funcName(fd *ast.FuncDecl) string {
	if fd.Recv == nil || len(fd.Recv.List) == 0 {
		return fd.Name.Name
	}
	t := fd.Recv.List[0].Type
	if s, ok := t.(*ast.StarExpr); ok {
		t = s.X
	}
	if ix, ok := t.(*ast.IndexExpr); ok { // A generic type's method.
		t = ix.X
	}
	if id, ok := t.(*ast.Ident); ok {
		return id.Name + "." + fd.Name.Name
	}
	return fd.Name.Name
}

func report(title string, sizes []size, n int) {
	sort.SliceStable(sizes, func(i, j int) bool { return sizes[i].lines > sizes[j].lines })
	fmt.Println(title + ":")
	for i := 0; i < n && i < len(sizes); i++ {
		fmt.Printf("%6d %s\n", sizes[i].lines, sizes[i].name)
	}
}
