// etcd at the version k8s.io/kubernetes pins (go.etcd.io/etcd/server/v3), built from the same module graph.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
