// Package child holds what the data plane needs of the child processes it runs (the dump tool,
// the client): the end of what they wrote to stderr, and how they ended.
package child

import (
	"errors"
	"os/exec"
	"strings"
	"sync"
	"syscall"
)

// Tail keeps the last 8 KiB a child wrote to stderr, for the error message.
type Tail struct {
	mu   sync.Mutex
	data []byte
}

func (t *Tail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.data = append(t.data, p...)
	if len(t.data) > 8192 {
		t.data = t.data[len(t.data)-8192:]
	}
	return len(p), nil
}

// String is everything kept.
func (t *Tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.data)
}

// LastLines is the last n lines kept, joined by spaces.
func (t *Tail) LastLines(n int) string {
	lines := strings.Split(strings.TrimSpace(t.String()), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, " ")
}

// ExitStatus is the shell's number for how a process ended: its code, or 128 + the signal.
func ExitStatus(err error) int {
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		if status, ok := exit.Sys().(syscall.WaitStatus); ok && status.Signaled() {
			return 128 + int(status.Signal())
		}
		return exit.ExitCode()
	}
	return -1
}
