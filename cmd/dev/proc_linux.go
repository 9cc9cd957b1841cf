package main

import (
	"os"
	"strconv"
	"strings"

	"github.com/token-refresher/token-refresher/internal/localaws"
)

// leftovers lists the processes below this one that still run (zombies
// waiting to be reaped do not count), read from /proc.
func leftovers() []string {
	var out []string
	for _, pid := range localaws.Descendants(os.Getpid()) {
		if !localaws.Running(pid) {
			continue
		}
		cmd, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
		out = append(out, strconv.Itoa(pid)+" "+strings.TrimSpace(strings.ReplaceAll(string(cmd), "\x00", " ")))
	}
	return out
}
