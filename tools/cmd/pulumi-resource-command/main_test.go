package main

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"net"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/plugin"
	"github.com/pulumi/pulumi/sdk/v3/go/common/tokens"
	"golang.org/x/crypto/ssh"
)

func TestCheckRefusesAnUnknownLoggingValue(t *testing.T) {
	p := &commandProvider{}
	for value, fails := range map[string]bool{"none": false, "stderr": false, "stdoutAndStderr": false, "verbose": true} {
		response, err := p.Check(context.Background(), plugin.CheckRequest{
			Type: tokens.Type(localType),
			News: resource.PropertyMap{"create": resource.NewStringProperty("true"), "logging": resource.NewStringProperty(value)},
		})
		if err != nil {
			t.Fatal(err)
		}
		if got := len(response.Failures) > 0; got != fails {
			t.Errorf("logging %q: failures %v", value, response.Failures)
		}
	}
}

// A command told to log nothing does not have its output in the error of a failure either: it may
// hold a secret (the run key is drawn that way).
func TestAFailureShowsOnlyTheStreamsThatAreLogged(t *testing.T) {
	p := &commandProvider{}
	urn := resource.NewURN("stack", "project", "", tokens.Type(localType), "key")
	for logging, shown := range map[string]bool{"none": false, "stdoutAndStderr": true} {
		_, err := p.run(context.Background(), invocation{urn: urn, typ: tokens.Type(localType), step: "create", props: resource.PropertyMap{
			"create":  resource.NewStringProperty("echo the-secret; echo the-complaint >&2; exit 3"),
			"logging": resource.NewStringProperty(logging),
		}})
		if err == nil {
			t.Fatalf("logging %s: the failing command succeeded", logging)
		}
		for _, text := range []string{"the-secret", "the-complaint"} {
			if strings.Contains(err.Error(), text) != shown {
				t.Errorf("logging %s: %q in the error is %v: %v", logging, text, !shown, err)
			}
		}
	}
}

func check(t *testing.T, typ string, news resource.PropertyMap) []plugin.CheckFailure {
	t.Helper()
	response, err := (&commandProvider{}).Check(context.Background(), plugin.CheckRequest{Type: tokens.Type(typ), News: news})
	if err != nil {
		t.Fatal(err)
	}
	return response.Failures
}

// Check takes what the real schema (@pulumi/command 1.x) has and this build implements, and
// refuses by name a property the schema lacks (a typo would otherwise be ignored) and one this
// build lacks.
func TestCheckRefusesWhatTheRealSchemaLacksOrThisBuildDoesNotImplement(t *testing.T) {
	str := resource.NewStringProperty
	connection := resource.NewObjectProperty(resource.PropertyMap{"host": str("db"), "user": str("ferry"),
		"port": resource.NewNumberProperty(22), "hostKey": str("ssh-ed25519 AAAA"), "dialErrorLimit": resource.NewNumberProperty(3),
		"perDialTimeout": resource.NewNumberProperty(5), "privateKey": resource.MakeSecret(str("key")),
		"privateKeyPassword": resource.MakeSecret(str("p"))})
	if failures := check(t, localType, resource.PropertyMap{"create": str("true"), "update": str("true"), "delete": str("true"),
		"stdin": str(""), "logging": str("none"), "interpreter": resource.NewArrayProperty(nil), "dir": str("/"),
		"environment": resource.NewObjectProperty(resource.PropertyMap{}), "triggers": resource.NewArrayProperty(nil),
		"addPreviousOutputInEnv": resource.NewBoolProperty(false)}); len(failures) != 0 {
		t.Errorf("a local command with every implemented input: %v", failures)
	}
	if failures := check(t, remoteType, resource.PropertyMap{"create": str("true"), "connection": connection,
		"environment": resource.NewObjectProperty(resource.PropertyMap{}), "addPreviousOutputInEnv": resource.NewBoolProperty(false)}); len(failures) != 0 {
		t.Errorf("a remote command with every implemented input: %v", failures)
	}
	for _, refused := range []struct {
		typ      string
		news     resource.PropertyMap
		property string
		reason   string
	}{
		{localType, resource.PropertyMap{"create": str("true"), "creat": str("true")}, "creat", "has no input creat"},
		{localType, resource.PropertyMap{"create": str("true"), "assetPaths": resource.NewArrayProperty(nil)}, "assetPaths", "not implemented"},
		{localType, resource.PropertyMap{"create": str("true"), "connection": connection}, "connection", "has no input connection"},
		{remoteType, resource.PropertyMap{"create": str("true"), "connection": connection, "dir": str("/")}, "dir", "has no input dir"},
		{remoteType, resource.PropertyMap{"create": str("true")}, "connection", "connection is required"},
		{remoteType, resource.PropertyMap{"create": str("true"), "connection": resource.NewObjectProperty(resource.PropertyMap{"user": str("u")})}, "connection.host", "required"},
		{remoteType, resource.PropertyMap{"create": str("true"), "connection": resource.NewObjectProperty(resource.PropertyMap{"host": str("h"), "hostkey": str("x")})}, "connection.hostkey", "has no input connection.hostkey"},
		{remoteType, resource.PropertyMap{"create": str("true"), "connection": resource.NewObjectProperty(resource.PropertyMap{"host": str("h"), "proxy": resource.NewObjectProperty(resource.PropertyMap{})})}, "connection.proxy", "not implemented"},
		{remoteType, resource.PropertyMap{"create": str("true"), "connection": resource.NewObjectProperty(resource.PropertyMap{"host": str("h"), "agentSocketPath": str("/s")})}, "connection.agentSocketPath", "not implemented"},
	} {
		failures := check(t, refused.typ, refused.news)
		if len(failures) != 1 || string(failures[0].Property) != refused.property || !strings.Contains(failures[0].Reason, refused.reason) {
			t.Errorf("%s %v: want one failure on %s saying %q, got %v", refused.typ, refused.news, refused.property, refused.reason, failures)
		}
	}
}

// As the real provider, an update and a delete see the previous stdout and stderr in
// PULUMI_COMMAND_STDOUT/STDERR unless addPreviousOutputInEnv is false (ferry sets false: a dump's
// manifest there would exceed the kernel's limit for one environment string).
func TestThePreviousOutputReachesTheEnvironmentUnlessTurnedOff(t *testing.T) {
	p := &commandProvider{}
	urn := resource.NewURN("stack", "project", "", tokens.Type(localType), "previous")
	previous := resource.PropertyMap{"stdout": resource.NewStringProperty("old-out"), "stderr": resource.NewStringProperty("old-err")}
	for _, setting := range []*bool{nil, ptr(true), ptr(false)} {
		props := resource.PropertyMap{"create": resource.NewStringProperty(`printf '%s|%s' "${PULUMI_COMMAND_STDOUT-unset}" "${PULUMI_COMMAND_STDERR-unset}"`)}
		want := "old-out|old-err"
		if setting != nil {
			props["addPreviousOutputInEnv"] = resource.NewBoolProperty(*setting)
			if !*setting {
				want = "unset|unset"
			}
		}
		outputs, err := p.run(context.Background(), invocation{urn: urn, typ: tokens.Type(localType), step: "create", props: props, previous: previous})
		if err != nil {
			t.Fatal(err)
		}
		if got := outputs["stdout"].StringValue(); got != want {
			t.Errorf("addPreviousOutputInEnv %v: got %q, want %q", setting, got, want)
		}
	}
}

func ptr[T any](v T) *T { return &v }

// A custom timeout stops the command and every process it started, not only the shell.
func TestACustomTimeoutStopsTheWholeProcessGroup(t *testing.T) {
	p := &commandProvider{}
	urn := resource.NewURN("stack", "project", "", tokens.Type(localType), "slow")
	pidFile := t.TempDir() + "/child.pid"
	started := time.Now()
	// The child ignores SIGTERM: only the SIGKILL after the grace period stops it.
	saved := stopGrace
	stopGrace = time.Second
	defer func() { stopGrace = saved }()
	_, err := p.run(context.Background(), invocation{urn: urn, typ: tokens.Type(localType), step: "create", timeout: 1,
		props: resource.PropertyMap{"create": resource.NewStringProperty(
			"sh -c 'trap \"\" TERM; echo $$ > " + pidFile + "; sleep 60' & wait")}})
	if err == nil || !strings.Contains(err.Error(), "timed out after 1s") {
		t.Fatalf("a command past its timeout: %v", err)
	}
	if elapsed := time.Since(started); elapsed > 20*time.Second {
		t.Errorf("the timeout took %s to stop the command", elapsed)
	}
	data, readErr := os.ReadFile(pidFile)
	if readErr != nil {
		t.Fatal(readErr)
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(data)))
	deadline := time.Now().Add(5 * time.Second)
	for syscall.Kill(pid, 0) == nil {
		if time.Now().After(deadline) {
			t.Fatalf("the command's child %d still runs after the timeout", pid)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// sshServer accepts SSH handshakes (password "pw") under a fresh ed25519 host key, which it returns
// in authorized_keys form.
func sshServer(t *testing.T) (address, hostKey string) {
	t.Helper()
	_, private, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := ssh.NewSignerFromKey(private)
	if err != nil {
		t.Fatal(err)
	}
	config := &ssh.ServerConfig{PasswordCallback: func(_ ssh.ConnMetadata, password []byte) (*ssh.Permissions, error) {
		if string(password) == "pw" {
			return nil, nil
		}
		return nil, errors.New("refused")
	}}
	config.AddHostKey(signer)
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = listener.Close() })
	go func() {
		for {
			c, err := listener.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				if _, channels, requests, err := ssh.NewServerConn(c, config); err == nil {
					go ssh.DiscardRequests(requests)
					for range channels {
					}
				}
			}()
		}
	}()
	return listener.Addr().String(), string(ssh.MarshalAuthorizedKey(signer.PublicKey()))
}

// connection.hostKey pins the server's key: the right one connects, another is refused at once and
// not retried; a dial that fails is retried up to dialErrorLimit.
func TestTheHostKeyIsPinnedAndDialsAreRetried(t *testing.T) {
	address, hostKey := sshServer(t)
	_, otherKey := sshServer(t)
	connect := func(key string, limit int) error {
		config, err := sshConfig(resource.PropertyMap{"user": resource.NewStringProperty("u"),
			"password": resource.NewStringProperty("pw"), "hostKey": resource.NewStringProperty(key)})
		if err != nil {
			return err
		}
		client, err := dial(context.Background(), address, config, limit)
		if err == nil {
			client.Close()
		}
		return err
	}
	if err := connect(hostKey, 1); err != nil {
		t.Fatalf("the server's own host key: %v", err)
	}
	started := time.Now()
	if err := connect(otherKey, 5); err == nil || !strings.Contains(err.Error(), "not connection.hostKey") {
		t.Fatalf("another host key: %v", err)
	}
	if time.Since(started) > time.Second {
		t.Errorf("a host key mismatch was retried")
	}
	closed, _ := net.Listen("tcp", "127.0.0.1:0")
	closedAddress := closed.Addr().String()
	_ = closed.Close()
	config, _ := sshConfig(resource.PropertyMap{"user": resource.NewStringProperty("u")})
	if _, err := dial(context.Background(), closedAddress, config, 2); err == nil || !strings.Contains(err.Error(), "failed 2 times") {
		t.Fatalf("a port nobody listens on, dialErrorLimit 2: %v", err)
	}
}
