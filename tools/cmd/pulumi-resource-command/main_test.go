package main

import (
	"context"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/plugin"
	"github.com/pulumi/pulumi/sdk/v3/go/common/tokens"
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
		_, err := p.run(context.Background(), urn, tokens.Type(localType), resource.PropertyMap{
			"create":  resource.NewStringProperty("echo the-secret; echo the-complaint >&2; exit 3"),
			"logging": resource.NewStringProperty(logging),
		}, "create")
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
