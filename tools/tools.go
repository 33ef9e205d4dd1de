//go:build tools

// Package tools pins the Pulumi CLI that scripts/toolchain.sh builds from this module, so the CLI,
// its SDK and ferry's language host share one dependency graph.
package tools

import _ "github.com/pulumi/pulumi/pkg/v3/cmd/pulumi"
