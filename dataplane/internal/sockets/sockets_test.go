package sockets

import (
	"net"
	"os"
	"testing"
)

func TestLocalPortsHoldsThisProcesssConnections(t *testing.T) {
	for _, network := range []string{"tcp4", "tcp6"} {
		listener, err := net.Listen(network, map[string]string{"tcp4": "127.0.0.1:0", "tcp6": "[::1]:0"}[network])
		if err != nil {
			t.Logf("%s: %v (skipped)", network, err)
			continue
		}
		client, err := net.Dial(network, listener.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		ports, err := LocalPorts(os.Getpid())
		if err != nil {
			t.Fatal(err)
		}
		mine := client.LocalAddr().(*net.TCPAddr).Port
		listening := listener.Addr().(*net.TCPAddr).Port
		if !ports[mine] || !ports[listening] {
			t.Errorf("%s: ports %v lack the client's %d or the listener's %d", network, ports, mine, listening)
		}
		client.Close()
		listener.Close()
		after, _ := LocalPorts(os.Getpid())
		if after[mine] {
			t.Errorf("%s: a closed connection's port %d is still listed", network, mine)
		}
	}
}

func TestPortIsTheClientsPort(t *testing.T) {
	for host, want := range map[string]int{"127.0.0.1:51234": 51234, "::1:40000": 40000, "[fd00::5]:9": 9,
		"localhost": 0, "db.example:x": 0, "h:0": 0, "h:65536": 0, "": 0} {
		if got := Port(host); got != want {
			t.Errorf("%q: %d, want %d", host, got, want)
		}
	}
}
