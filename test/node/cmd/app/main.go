// Command app is the private test image that the end-to-end tests push to the node's
// password-protected registry: it prints one line, then runs until stopped, with no network.
package main

import (
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	fmt.Println("pso-private-app: running")
	c := make(chan os.Signal, 1)
	signal.Notify(c, syscall.SIGTERM, syscall.SIGINT)
	<-c
	fmt.Println("pso-private-app: stopping")
}
