package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// memReading is a process's memory at one point, in KiB.
type memReading struct {
	// Invokes is how many invokes the process had served.
	Invokes int
	// RSSk is VmRSS, the resident set now; HWMk is VmHWM, its peak so far.
	RSSk, HWMk int64
}

// peakRSS returns VmHWM, the peak resident set size, of pid in KiB.
func peakRSS(pid int) (int64, error) {
	m, err := readMem(pid)
	return m.HWMk, err
}

// readMem reads VmRSS and VmHWM of pid.
func readMem(pid int) (memReading, error) {
	f, err := os.Open("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return memReading{}, fmt.Errorf("memory: %w", err)
	}
	defer f.Close()
	return parseMem(f)
}

func parseVmHWM(r io.Reader) (int64, error) {
	m, err := parseMem(r)
	return m.HWMk, err
}

// parseMem reads the VmRSS and VmHWM lines of a /proc/<pid>/status.
func parseMem(r io.Reader) (memReading, error) {
	var m memReading
	found := map[string]*int64{"VmRSS:": &m.RSSk, "VmHWM:": &m.HWMk}
	seen := 0
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := sc.Text()
		for key, dst := range found {
			rest, ok := strings.CutPrefix(line, key)
			if !ok {
				continue
			}
			f := strings.Fields(rest)
			if len(f) != 2 || f[1] != "kB" {
				return memReading{}, fmt.Errorf("memory: unexpected %s line %q", strings.TrimSuffix(key, ":"), line)
			}
			v, err := strconv.ParseInt(f[0], 10, 64)
			if err != nil {
				return memReading{}, fmt.Errorf("memory: %s: %w", strings.TrimSuffix(key, ":"), err)
			}
			*dst = v
			seen++
		}
	}
	if err := sc.Err(); err != nil {
		return memReading{}, fmt.Errorf("memory: %w", err)
	}
	if m.HWMk == 0 {
		return memReading{}, fmt.Errorf("memory: no VmHWM in /proc/<pid>/status")
	}
	if seen < 2 {
		return memReading{}, fmt.Errorf("memory: no VmRSS in /proc/<pid>/status")
	}
	return m, nil
}

// cpuTime returns the CPU time pid's threads have used so far: the sum of
// the first field of /proc/<pid>/task/*/schedstat, in nanoseconds. (Go
// keeps its threads, so none that ran is missing from the sum.)
func cpuTime(pid int) (time.Duration, error) {
	dir := "/proc/" + strconv.Itoa(pid) + "/task"
	tasks, err := os.ReadDir(dir)
	if err != nil {
		return 0, fmt.Errorf("CPU time: %w", err)
	}
	var total time.Duration
	for _, t := range tasks {
		b, err := os.ReadFile(filepath.Join(dir, t.Name(), "schedstat"))
		if err != nil {
			continue // the thread ended meanwhile
		}
		f := strings.Fields(string(b))
		if len(f) == 0 {
			return 0, fmt.Errorf("CPU time: empty %s/%s/schedstat", dir, t.Name())
		}
		ns, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("CPU time: %s/%s/schedstat: %w", dir, t.Name(), err)
		}
		total += time.Duration(ns)
	}
	return total, nil
}

// userSys returns the user and system CPU time of pid, all threads, from
// /proc/<pid>/stat (in clock ticks of 10 ms; use it over many invokes).
func userSys(pid int) (user, sys time.Duration, err error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, 0, fmt.Errorf("CPU time: %w", err)
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, 0, fmt.Errorf("CPU time: unreadable /proc/%d/stat", pid)
	}
	// After the command: state(0) ppid(1) ... utime(11) stime(12).
	f := strings.Fields(s[i+1:])
	if len(f) < 13 {
		return 0, 0, fmt.Errorf("CPU time: short /proc/%d/stat", pid)
	}
	u, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, 0, fmt.Errorf("CPU time: /proc/%d/stat: utime %q stime %q", pid, f[11], f[12])
	}
	// USER_HZ is 100 on every Linux ABI Go supports.
	const tick = 10 * time.Millisecond
	return time.Duration(u) * tick, time.Duration(st) * tick, nil
}
