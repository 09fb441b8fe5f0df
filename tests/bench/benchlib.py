"""Shared pieces of the benchmark and soak scripts: a private hub process,
fresh databases, and the memory and file-descriptor figures of a process
read from /proc."""
import os
import resource
import shutil
import signal
import socket
import subprocess
import tempfile
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
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                # stuck (a correlation statement that does not end): no
                # hub is left behind
                self.proc.kill()
                self.proc.wait()
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


RABBIT_BIN = "/usr/lib/rabbitmq/bin"


class RabbitBroker:
    """A private RabbitMQ node for the broker design: run as the
    unprivileged user `rabbitmq` (when started as root), its own AMQP,
    Erlang distribution and epmd ports, its data, logs, configuration and
    cookie in a temporary directory. Returns once it accepts AMQP
    connections; stop() stops it, its epmd and the directory."""

    def __init__(self, timeout=120):
        self.dir = tempfile.mkdtemp(prefix="onenet-rabbit.")
        self.port, self.dist_port, self.epmd_port = free_port(), free_port(), free_port()
        self.node = f"onenet-bench-{self.port}@localhost"
        for sub in ("mnesia", "log"):
            os.mkdir(os.path.join(self.dir, sub))
        with open(os.path.join(self.dir, "rabbitmq.conf"), "w") as f:
            f.write("listeners.tcp.default = %d\n" % self.port
                    + "loopback_users.guest = true\n"
                    + "disk_free_limit.absolute = 50MB\n")
        with open(os.path.join(self.dir, "enabled_plugins"), "w") as f:
            f.write("[].\n")
        open(os.path.join(self.dir, "rabbitmq-env.conf"), "w").close()
        self.env = dict(os.environ,
                        HOME=self.dir,
                        RABBITMQ_NODENAME=self.node,
                        RABBITMQ_NODE_IP_ADDRESS="127.0.0.1",
                        RABBITMQ_NODE_PORT=str(self.port),
                        RABBITMQ_DIST_PORT=str(self.dist_port),
                        ERL_EPMD_PORT=str(self.epmd_port),
                        ERL_EPMD_ADDRESS="127.0.0.1",
                        RABBITMQ_MNESIA_BASE=os.path.join(self.dir, "mnesia"),
                        RABBITMQ_LOG_BASE=os.path.join(self.dir, "log"),
                        RABBITMQ_CONFIG_FILE=os.path.join(self.dir, "rabbitmq.conf"),
                        RABBITMQ_CONF_ENV_FILE=os.path.join(self.dir, "rabbitmq-env.conf"),
                        RABBITMQ_ENABLED_PLUGINS_FILE=os.path.join(self.dir, "enabled_plugins"),
                        RABBITMQ_PID_FILE=os.path.join(self.dir, "rabbitmq.pid"))
        self.user = []
        if os.geteuid() == 0:
            subprocess.run(["chown", "-R", "rabbitmq:rabbitmq", self.dir], check=True)
            self.user = ["setpriv", "--reuid", "rabbitmq", "--regid", "rabbitmq",
                         "--init-groups"]
        self.log = open(os.path.join(self.dir, "server.out"), "w")
        self.proc = subprocess.Popen(self.user + [os.path.join(RABBIT_BIN, "rabbitmq-server")],
                                     env=self.env, stdout=self.log, stderr=subprocess.STDOUT,
                                     start_new_session=True, cwd=self.dir)
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                break
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return
            except OSError:
                time.sleep(0.2)
        out = open(os.path.join(self.dir, "server.out")).read()[-2000:]
        self.stop()
        raise RuntimeError(f"RabbitMQ node {self.node} did not start within {timeout} s:\n{out}")

    @property
    def pid(self):
        return self.proc.pid

    def ctl(self, *argv, timeout=60):
        return subprocess.run(self.user + [os.path.join(RABBIT_BIN, "rabbitmqctl"), "-n",
                                           self.node, *argv], env=self.env, timeout=timeout,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)

    def stop(self):
        if self.proc.poll() is None:
            try:
                self.ctl("stop", timeout=60)
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                pass
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        # the epmd the node started on its private port
        subprocess.run(self.user + ["epmd", "-port", str(self.epmd_port), "-kill"],
                       env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)
