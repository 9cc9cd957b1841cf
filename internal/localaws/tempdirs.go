package localaws

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// RemoveStaleTempDirs removes the folders in os.TempDir() named
// <prefix><pid>-... whose process no longer runs: what a killed test
// binary or make dev left behind. Folders of running processes, and this
// one's, are kept.
func RemoveStaleTempDirs(prefix string) {
	tmp := os.TempDir()
	entries, err := os.ReadDir(tmp)
	if err != nil {
		return
	}
	for _, e := range entries {
		rest, ok := strings.CutPrefix(e.Name(), prefix)
		if !ok || !e.IsDir() {
			continue
		}
		pidStr, _, _ := strings.Cut(rest, "-")
		pid, err := strconv.Atoi(pidStr)
		if err != nil || pid == os.Getpid() {
			continue
		}
		if syscall.Kill(pid, 0) == syscall.ESRCH {
			_ = os.RemoveAll(filepath.Join(tmp, e.Name()))
		}
	}
}
