package console

import (
	"embed"
	"io/fs"
	"net/http"
	"runtime/debug"
)

// static holds the web console: plain HTML, CSS and JavaScript with no
// build step and nothing fetched from elsewhere.
//
//go:embed static
var static embed.FS

func staticHandler() http.Handler {
	sub, err := fs.Sub(static, "static")
	if err != nil {
		panic("console: embedded static folder is missing: " + err.Error())
	}
	files := http.FileServerFS(sub)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		// The console is small and changes with the binary; revalidating
		// costs little and an upgraded broker never serves stale script.
		w.Header().Set("Cache-Control", "no-cache")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Header().Set("Content-Security-Policy", "default-src 'self'; style-src 'self'; img-src 'self' data:")
		files.ServeHTTP(w, r)
	})
}

// buildVersion is the module version the binary was built from, with the
// VCS revision when the build recorded one.
func buildVersion() string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	version := info.Main.Version
	for _, s := range info.Settings {
		if s.Key == "vcs.revision" && len(s.Value) >= 12 {
			version += " (" + s.Value[:12] + ")"
		}
	}
	return version
}
