package app

import (
	"log/slog"
	"syscall"
)

// openFiles raises this process's soft limit on open files to the hard
// one (Go does so itself on Linux; this makes it so everywhere and says
// what it is) and returns it, or 0 if it cannot be read.
func openFiles(log *slog.Logger) int {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		log.Warn("cannot read the open files limit", "err", err)
		return 0
	}
	if lim.Cur < lim.Max {
		raised := lim
		raised.Cur = lim.Max
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &raised); err == nil {
			lim = raised
		}
	}
	log.Info("open files limit", "soft", lim.Cur, "hard", lim.Max, "web_share", webShare(int(min(lim.Cur, 1<<30))))
	return int(min(lim.Cur, 1<<30))
}

// webShare is how many connections the web port may hold at once out of
// files: half, so that a crowd of page loads and sockets can never take
// the descriptors SSH needs to accept anyone.
func webShare(files int) int {
	if files <= 0 {
		return 0
	}
	return max(files/2, 16)
}
