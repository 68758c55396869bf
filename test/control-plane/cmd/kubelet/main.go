// Command kubelet is the upstream kubelet, built from k8s.io/kubernetes: the node of
// `npm run cluster -- start --node`, where pods really pull images.
package main

import (
	"context"
	"os"

	"k8s.io/component-base/cli"
	"k8s.io/kubernetes/cmd/kubelet/app"
)

func main() { os.Exit(cli.Run(app.NewKubeletCommand(context.Background()))) }
