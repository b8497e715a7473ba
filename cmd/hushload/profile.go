package main

import (
	"encoding/json"
	"os"
	"path/filepath"
)

// profileEnv names the directory a -profile build of hush writes to.
const profileEnv = "HUSHLOAD_PROFILE_DIR"

// ackPrefix starts the stderr line a profiled server writes when it has
// carried out a command.
const ackPrefix = "hushload-profile: done"

// profileHook is added to package main of the hush server at build time with
// `go build -overlay`, so the real binary (not a copy of its wiring) can be
// profiled without touching the repository. It does nothing unless
// HUSHLOAD_PROFILE_DIR is set. Commands come one per line on stdin:
// "cpu NAME" starts a CPU profile, "stop" ends it, "heap NAME" writes a heap
// profile after a GC, "goroutine NAME" the goroutines grouped by stack (text);
// "mem NAME" the runtime's memory by class (runtime/metrics, text, after a
// GC); each is acknowledged on stderr.
const profileHook = `package main

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"runtime/pprof"
	"strings"
)

func init() {
	dir := os.Getenv("` + profileEnv + `")
	if dir == "" {
		return
	}
	go func() {
		var cpu *os.File
		stop := func() {
			if cpu != nil {
				pprof.StopCPUProfile()
				cpu.Close()
				cpu = nil
			}
		}
		sc := bufio.NewScanner(os.Stdin)
		for sc.Scan() {
			cmd, name, _ := strings.Cut(strings.TrimSpace(sc.Text()), " ")
			switch cmd {
			case "cpu":
				stop()
				if f, err := os.Create(filepath.Join(dir, "cpu-"+name+".pprof")); err == nil {
					if pprof.StartCPUProfile(f) == nil {
						cpu = f
					} else {
						f.Close()
					}
				}
			case "stop":
				stop()
			case "heap":
				runtime.GC()
				if f, err := os.Create(filepath.Join(dir, "heap-"+name+".pprof")); err == nil {
					_ = pprof.Lookup("heap").WriteTo(f, 0)
					f.Close()
				}
			case "mem":
				runtime.GC()
				if f, err := os.Create(filepath.Join(dir, "mem-"+name+".txt")); err == nil {
					var samples []metrics.Sample
					for _, d := range metrics.All() {
						if strings.HasPrefix(d.Name, "/memory/classes/") || d.Name == "/sched/goroutines:goroutines" {
							samples = append(samples, metrics.Sample{Name: d.Name})
						}
					}
					metrics.Read(samples)
					for _, s := range samples {
						fmt.Fprintf(f, "%s %d\n", s.Name, s.Value.Uint64())
					}
					f.Close()
				}
			case "goroutine":
				if f, err := os.Create(filepath.Join(dir, "goroutine-"+name+".txt")); err == nil {
					_ = pprof.Lookup("goroutine").WriteTo(f, 1)
					f.Close()
				}
			}
			fmt.Fprintln(os.Stderr, "` + ackPrefix + `", cmd)
		}
		stop()
	}()
}
`

// writeOverlay writes the hook into dir and returns an overlay file that adds
// it to the package in repo.
func writeOverlay(repo, dir string) (string, error) {
	hook := filepath.Join(dir, "hushload_profile.go")
	if err := os.WriteFile(hook, []byte(profileHook), 0o644); err != nil {
		return "", err
	}
	b, err := json.Marshal(map[string]map[string]string{
		"Replace": {filepath.Join(repo, "zz_hushload_profile.go"): hook},
	})
	if err != nil {
		return "", err
	}
	overlay := filepath.Join(dir, "overlay.json")
	return overlay, os.WriteFile(overlay, b, 0o644)
}
