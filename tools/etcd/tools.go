//go:build tools

// Package etcd pins the etcd server that scripts/cluster-tools.sh builds for the local cluster.
// The server module's own go.mod replaces its sibling modules with local paths, so it cannot be
// built with `go install`; this module requires it and the published siblings instead.
package etcd

import _ "go.etcd.io/etcd/server/v3"
