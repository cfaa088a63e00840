module gantry.dev/hack/cluster/cni

go 1.22
