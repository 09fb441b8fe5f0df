"""Shared pieces of the benchmark and soak scripts: a private hub process,
fresh databases, and the memory and file-descriptor figures of a process
read from /proc."""
import os
import resource
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


TICK = os.sysconf("SC_CLK_TCK")


def _stat(pid):
    """(ppid, utime+stime, cutime+cstime) of process PID in seconds, from
    /proc/PID/stat; None when it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rpartition(")")[2].split()
    except OSError:
        return None
    # fields[0] is the state (field 3): utime is field 14, so fields[11]
    return (int(fields[1]), (int(fields[11]) + int(fields[12])) / TICK,
            (int(fields[13]) + int(fields[14])) / TICK)


def proc_cpu(pid):
    """CPU seconds (user + system, all threads) process PID has used."""
    st = _stat(pid)
    return st[1] if st else 0.0


def tree_cpu(root):
    """CPU seconds used by process ROOT and every process below it: each
    live one's own time plus what it collected from its reaped children
    (cutime, cstime), so processes that came and went count too."""
    children = {}
    stats = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            st = _stat(int(name))
            if st:
                stats[int(name)] = st
                children.setdefault(st[0], []).append(int(name))
    total, todo = 0.0, [root]
    while todo:
        pid = todo.pop()
        if pid in stats:
            total += stats[pid][1] + stats[pid][2]
            todo.extend(children.get(pid, ()))
    return total


def postmaster_pid(conn):
    """The postmaster of the cluster CONN is connected to (the parent of
    its backend); the cluster must run on this machine."""
    with conn.cursor() as cur:
        cur.execute("SELECT pg_backend_pid()")
        backend = cur.fetchone()[0]
    return _stat(backend)[0]


def children_cpu():
    """CPU seconds of this process's reaped children, as getrusage has them."""
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def load_average():
    with open("/proc/loadavg") as f:
        return tuple(float(x) for x in f.read().split()[:3])
