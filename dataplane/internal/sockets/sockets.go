// Package sockets says which TCP ports a process of this machine holds, read from /proc: how the
// dump tells its own sessions on the source from any other of the same user, by the client port
// the server lists for each.
package sockets

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// LocalPorts is the set of local TCP ports (IPv4 and IPv6) of the sockets process pid holds open.
func LocalPorts(pid int) (map[int]bool, error) {
	proc := filepath.Join("/proc", strconv.Itoa(pid))
	entries, err := os.ReadDir(filepath.Join(proc, "fd"))
	if err != nil {
		return nil, err
	}
	inodes := map[string]bool{}
	for _, e := range entries {
		target, err := os.Readlink(filepath.Join(proc, "fd", e.Name()))
		if err != nil {
			continue // closed while the list was read
		}
		if inode, ok := strings.CutPrefix(target, "socket:["); ok {
			inodes[strings.TrimSuffix(inode, "]")] = true
		}
	}
	ports := map[int]bool{}
	for _, table := range []string{"tcp", "tcp6"} {
		if err := readTable(filepath.Join(proc, "net", table), inodes, ports); err != nil {
			return nil, err
		}
	}
	return ports, nil
}

// readTable adds the local ports of the sockets in inodes from a /proc/net/tcp-style table:
// "sl local_address rem_address st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout inode".
func readTable(path string, inodes map[string]bool, ports map[int]bool) error {
	f, err := os.Open(path)
	if os.IsNotExist(err) {
		return nil // no IPv6 in this kernel
	}
	if err != nil {
		return err
	}
	defer f.Close()
	lines := bufio.NewScanner(f)
	lines.Scan() // the heading
	for lines.Scan() {
		fields := strings.Fields(lines.Text())
		if len(fields) < 10 || !inodes[fields[9]] {
			continue
		}
		_, hexPort, ok := strings.Cut(fields[1], ":")
		if !ok {
			return fmt.Errorf("%s: a local address without a port: %q", path, fields[1])
		}
		port, err := strconv.ParseUint(hexPort, 16, 16)
		if err != nil {
			return fmt.Errorf("%s: %v", path, err)
		}
		ports[int(port)] = true
	}
	return lines.Err()
}

// Port is the client port in a server's view of a session's host ("10.0.0.5:51234",
// "::1:51234"), or 0 when it has none (a local socket's "localhost").
func Port(host string) int {
	i := strings.LastIndexByte(host, ':')
	if i < 0 {
		return 0
	}
	port, err := strconv.Atoi(host[i+1:])
	if err != nil || port <= 0 || port > 65535 {
		return 0
	}
	return port
}
