// Command kubectl is the upstream kubectl, built from the same pinned modules, so tests can run
// `kubectl kustomize` and `kubectl apply -k --dry-run=server` exactly as an admin would.
package main

import (
	"k8s.io/component-base/cli"
	"k8s.io/kubectl/pkg/cmd"
	"k8s.io/kubectl/pkg/cmd/util"
)

func main() {
	command := cmd.NewDefaultKubectlCommand()
	if err := cli.RunNoErrOutput(command); err != nil {
		util.CheckErr(err)
	}
}
