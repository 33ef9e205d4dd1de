//go:build tools

// Package kube pins the Kubernetes programs scripts/build/cluster-tools.sh builds for the local
// source cluster, an older minor than tools/kube (see versions.env). As there,
// k8s.io/kubernetes replaces its staging modules (k8s.io/api, client-go, ...) with paths inside its
// own tree, so it cannot be built with `go install`; this module requires it and replaces each
// staging module with the published k8s.io module of the same release instead.
package kube

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-proxy"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
	_ "k8s.io/kubernetes/cmd/kubectl"
	_ "k8s.io/kubernetes/cmd/kubelet"
)
