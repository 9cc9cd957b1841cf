//go:build unix && !linux

package localaws

import "syscall"

// sysProcAttr puts the child in its own process group.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}

// descendants is not available without /proc: only the process group of a
// child is killed on this system.
func descendants(int) []int { return nil }
