package main

import (
	"context"
	"errors"
	"fmt"

	"ferry.local/dataplane/internal/kubeapi"
)

// secretDeleter is the part of the Kubernetes API the step uses (kubeapi.Client).
type secretDeleter interface {
	Namespace() string
	DeleteSecret(ctx context.Context, name string) error
}

// forgetCredentials deletes the source side's Secret of the run: the source password, the dump's
// bucket key and the run key, which nothing in the source cluster needs once the dump is stored.
// A Secret already gone (a Job that ran again) is what the step wants: said, not an error.
func forgetCredentials(ctx context.Context, api secretDeleter, name string) error {
	err := api.DeleteSecret(ctx, name)
	switch {
	case err == nil:
		logf("the dump is stored: its credentials (Secret %s/%s: the source password, the bucket key, the run key) are removed from the source cluster", api.Namespace(), name)
	case errors.Is(err, kubeapi.ErrNotFound):
		logf("Secret %s/%s is already gone: the source cluster holds none of the run's credentials", api.Namespace(), name)
	default:
		return fmt.Errorf("cannot remove the dump's credentials (Secret %s/%s) from the source cluster: %v; remove it with kubectl delete secret -n %s %s", api.Namespace(), name, err, api.Namespace(), name)
	}
	return nil
}

// runForget: in the source cluster, after the dump Job, as a service account that may delete that
// one Secret (FORGET_SECRET) and nothing else.
func runForget(ctx context.Context) error {
	name, err := requireEnv("FORGET_SECRET")
	if err != nil {
		return err
	}
	api, err := kubeapi.InCluster()
	if err != nil {
		return err
	}
	return forgetCredentials(ctx, api, name)
}
