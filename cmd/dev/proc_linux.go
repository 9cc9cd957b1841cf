//go:build linux

package main

import (
	"context"
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

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

// outputClosed reports whether f is a pipe whose reading end is closed
// (poll reports POLLERR on the writing end then).
func outputClosed(f *os.File) bool {
	st, err := f.Stat()
	if err != nil || st.Mode()&os.ModeNamedPipe == 0 {
		return false
	}
	fds := []unix.PollFd{{Fd: int32(f.Fd()), Events: 0}}
	n, err := unix.Poll(fds, 0)
	return err == nil && n > 0 && fds[0].Revents&(unix.POLLERR|unix.POLLHUP) != 0
}

// watchOutput calls gone when f, a pipe, loses its reader, even while dev
// has nothing to print; it returns when ctx ends.
func watchOutput(ctx context.Context, f *os.File, gone func()) {
	st, err := f.Stat()
	if err != nil || st.Mode()&os.ModeNamedPipe == 0 {
		return
	}
	t := time.NewTicker(250 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if outputClosed(f) {
				gone()
				return
			}
		}
	}
}
