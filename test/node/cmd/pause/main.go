// Command pause is the node's sandbox image (containerd's sandbox_image): no registry can be
// reached here to pull registry.k8s.io/pause, so the test node imports this one. It waits for
// SIGTERM or SIGINT and exits 0, reaping nothing (each container has its own shim).
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	c := make(chan os.Signal, 1)
	signal.Notify(c, syscall.SIGTERM, syscall.SIGINT)
	<-c
}
