// Package web is the browser UI, embedded in the binary: plain HTML, CSS and ES modules under
// static/ (no build step), served at / by the server. See static/js/app.js for its structure.
package web

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"net/http"
	"path"
	"strings"
)

//go:embed static
var static embed.FS

// Handler serves the UI. Every file has a strong ETag (a hash of its content) and
// "Cache-Control: no-cache", so browsers revalidate cheaply (304) and never run stale code
// after an upgrade. Paths that are not files (directories, unknown names) are 404s.
func Handler() http.Handler {
	sub, err := fs.Sub(static, "static")
	if err != nil {
		panic(err)
	}
	etags, err := hashFiles(sub)
	if err != nil {
		panic(err)
	}
	files := http.FileServer(http.FS(sub))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := strings.TrimPrefix(path.Clean("/"+r.URL.Path), "/")
		if name == "" || strings.HasSuffix(r.URL.Path, "/") {
			name = path.Join(name, "index.html")
		}
		tag, ok := etags[name]
		if !ok { // not a file: no directory listings
			http.NotFound(w, r)
			return
		}
		w.Header().Set("ETag", tag)
		w.Header().Set("Cache-Control", "no-cache")
		files.ServeHTTP(w, r)
	})
}

// hashFiles returns the ETag of every file of fsys by path.
func hashFiles(fsys fs.FS) (map[string]string, error) {
	etags := map[string]string{}
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := fs.ReadFile(fsys, p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(data)
		etags[p] = `"` + hex.EncodeToString(sum[:12]) + `"`
		return nil
	})
	return etags, err
}
