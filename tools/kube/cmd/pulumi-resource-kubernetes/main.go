// Copyright 2016-2020, Pulumi Corporation; ferry's build of it.
//
// Licensed under the Apache License, Version 2.0 (the "License");
// you may not use this file except in compliance with the License.
// You may obtain a copy of the License at
//
//     http://www.apache.org/licenses/LICENSE-2.0
//
// Unless required by applicable law or agreed to in writing, software
// distributed under the License is distributed on an "AS IS" BASIS,
// WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
// See the License for the specific language governing permissions and
// limitations under the License.

// Command pulumi-resource-kubernetes is the Kubernetes provider's own main package
// (github.com/pulumi/pulumi-kubernetes/provider/v4/cmd/pulumi-resource-kubernetes) built in this
// module, so the provider compiles with the same k8s.io modules as the local clusters' programs.
// Its two embedded files are the provider module's schema and Terraform mapping, which
// scripts/build/toolchain.sh writes here with the module's own generate.go before it builds
// (they are not in the repository).
package main

import (
	_ "embed"

	"github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/provider"
	"github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/version"
)

var providerName = "kubernetes"

//go:embed schema-embed.json
var pulumiSchema []byte

//go:embed terraform-mapping-embed.json
var terraformMapping []byte

func main() {
	provider.Serve(providerName, version.Version, pulumiSchema, terraformMapping)
}
