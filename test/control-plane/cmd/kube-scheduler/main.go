// Command kube-scheduler is the upstream kube-scheduler, built from k8s.io/kubernetes: it binds
// the pods of `npm run cluster -- start --node` to the node.
package main

import (
	"os"

	"k8s.io/component-base/cli"
	"k8s.io/kubernetes/cmd/kube-scheduler/app"
)

func main() { os.Exit(cli.Run(app.NewSchedulerCommand())) }
