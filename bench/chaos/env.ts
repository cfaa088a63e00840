// Imported first by run.ts: the agent's modules (loaded through the fault definitions) read
// the host's cgroup mount when they load; the bench runs on the node itself, where it is
// /sys/fs/cgroup (the helper pod mounts it at /host/sys/fs/cgroup).
process.env.GANTRY_HOST_CGROUP ??= '/sys/fs/cgroup';
