// Command pulumi-resource-command is ferry's build of the `command` resource provider, for the
// parts of the @pulumi/command SDK (1.x) that ferry uses: command:local:Command and
// command:remote:Command with create/update/delete, stdin, environment, dir, interpreter, logging,
// triggers and addPreviousOutputInEnv, the connection's hostKey, password, privateKey(Password),
// dialErrorLimit and perDialTimeout, and custom timeouts, returning stdout and stderr. Check
// refuses every other property, as well as the real schema's properties this build lacks.
//
// Pulumi's own provider (module github.com/pulumi/pulumi-command/provider) is not served by the Go
// module proxy this project can reach, so ferry builds this one against the same engine protocol.
// Changing `triggers` replaces a command; any other change runs `update` (or `create` again).
package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"ferry.local/tools/internal/property"
	"github.com/blang/semver"
	"github.com/pulumi/pulumi/sdk/v3/go/common/diag"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/plugin"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/provider"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"golang.org/x/crypto/ssh"
)

// version is set at build time to the @pulumi/command version the plugin answers for.
var version = "1.2.1"

const (
	localType  = "command:local:Command"
	remoteType = "command:remote:Command"
)

type commandProvider struct {
	plugin.UnimplementedProvider
	host *provider.HostClient
}

func main() {
	err := provider.Main("command", func(host *provider.HostClient) (pulumirpc.ResourceProviderServer, error) {
		return plugin.NewProviderServer(&commandProvider{host: host}), nil
	})
	if err != nil {
		fmt.Fprintf(os.Stderr, "pulumi-resource-command: %v\n", err)
		os.Exit(1)
	}
}

func (p *commandProvider) GetPluginInfo(context.Context) (plugin.PluginInfo, error) {
	v := semver.MustParse(version)
	return plugin.PluginInfo{Version: &v}, nil
}

func (p *commandProvider) GetSchema(context.Context, plugin.GetSchemaRequest) (plugin.GetSchemaResponse, error) {
	return plugin.GetSchemaResponse{Schema: []byte(fmt.Sprintf(`{"name":"command","version":%q}`, version))}, nil
}

func (p *commandProvider) CheckConfig(_ context.Context, req plugin.CheckConfigRequest) (plugin.CheckConfigResponse, error) {
	return plugin.CheckConfigResponse{Properties: req.News}, nil
}

func (p *commandProvider) DiffConfig(context.Context, plugin.DiffConfigRequest) (plugin.DiffConfigResponse, error) {
	return plugin.DiffResult{Changes: plugin.DiffNone}, nil
}

func (p *commandProvider) Configure(context.Context, plugin.ConfigureRequest) (plugin.ConfigureResponse, error) {
	return plugin.ConfigureResponse{}, nil
}

func (p *commandProvider) Check(_ context.Context, req plugin.CheckRequest) (plugin.CheckResponse, error) {
	known, ok := inputs[string(req.Type)]
	if !ok {
		return plugin.CheckResponse{}, fmt.Errorf("unknown resource type %s: this provider implements %s and %s", req.Type, localType, remoteType)
	}
	failures := checkKeys(req.News, known, "", req.Type.String())
	if req.Type == remoteType {
		if connection := property.Object(req.News, "connection"); connection != nil {
			failures = append(failures, checkKeys(connection, connectionInputs, "connection.", req.Type.String())...)
			if value, ok := connection["host"]; !ok || value.IsNull() {
				failures = append(failures, plugin.CheckFailure{Property: "connection.host", Reason: "connection.host is required"})
			}
		} else if value, ok := req.News["connection"]; !ok || value.IsNull() {
			failures = append(failures, plugin.CheckFailure{Property: "connection", Reason: "connection is required"})
		}
	}
	if value, ok := req.News["logging"]; ok && value.IsString() {
		if _, known := loggedStreams[value.StringValue()]; !known {
			failures = append(failures, plugin.CheckFailure{Property: "logging",
				Reason: fmt.Sprintf("logging must be one of stdout, stderr, stdoutAndStderr, none, not %q", value.StringValue())})
		}
	}
	if len(failures) > 0 {
		return plugin.CheckResponse{Failures: failures}, nil
	}
	return plugin.CheckResponse{Properties: req.News}, nil
}

// inputs are the properties of each resource in the schema of @pulumi/command 1.x (the real
// provider's local.BaseInputs, remote's, and common.ResourceInputs); connectionInputs are those of
// remote.Connection. What is "true" here this build implements; what is a sentence is in the real
// schema but not built here, and Check refuses it with that sentence rather than ignore it.
var inputs = map[string]map[string]string{
	localType: {
		"triggers": "", "create": "", "update": "", "delete": "", "stdin": "", "logging": "",
		"interpreter": "", "dir": "", "environment": "", "addPreviousOutputInEnv": "",
		"assetPaths":   "assetPaths is not implemented by ferry's build of the command provider",
		"archivePaths": "archivePaths is not implemented by ferry's build of the command provider",
	},
	remoteType: {
		"triggers": "", "create": "", "update": "", "delete": "", "stdin": "", "logging": "",
		"connection": "", "environment": "", "addPreviousOutputInEnv": "",
	},
}

var connectionInputs = map[string]string{
	"host": "", "port": "", "user": "", "password": "", "privateKey": "", "privateKeyPassword": "",
	"dialErrorLimit": "", "perDialTimeout": "", "hostKey": "",
	"agentSocketPath": "connection.agentSocketPath is not implemented by ferry's build of the command provider: give connection.privateKey",
	"proxy":           "connection.proxy is not implemented by ferry's build of the command provider",
}

// checkKeys refuses a property the schema does not have, and one it has that this build lacks.
func checkKeys(props resource.PropertyMap, known map[string]string, prefix, typ string) []plugin.CheckFailure {
	var failures []plugin.CheckFailure
	keys := make([]string, 0, len(props))
	for key := range props {
		keys = append(keys, string(key))
	}
	sort.Strings(keys)
	for _, key := range keys {
		missing, ok := known[key]
		switch {
		case !ok:
			failures = append(failures, plugin.CheckFailure{Property: resource.PropertyKey(prefix + key),
				Reason: fmt.Sprintf("%s has no input %s%s (@pulumi/command %s)", typ, prefix, key, version)})
		case missing != "" && !props[resource.PropertyKey(key)].IsNull():
			failures = append(failures, plugin.CheckFailure{Property: resource.PropertyKey(prefix + key), Reason: missing})
		}
	}
	return failures
}

// loggedStreams is what each value of `logging` sends to the engine's log as the command runs
// (stdout, stderr), as the real provider does; stdoutAndStderr is its default.
var loggedStreams = map[string][2]bool{
	"stdout":          {true, false},
	"stderr":          {false, true},
	"stdoutAndStderr": {true, true},
	"none":            {false, false},
}

// outputKeys are computed by the provider, never compared as inputs.
var outputKeys = map[resource.PropertyKey]bool{"stdout": true, "stderr": true}

func (p *commandProvider) Diff(_ context.Context, req plugin.DiffRequest) (plugin.DiffResponse, error) {
	diff := req.OldInputs.Diff(req.NewInputs, func(key resource.PropertyKey) bool { return outputKeys[key] })
	if diff == nil || !diff.AnyChanges() {
		return plugin.DiffResult{Changes: plugin.DiffNone}, nil
	}
	changed := diff.ChangedKeys()
	result := plugin.DiffResult{Changes: plugin.DiffSome, ChangedKeys: changed}
	for _, key := range changed {
		if key == "triggers" {
			result.ReplaceKeys = append(result.ReplaceKeys, key)
		}
	}
	return result, nil
}

func (p *commandProvider) Create(ctx context.Context, req plugin.CreateRequest) (plugin.CreateResponse, error) {
	id := resource.ID(fmt.Sprintf("%s%d", req.Name, time.Now().UnixNano()))
	if req.Preview {
		return plugin.CreateResponse{ID: "", Properties: withUnknownOutputs(req.Properties)}, nil
	}
	outputs, err := p.run(ctx, invocation{urn: req.URN, typ: req.Type, props: req.Properties, step: "create", timeout: req.Timeout})
	if err != nil {
		return plugin.CreateResponse{}, err
	}
	return plugin.CreateResponse{ID: id, Properties: outputs}, nil
}

func (p *commandProvider) Update(ctx context.Context, req plugin.UpdateRequest) (plugin.UpdateResponse, error) {
	if req.Preview {
		return plugin.UpdateResponse{Properties: withUnknownOutputs(req.NewInputs)}, nil
	}
	step := "update"
	if property.Text(req.NewInputs, "update") == "" {
		step = "create"
	}
	outputs, err := p.run(ctx, invocation{urn: req.URN, typ: req.Type, props: req.NewInputs, step: step,
		previous: req.OldOutputs, timeout: req.Timeout})
	if err != nil {
		return plugin.UpdateResponse{}, err
	}
	return plugin.UpdateResponse{Properties: outputs}, nil
}

func (p *commandProvider) Read(_ context.Context, req plugin.ReadRequest) (plugin.ReadResponse, error) {
	return plugin.ReadResponse{ReadResult: plugin.ReadResult{ID: req.ID, Inputs: req.Inputs, Outputs: req.State}}, nil
}

func (p *commandProvider) Delete(ctx context.Context, req plugin.DeleteRequest) (plugin.DeleteResponse, error) {
	if property.Text(req.Outputs, "delete") == "" {
		return plugin.DeleteResponse{}, nil
	}
	_, err := p.run(ctx, invocation{urn: req.URN, typ: req.Type, props: req.Outputs, step: "delete",
		previous: req.Outputs, timeout: req.Timeout})
	return plugin.DeleteResponse{}, err
}

func withUnknownOutputs(inputs resource.PropertyMap) resource.PropertyMap {
	outputs := inputs.Copy()
	outputs["stdout"] = resource.MakeComputed(resource.NewStringProperty(""))
	outputs["stderr"] = resource.MakeComputed(resource.NewStringProperty(""))
	return outputs
}

// invocation is one run of one of a resource's commands.
type invocation struct {
	urn   resource.URN
	typ   interface{ String() string }
	props resource.PropertyMap
	step  string
	// previous holds the outputs of the create or update before this one (update and delete).
	previous resource.PropertyMap
	// timeout is the resource's custom timeout for the step in seconds; 0 is none.
	timeout float64
}

// run executes one of the resource's commands and returns its inputs plus stdout and stderr.
func (p *commandProvider) run(ctx context.Context, call invocation) (resource.PropertyMap, error) {
	props, step, urn := call.props, call.step, call.urn
	script := property.Text(props, resource.PropertyKey(step))
	if script == "" {
		return nil, fmt.Errorf("%s: no %s command", urn.Name(), step)
	}
	if call.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, time.Duration(call.timeout*float64(time.Second)))
		defer cancel()
	}
	var stdout, stderr bytes.Buffer
	logging := property.Text(props, "logging")
	if logging == "" {
		logging = "stdoutAndStderr"
	}
	logged := loggedStreams[logging]
	outLines := &lineLogger{ctx: ctx, host: p.host, urn: urn}
	errLines := &lineLogger{ctx: ctx, host: p.host, urn: urn}
	var out, errOut io.Writer = &stdout, &stderr
	if logged[0] {
		out = io.MultiWriter(&stdout, outLines)
	}
	if logged[1] {
		errOut = io.MultiWriter(&stderr, errLines)
	}
	env := environment(props)
	// As the real provider: the previous stdout and stderr, unless addPreviousOutputInEnv is false.
	if value, ok := props["addPreviousOutputInEnv"]; !ok || !property.Reveal(value).IsBool() || property.Reveal(value).BoolValue() {
		for _, previous := range []struct{ name, key string }{{"PULUMI_COMMAND_STDOUT", "stdout"}, {"PULUMI_COMMAND_STDERR", "stderr"}} {
			if text := property.Text(call.previous, resource.PropertyKey(previous.key)); text != "" {
				env = append(env, previous.name+"="+text)
			}
		}
	}
	var err error
	if call.typ.String() == remoteType {
		err = runRemote(ctx, props, script, env, out, errOut)
	} else {
		err = runLocal(ctx, props, script, env, out, errOut)
	}
	outLines.flush()
	errLines.flush()
	if err != nil {
		if ctx.Err() == context.DeadlineExceeded {
			err = fmt.Errorf("timed out after %s (the resource's custom timeout); the command and every process it started were stopped",
				time.Duration(call.timeout*float64(time.Second)))
		}
		// What the command was told not to log is not put in the error either.
		shown := func(text string, logs bool) string {
			if !logs {
				return "(not shown: logging is " + logging + ")"
			}
			return tail(text)
		}
		return nil, fmt.Errorf("%s: %w\nstdout: %s\nstderr: %s", step, err, shown(stdout.String(), logged[0]), shown(stderr.String(), logged[1]))
	}
	outputs := props.Copy()
	outputs["stdout"] = resource.NewStringProperty(strings.TrimRight(stdout.String(), "\n"))
	outputs["stderr"] = resource.NewStringProperty(strings.TrimRight(stderr.String(), "\n"))
	return outputs, nil
}

// stopGrace is how long a stopped command's processes get between SIGTERM and SIGKILL.
var stopGrace = 10 * time.Second

func runLocal(ctx context.Context, props resource.PropertyMap, script string, env []string, stdout, stderr io.Writer) error {
	interpreter := strings.Fields("/bin/sh -c")
	if list := property.Strings(props, "interpreter"); len(list) > 0 {
		interpreter = list
	}
	cmd := exec.CommandContext(ctx, interpreter[0], append(interpreter[1:], script)...)
	cmd.Dir = property.Text(props, "dir")
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdin = strings.NewReader(property.Text(props, "stdin"))
	cmd.Stdout = stdout
	cmd.Stderr = stderr
	// The command runs in a process group of its own: a timeout or a cancelled deployment stops
	// everything it started (a dump's children too), SIGTERM first so each can clean up, then SIGKILL.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		group := cmd.Process.Pid
		time.AfterFunc(stopGrace, func() { _ = syscall.Kill(-group, syscall.SIGKILL) })
		return nil
	}
	cmd.WaitDelay = stopGrace + 5*time.Second
	return cmd.Run()
}

func runRemote(ctx context.Context, props resource.PropertyMap, script string, env []string, stdout, stderr io.Writer) error {
	connection := property.Object(props, "connection")
	if connection == nil {
		return fmt.Errorf("connection is required")
	}
	config, err := sshConfig(connection)
	if err != nil {
		return err
	}
	port := 22
	if v, ok := connection["port"]; ok && v.IsNumber() {
		port = int(v.NumberValue())
	}
	address := net.JoinHostPort(property.Text(connection, "host"), strconv.Itoa(port))
	client, err := dial(ctx, address, config, dialLimit(connection))
	if err != nil {
		return err
	}
	defer client.Close()
	session, err := client.NewSession()
	if err != nil {
		return err
	}
	defer session.Close()
	for _, assignment := range env {
		name, value, _ := strings.Cut(assignment, "=")
		if err := session.Setenv(name, value); err != nil {
			return fmt.Errorf("the SSH server refused environment variable %s (it needs AcceptEnv): %w", name, err)
		}
	}
	session.Stdin = strings.NewReader(property.Text(props, "stdin"))
	session.Stdout = stdout
	session.Stderr = stderr
	done := make(chan error, 1)
	go func() { done <- session.Run(script) }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		_ = session.Signal(ssh.SIGTERM)
		select {
		case <-done:
		case <-time.After(stopGrace):
		}
		return ctx.Err()
	}
}

// sshConfig is the connection's client configuration. With connection.hostKey (a line of
// known_hosts or authorized_keys form: "ssh-ed25519 AAAA...") only that host key is accepted; without
// it any key is, as the real provider does.
func sshConfig(connection resource.PropertyMap) (*ssh.ClientConfig, error) {
	config := &ssh.ClientConfig{
		User:            property.Text(connection, "user"),
		HostKeyCallback: ssh.InsecureIgnoreHostKey(), //nolint:gosec // the real provider's default without hostKey
		Timeout:         15 * time.Second,
	}
	if v, ok := connection["perDialTimeout"]; ok && v.IsNumber() {
		config.Timeout = time.Duration(v.NumberValue()) * time.Second
	}
	if hostKey := property.Text(connection, "hostKey"); hostKey != "" {
		key, _, _, _, err := ssh.ParseAuthorizedKey([]byte(hostKey))
		if err != nil {
			return nil, fmt.Errorf("parsing connection.hostKey: %w", err)
		}
		config.HostKeyCallback = ssh.FixedHostKey(key)
		config.HostKeyAlgorithms = []string{key.Type()}
		if key.Type() == ssh.KeyAlgoRSA {
			config.HostKeyAlgorithms = []string{ssh.KeyAlgoRSASHA512, ssh.KeyAlgoRSASHA256, ssh.KeyAlgoRSA}
		}
	}
	if key := property.Text(connection, "privateKey"); key != "" {
		var signer ssh.Signer
		var err error
		if passphrase := property.Text(connection, "privateKeyPassword"); passphrase != "" {
			signer, err = ssh.ParsePrivateKeyWithPassphrase([]byte(key), []byte(passphrase))
		} else {
			signer, err = ssh.ParsePrivateKey([]byte(key))
		}
		if err != nil {
			return nil, fmt.Errorf("parsing connection.privateKey: %w", err)
		}
		config.Auth = append(config.Auth, ssh.PublicKeys(signer))
	}
	if password := property.Text(connection, "password"); password != "" {
		config.Auth = append(config.Auth, ssh.Password(password))
	}
	return config, nil
}

// dialLimit is connection.dialErrorLimit: 10 by default, -1 for no limit.
func dialLimit(connection resource.PropertyMap) int {
	if v, ok := connection["dialErrorLimit"]; ok && v.IsNumber() {
		return int(v.NumberValue())
	}
	return 10
}

// dial connects, retrying a failed dial up to limit times in all, as the real provider does. A host
// key that does not match and a refused login are not retried: they will not get better.
func dial(ctx context.Context, address string, config *ssh.ClientConfig, limit int) (*ssh.Client, error) {
	for dials := 1; ; dials++ {
		client, err := ssh.Dial("tcp", address, config)
		if err == nil {
			return client, nil
		}
		if strings.Contains(err.Error(), "host key mismatch") {
			return nil, fmt.Errorf("connecting to %s: the server's host key is not connection.hostKey: %w", address, err)
		}
		if strings.Contains(err.Error(), "unable to authenticate") {
			return nil, fmt.Errorf("connecting to %s: %w", address, err)
		}
		if limit >= 0 && dials >= limit {
			return nil, fmt.Errorf("connecting to %s failed %d times: %w", address, dials, err)
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("connecting to %s: %w (after %d tries)", address, ctx.Err(), dials)
		case <-time.After(time.Duration(min(dials, 5)) * time.Second):
		}
	}
}

// lineLogger forwards each line a command writes to the engine, as progress.
type lineLogger struct {
	ctx     context.Context
	host    *provider.HostClient
	urn     resource.URN
	mu      sync.Mutex
	pending []byte
}

func (l *lineLogger) Write(data []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.pending = append(l.pending, data...)
	consumed := 0
	for {
		i := bytes.IndexByte(l.pending[consumed:], '\n')
		if i < 0 {
			break
		}
		line := string(l.pending[consumed : consumed+i])
		consumed += i + 1
		if l.host != nil && strings.TrimSpace(line) != "" {
			_ = l.host.Log(l.ctx, diag.Info, l.urn, line)
		}
	}
	l.pending = l.pending[consumed:]
	return len(data), nil
}

func (l *lineLogger) flush() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.host != nil && len(bytes.TrimSpace(l.pending)) > 0 {
		_ = l.host.Log(l.ctx, diag.Info, l.urn, string(l.pending))
	}
	l.pending = nil
}

func environment(props resource.PropertyMap) []string {
	env := property.Object(props, "environment")
	names := make([]string, 0, len(env))
	for name := range env {
		names = append(names, string(name))
	}
	sort.Strings(names)
	assignments := make([]string, 0, len(names))
	for _, name := range names {
		assignments = append(assignments, name+"="+property.Text(env, resource.PropertyKey(name)))
	}
	return assignments
}

// tail keeps the end of a long output, where the cause of a failure is.
func tail(s string) string {
	const keep = 4000
	if len(s) > keep {
		return "..." + s[len(s)-keep:]
	}
	return s
}
