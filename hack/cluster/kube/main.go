// Command kube is a multi-call binary holding the Kubernetes components that
// hack/cluster runs. It dispatches on the name it was invoked as (a symlink
// such as kube-apiserver -> kube) or, failing that, on its first argument:
//
//	kube kube-apiserver --etcd-servers=...
//	kube-apiserver --etcd-servers=...      (through a symlink)
//
// Linking every component into one binary lets them share compile and link
// time, which matters on a two-core machine.
package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	_ "time/tzdata" // CronJob time zones

	"github.com/spf13/cobra"
	"k8s.io/component-base/cli"
	"k8s.io/component-base/logs"
	_ "k8s.io/component-base/logs/json/register"
	_ "k8s.io/component-base/metrics/prometheus/clientgo"
	_ "k8s.io/component-base/metrics/prometheus/version"
	kubectlcmd "k8s.io/kubectl/pkg/cmd"
	kubectlutil "k8s.io/kubectl/pkg/cmd/util"
	apiserver "k8s.io/kubernetes/cmd/kube-apiserver/app"
	controllermanager "k8s.io/kubernetes/cmd/kube-controller-manager/app"
	proxy "k8s.io/kubernetes/cmd/kube-proxy/app"
	scheduler "k8s.io/kubernetes/cmd/kube-scheduler/app"
	kubelet "k8s.io/kubernetes/cmd/kubelet/app"
)

var components = map[string]func() *cobra.Command{
	"kube-apiserver":          apiserver.NewAPIServerCommand,
	"kube-controller-manager": controllermanager.NewControllerManagerCommand,
	"kube-scheduler":          func() *cobra.Command { return scheduler.NewSchedulerCommand() },
	"kube-proxy":              proxy.NewProxyCommand,
	"kubelet":                 func() *cobra.Command { return kubelet.NewKubeletCommand(context.Background()) },
}

func main() {
	name := filepath.Base(os.Args[0])
	args := os.Args
	if name != "kubectl" && components[name] == nil {
		if len(args) < 2 {
			usage()
			os.Exit(2)
		}
		name = args[1]
		args = append([]string{name}, args[2:]...)
	}
	os.Args = args

	if name == "kubectl" {
		runKubectl()
		return
	}
	newCommand, ok := components[name]
	if !ok {
		fmt.Fprintf(os.Stderr, "kube: unknown component %q\n", name)
		usage()
		os.Exit(2)
	}
	os.Exit(cli.Run(newCommand()))
}

func runKubectl() {
	logs.GlogSetter(kubectlcmd.GetLogVerbosity(os.Args)) //nolint:errcheck
	command := kubectlcmd.NewDefaultKubectlCommand()
	if err := cli.RunNoErrOutput(command); err != nil {
		kubectlutil.CheckErr(err)
	}
}

func usage() {
	names := []string{"kubectl"}
	for n := range components {
		names = append(names, n)
	}
	sort.Strings(names)
	fmt.Fprintln(os.Stderr, "usage: kube COMPONENT [flags]   (or invoke through a symlink named after the component)")
	fmt.Fprintln(os.Stderr, "components:")
	for _, n := range names {
		fmt.Fprintln(os.Stderr, "  "+n)
	}
}
