"""Shared pieces of the benchmark and soak scripts: a private hub process,
fresh databases, and the memory and file-descriptor figures of a process
read from /proc."""
import os
import socket
import subprocess
import time


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def with_db(conninfo, dbname):
    """The conninfo URI pointed at another database."""
    base, _, _ = conninfo.rpartition("/")
    return f"{base}/{dbname}"


def fresh_db(admin, name):
    with admin.cursor() as cur:
        cur.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        cur.execute(f"CREATE DATABASE {name}")


def proc_memory(pid):
    """(VmRSS, VmHWM) of process PID in KiB, from /proc/PID/status."""
    rss = hwm = 0
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1])
            elif line.startswith("VmHWM:"):
                hwm = int(line.split()[1])
    return rss, hwm


def proc_fds(pid):
    """Number of open file descriptors of process PID."""
    return len(os.listdir(f"/proc/{pid}/fd"))


def mib(kib):
    return kib / 1024.0


class Hub:
    """onenet-hub on a free loopback port, logging to WORKDIR; returns once
    its store is available."""

    def __init__(self, build, conninfo, workdir, extra=(), hub_id="bench-hub"):
        self.port = free_port()
        self.endpoint = f"tcp://127.0.0.1:{self.port}"
        self.log_path = os.path.join(workdir, f"hub-{self.port}.log")
        self.log = open(self.log_path, "w")
        self.proc = subprocess.Popen(
            [os.path.join(build, "onenet-hub"), "--db", conninfo, "--listen",
             self.endpoint, "--hub-id", hub_id, "--insecure", *extra],  # loopback only
            stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.time() + 30
        while time.time() < deadline:
            with open(self.log_path) as f:
                if "store available" in f.read():
                    return
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        raise RuntimeError(f"hub did not start, see {self.log_path}")

    @property
    def pid(self):
        return self.proc.pid

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=30)
        self.log.close()
