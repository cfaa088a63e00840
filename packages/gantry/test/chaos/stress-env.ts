// Imported first by the stress and process tests: the agent's modules read the host's
// cgroup mount from GANTRY_HOST_CGROUP when they load (the helper pod mounts it at
// /host/sys/fs/cgroup; these tests run on the node itself).
process.env.GANTRY_HOST_CGROUP ??= '/sys/fs/cgroup';
