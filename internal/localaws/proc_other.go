//go:build unix && !linux

package localaws

import (
	"errors"
	"syscall"
)

// sysProcAttr puts the child in its own process group.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}

// Descendants is not available without /proc: only the process group of a
// child is killed on this system.
func Descendants(int) []int { return nil }

// ParentPID needs /proc.
func ParentPID(int) (int, bool) { return 0, false }

// Running needs /proc.
func Running(int) bool { return false }

// BootstrapPID needs /proc.
func BootstrapPID(pid int) (int, error) {
	return 0, errors.New("localaws: finding the bootstrap process needs /proc")
}
