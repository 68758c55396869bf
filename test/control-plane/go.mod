// Only the module root. Each Kubernetes version's own module is versions/<version>.mod (with its
// .sum), written by gen-go-mod.sh; build.sh builds with `go build -modfile versions/<version>.mod`,
// which reads that file instead of this one.
module pullsecret-operator/test/control-plane

go 1.24.0
