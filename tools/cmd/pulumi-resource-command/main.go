// Command pulumi-resource-command is ferry's build of the `command` resource provider, for the
// parts of the @pulumi/command SDK (1.x) that ferry uses: command:local:Command and
// command:remote:Command with create/update/delete, stdin, environment, dir, interpreter, logging
// and triggers, returning stdout and stderr.
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
	if req.Type != localType && req.Type != remoteType {
		return plugin.CheckResponse{}, fmt.Errorf("unknown resource type %s: this provider implements %s and %s", req.Type, localType, remoteType)
	}
	if value, ok := req.News["logging"]; ok && value.IsString() {
		if _, known := loggedStreams[value.StringValue()]; !known {
			return plugin.CheckResponse{Failures: []plugin.CheckFailure{{Property: "logging",
				Reason: fmt.Sprintf("logging must be one of stdout, stderr, stdoutAndStderr, none, not %q", value.StringValue())}}}, nil
		}
	}
	return plugin.CheckResponse{Properties: req.News}, nil
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
	outputs, err := p.run(ctx, req.URN, req.Type, req.Properties, "create")
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
	outputs, err := p.run(ctx, req.URN, req.Type, req.NewInputs, step)
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
	_, err := p.run(ctx, req.URN, req.Type, req.Outputs, "delete")
	return plugin.DeleteResponse{}, err
}

func withUnknownOutputs(inputs resource.PropertyMap) resource.PropertyMap {
	outputs := inputs.Copy()
	outputs["stdout"] = resource.MakeComputed(resource.NewStringProperty(""))
	outputs["stderr"] = resource.MakeComputed(resource.NewStringProperty(""))
	return outputs
}

// run executes one of the resource's commands and returns its inputs plus stdout and stderr.
func (p *commandProvider) run(
	ctx context.Context, urn resource.URN, typ interface{ String() string }, props resource.PropertyMap, step string,
) (resource.PropertyMap, error) {
	script := property.Text(props, resource.PropertyKey(step))
	if script == "" {
		return nil, fmt.Errorf("%s: no %s command", urn.Name(), step)
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
	var err error
	if typ.String() == remoteType {
		err = runRemote(ctx, props, script, out, errOut)
	} else {
		err = runLocal(ctx, props, script, out, errOut)
	}
	outLines.flush()
	errLines.flush()
	if err != nil {
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

func runLocal(ctx context.Context, props resource.PropertyMap, script string, stdout, stderr io.Writer) error {
	interpreter := strings.Fields("/bin/sh -c")
	if list := property.Strings(props, "interpreter"); len(list) > 0 {
		interpreter = list
	}
	cmd := exec.CommandContext(ctx, interpreter[0], append(interpreter[1:], script)...)
	cmd.Dir = property.Text(props, "dir")
	cmd.Env = append(os.Environ(), environment(props)...)
	cmd.Stdin = strings.NewReader(property.Text(props, "stdin"))
	cmd.Stdout = stdout
	cmd.Stderr = stderr
	return cmd.Run()
}

func runRemote(ctx context.Context, props resource.PropertyMap, script string, stdout, stderr io.Writer) error {
	connection := property.Object(props, "connection")
	if connection == nil {
		return fmt.Errorf("connection is required")
	}
	port := 22
	if v, ok := connection["port"]; ok && v.IsNumber() {
		port = int(v.NumberValue())
	}
	config := &ssh.ClientConfig{
		User: property.Text(connection, "user"),
		// As the upstream provider does: the operator names the host, there is no known_hosts here.
		HostKeyCallback: ssh.InsecureIgnoreHostKey(), //nolint:gosec
		Timeout:         15 * time.Second,
	}
	if key := property.Text(connection, "privateKey"); key != "" {
		signer, err := ssh.ParsePrivateKey([]byte(key))
		if err != nil {
			return fmt.Errorf("parsing connection.privateKey: %w", err)
		}
		config.Auth = append(config.Auth, ssh.PublicKeys(signer))
	}
	if password := property.Text(connection, "password"); password != "" {
		config.Auth = append(config.Auth, ssh.Password(password))
	}
	address := net.JoinHostPort(property.Text(connection, "host"), strconv.Itoa(port))
	client, err := ssh.Dial("tcp", address, config)
	if err != nil {
		return fmt.Errorf("connecting to %s: %w", address, err)
	}
	defer client.Close()
	session, err := client.NewSession()
	if err != nil {
		return err
	}
	defer session.Close()
	for _, assignment := range environment(props) {
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
		return ctx.Err()
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
