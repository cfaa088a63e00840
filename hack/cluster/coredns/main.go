// Command coredns is CoreDNS (github.com/coredns/coredns) with only the plugins the local
// cluster's DNS uses, which keeps the build to the Kubernetes client and the DNS library
// (the stock build also compiles the AWS, Azure, Google Cloud, DataDog and etcd clients).
//
// CoreDNS runs a query through a server block's plugins in the order of
// dnsserver.Directives (upstream's plugin.cfg); the list below is that order, restricted to
// the plugins imported here. The Corefile is written by hack/cluster/lib/dns.sh.
package main

import (
	"github.com/coredns/coredns/core/dnsserver"
	"github.com/coredns/coredns/coremain"

	_ "github.com/coredns/coredns/plugin/bind"
	_ "github.com/coredns/coredns/plugin/cache"
	_ "github.com/coredns/coredns/plugin/errors"
	_ "github.com/coredns/coredns/plugin/forward"
	_ "github.com/coredns/coredns/plugin/health"
	_ "github.com/coredns/coredns/plugin/kubernetes"
	_ "github.com/coredns/coredns/plugin/loadbalance"
	_ "github.com/coredns/coredns/plugin/log"
	_ "github.com/coredns/coredns/plugin/loop"
	_ "github.com/coredns/coredns/plugin/metrics"
	_ "github.com/coredns/coredns/plugin/ready"
	_ "github.com/coredns/coredns/plugin/reload"
)

// directives: upstream's order (core/dnsserver/zdirectives.go) of the plugins above.
var directives = []string{
	"reload",
	"bind",
	"ready",
	"health",
	"prometheus",
	"errors",
	"log",
	"loadbalance",
	"cache",
	"kubernetes",
	"loop",
	"forward",
}

func main() {
	dnsserver.Directives = directives
	coremain.Run()
}
