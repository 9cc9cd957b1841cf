package main

import (
	"bytes"
	"os"
	"strconv"
	"strings"
)

// leftovers lists the processes below this one that still run (zombies
// waiting to be reaped do not count), read from /proc.
func leftovers() []string {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	type info struct {
		ppid  int
		state string
	}
	procs := map[int]info{}
	children := map[int][]int{}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		i := bytes.LastIndexByte(b, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(string(b[i+1:]))
		if len(f) < 2 {
			continue
		}
		ppid, err := strconv.Atoi(f[1])
		if err != nil {
			continue
		}
		procs[pid] = info{ppid: ppid, state: f[0]}
		children[ppid] = append(children[ppid], pid)
	}
	var out []string
	queue := []int{os.Getpid()}
	for len(queue) > 0 {
		cur := queue[0]
		queue = queue[1:]
		for _, c := range children[cur] {
			queue = append(queue, c)
			if procs[c].state == "Z" {
				continue
			}
			cmd, _ := os.ReadFile("/proc/" + strconv.Itoa(c) + "/cmdline")
			out = append(out, strconv.Itoa(c)+" "+strings.TrimSpace(strings.ReplaceAll(string(cmd), "\x00", " ")))
		}
	}
	return out
}
