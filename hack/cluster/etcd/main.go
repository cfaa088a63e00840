// Command etcd runs etcd's server from the go.etcd.io/etcd/server module.
//
// Debian's etcd 3.4.23 drops watch progress notifications that kube-apiserver
// v1.34 relies on to serve watches from its cache ("Too large resource
// version" errors on every watch), so hack/cluster builds a 3.6 server instead.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}
