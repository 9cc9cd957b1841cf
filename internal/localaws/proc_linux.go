package localaws

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// sysProcAttr puts the child in its own process group and has the kernel
// kill it when the process that started it dies, so an aborted test binary
// leaves no server behind.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

// Descendants lists every process below pid (zombies included), read from
// /proc; nil on systems without /proc.
func Descendants(pid int) []int {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	children := map[int][]int{}
	for _, e := range entries {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if pp, ok := ParentPID(p); ok {
			children[pp] = append(children[pp], p)
		}
	}
	var out []int
	queue := []int{pid}
	for len(queue) > 0 {
		cur := queue[0]
		queue = queue[1:]
		for _, c := range children[cur] {
			out = append(out, c)
			queue = append(queue, c)
		}
	}
	return out
}

// ParentPID reads the fourth field of /proc/<pid>/stat. The command name
// (field two) may hold spaces and parentheses, so fields are counted from
// the last ')'.
func ParentPID(pid int) (int, bool) {
	f, ok := statFields(pid)
	if !ok || len(f) < 2 {
		return 0, false
	}
	pp, err := strconv.Atoi(f[1])
	return pp, err == nil
}

// statFields returns the fields of /proc/<pid>/stat after the command name:
// state, ppid, pgrp, ...
func statFields(pid int) ([]string, bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return nil, false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return nil, false
	}
	return strings.Fields(s[i+1:]), true
}

// Running reports whether pid exists and is neither a zombie nor dead.
func Running(pid int) bool {
	f, ok := statFields(pid)
	return ok && len(f) > 0 && f[0] != "Z" && f[0] != "X"
}

// BootstrapPID finds the process named "bootstrap" below pid (an
// emulator, which runs exactly one).
func BootstrapPID(pid int) (int, error) {
	for _, d := range Descendants(pid) {
		if exe, err := os.Readlink("/proc/" + strconv.Itoa(d) + "/exe"); err == nil && filepath.Base(exe) == "bootstrap" {
			return d, nil
		}
	}
	return 0, fmt.Errorf("localaws: no process named bootstrap below pid %d", pid)
}
