// Command gantry-neigh is a chained CNI plugin for the local cluster's pod
// bridge. It forgets the host's neighbour (ARP/NDP) entry for a pod's address
// when the pod is added and when it is deleted.
//
// Why: host-local IPAM hands out addresses round-robin and starts again from
// the bottom of the node's /24 after ~250 pods, so a new pod can get an
// address a dead pod had. The host keeps a REACHABLE neighbour entry for that
// address (tens of seconds, and renewed while TCP traffic is acknowledged), so
// everything the host sends to the new pod goes to the dead pod's MAC and is
// lost until the entry expires and is probed again: kubelet probes, Traefik
// and Prometheus (host processes), and Service IPs used from the host. The
// bridge plugin sends no gratuitous ARP to correct it.
//
// In the chain it comes after "bridge" (which creates the veth and address)
// and passes the previous result through unchanged. Configuration:
//
//	{ "type": "gantry-neigh", "bridge": "gantry-br0" }
package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strings"
)

type netConf struct {
	CNIVersion string          `json:"cniVersion"`
	Bridge     string          `json:"bridge"`
	PrevResult json.RawMessage `json:"prevResult,omitempty"`
}

type result struct {
	IPs []struct {
		Address string `json:"address"`
	} `json:"ips"`
}

func main() {
	var conf netConf
	cmd := os.Getenv("CNI_COMMAND")
	if cmd == "VERSION" {
		fmt.Print(`{"cniVersion":"1.0.0","supportedVersions":["0.4.0","1.0.0"]}`)
		return
	}
	raw, err := io.ReadAll(os.Stdin)
	if err == nil {
		err = json.Unmarshal(raw, &conf)
	}
	if err != nil {
		fail(conf.CNIVersion, 6, "gantry-neigh: reading the network configuration: "+err.Error())
	}
	if conf.Bridge == "" {
		fail(conf.CNIVersion, 7, `gantry-neigh: the configuration has no "bridge"`)
	}
	switch cmd {
	case "ADD":
		if len(conf.PrevResult) == 0 {
			fail(conf.CNIVersion, 7, "gantry-neigh: no prevResult; it must follow the bridge plugin in the chain")
		}
		if err := forget(conf); err != nil {
			fail(conf.CNIVersion, 999, err.Error())
		}
		os.Stdout.Write(conf.PrevResult)
	case "DEL":
		// Best effort: a DEL may come without a result, or after the bridge is gone.
		if err := forget(conf); err != nil {
			fmt.Fprintln(os.Stderr, err)
		}
	case "CHECK", "GC", "STATUS":
	default:
		fail(conf.CNIVersion, 4, fmt.Sprintf("gantry-neigh: unknown CNI_COMMAND %q", cmd))
	}
}

// forget deletes the bridge's neighbour entry for every address of the result.
func forget(conf netConf) error {
	if len(conf.PrevResult) == 0 {
		return nil
	}
	var res result
	if err := json.Unmarshal(conf.PrevResult, &res); err != nil {
		return fmt.Errorf("gantry-neigh: reading prevResult: %w", err)
	}
	for _, a := range res.IPs {
		ip, _, err := net.ParseCIDR(a.Address)
		if err != nil {
			return fmt.Errorf("gantry-neigh: address %q: %w", a.Address, err)
		}
		// "flush to" succeeds whether or not there is an entry.
		out, err := exec.Command(ipCommand(), "neigh", "flush", "to", ip.String(), "dev", conf.Bridge).CombinedOutput()
		if err != nil {
			return fmt.Errorf("gantry-neigh: ip neigh flush to %s dev %s: %v: %s", ip, conf.Bridge, err, strings.TrimSpace(string(out)))
		}
	}
	return nil
}

// ipCommand finds iproute2's ip; plugins may run with a minimal PATH.
func ipCommand() string {
	if p, err := exec.LookPath("ip"); err == nil {
		return p
	}
	for _, p := range []string{"/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip"} {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return "ip"
}

// fail prints a CNI error result and exits non-zero.
func fail(version string, code int, msg string) {
	if version == "" {
		version = "1.0.0"
	}
	b, _ := json.Marshal(map[string]any{"cniVersion": version, "code": code, "msg": msg})
	os.Stdout.Write(b)
	os.Exit(1)
}
