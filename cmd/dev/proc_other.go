//go:build !linux

package main

import (
	"context"
	"os"
)

// leftovers cannot look below this process outside Linux; the Stop of
// every part already waited for it.
func leftovers() []string { return nil }

// outputClosed is only known from a failed write outside Linux.
func outputClosed(*os.File) bool { return false }

// watchOutput has nothing to watch outside Linux.
func watchOutput(context.Context, *os.File, func()) {}
