#!/usr/bin/env python3
"""sockact.py — what systemd does for imggen-api.socket + imggen-api.service, for machines where
systemd is not PID 1 (containers, CI). Used by tests/install/test-e2e.sh only.

    sockact.py --listen PATH [--socket-user U] [--socket-group G] [--socket-mode 0660]
               [--directory-mode 0755] [--backlog N] [--pidfile FILE] [--stop-timeout S]
               [--restart-sec S] -- COMMAND [ARG...]

Like a socket unit with Accept=no: creates and listens on the unix socket PATH (parent directories
DirectoryMode=, then SocketUser=/SocketGroup=/SocketMode=), and keeps it for its whole life. Like
the service with StandardInput=socket: runs COMMAND with that listening socket as file descriptor 0,
stdout/stderr inherited (the caller's log stands in for the journal), in its own process group.

Signals to this process, standing in for systemctl:
  SIGHUP   `systemctl restart` of the service: stop it (below), then start a new one. The socket
           stays open in between, so connections made meanwhile wait in its backlog.
  SIGTERM  `systemctl stop` of the service and the socket: stop the service, remove the socket, exit 0.
Stopping is KillMode=mixed: SIGTERM to the main process only; after --stop-timeout seconds
(TimeoutStopSec=) SIGKILL to the whole process group. A main process that exits by itself is
started again after --restart-sec (Restart=always, RestartSec=).
The service's main pid is kept in --pidfile; events are logged on stderr as "sockact: ...".
"""
import argparse
import grp
import os
import pwd
import signal
import socket
import sys
import time


def log(msg):
    sys.stderr.write("sockact: %s\n" % msg)
    sys.stderr.flush()


def parse():
    p = argparse.ArgumentParser()
    p.add_argument("--listen", required=True)
    p.add_argument("--socket-user")
    p.add_argument("--socket-group")
    p.add_argument("--socket-mode", default="0666")
    p.add_argument("--directory-mode", default="0755")
    p.add_argument("--backlog", type=int, default=socket.SOMAXCONN)
    p.add_argument("--pidfile")
    p.add_argument("--stop-timeout", type=float, default=90.0)
    p.add_argument("--restart-sec", type=float, default=0.1)
    p.add_argument("command", nargs=argparse.REMAINDER)
    a = p.parse_args()
    if a.command and a.command[0] == "--":
        a.command = a.command[1:]
    if not a.command:
        p.error("no COMMAND")
    return a


def make_socket(a):
    parent = os.path.dirname(a.listen)
    if not os.path.isdir(parent):
        os.makedirs(parent, mode=int(a.directory_mode, 8))
        os.chmod(parent, int(a.directory_mode, 8))
    try:
        os.unlink(a.listen)
    except FileNotFoundError:
        pass
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(a.listen)
    s.listen(a.backlog)
    uid = pwd.getpwnam(a.socket_user).pw_uid if a.socket_user else -1
    gid = grp.getgrnam(a.socket_group).gr_gid if a.socket_group else -1
    os.chown(a.listen, uid, gid)
    os.chmod(a.listen, int(a.socket_mode, 8))
    s.set_inheritable(True)
    return s


class Service:
    def __init__(self, a, sock):
        self.a = a
        self.sock = sock
        self.pid = 0

    def start(self):
        pid = os.fork()
        if pid == 0:
            try:
                os.setpgid(0, 0)
                os.dup2(self.sock.fileno(), 0)
                if self.sock.fileno() != 0:
                    os.close(self.sock.fileno())
                signal.signal(signal.SIGHUP, signal.SIG_DFL)
                signal.signal(signal.SIGTERM, signal.SIG_DFL)
                signal.pthread_sigmask(signal.SIG_SETMASK, [])
                os.execvp(self.a.command[0], self.a.command)
            except Exception as e:  # exec failed
                sys.stderr.write("sockact: exec %s: %s\n" % (self.a.command[0], e))
            os._exit(127)
        self.pid = pid
        if self.a.pidfile:
            with open(self.a.pidfile + ".tmp", "w") as f:
                f.write("%d\n" % pid)
            os.rename(self.a.pidfile + ".tmp", self.a.pidfile)
        log("started %s (pid %d)" % (self.a.command[0], pid))

    def reap(self, block=False):
        """Returns the exit status of the main process if it exited, else None."""
        if not self.pid:
            return None
        try:
            pid, st = os.waitpid(self.pid, 0 if block else os.WNOHANG)
        except ChildProcessError:
            pid, st = self.pid, 0
        if pid == 0:
            return None
        self.pid = 0
        return st

    def group_alive(self, pgid):
        try:
            os.killpg(pgid, 0)
            return True
        except ProcessLookupError:
            return False

    def stop(self):
        if not self.pid:
            return
        pgid = self.pid
        t0 = time.monotonic()
        log("stopping pid %d (SIGTERM to the main process)" % pgid)
        os.kill(self.pid, signal.SIGTERM)
        deadline = t0 + self.a.stop_timeout
        st = None
        while time.monotonic() < deadline:
            if st is None:
                st = self.reap()
            if st is not None and not self.group_alive(pgid):
                break
            time.sleep(0.02)
        else:
            log("stop timed out after %.0f s: SIGKILL to process group %d" % (self.a.stop_timeout, pgid))
            try:
                os.killpg(pgid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            if st is None:
                st = self.reap(block=True)
        self.pid = 0
        log("stopped in %.2f s, %s" % (time.monotonic() - t0, describe(st)))


def describe(st):
    if st is None:
        return "status unknown"
    if os.WIFEXITED(st):
        return "exit status %d" % os.WEXITSTATUS(st)
    if os.WIFSIGNALED(st):
        return "killed by signal %d" % os.WTERMSIG(st)
    return "status %d" % st


def main():
    a = parse()
    pending = []
    signal.signal(signal.SIGHUP, lambda s, f: pending.append("restart"))
    signal.signal(signal.SIGTERM, lambda s, f: pending.append("stop"))
    signal.signal(signal.SIGINT, lambda s, f: pending.append("stop"))
    sock = make_socket(a)
    log("listening on %s" % a.listen)
    svc = Service(a, sock)
    svc.start()
    restart_at = None
    while True:
        while pending:
            what = pending.pop(0)
            if what == "restart":
                log("restart requested")
                svc.stop()
                svc.start()
                restart_at = None
            else:
                svc.stop()
                sock.close()
                try:
                    os.unlink(a.listen)
                except FileNotFoundError:
                    pass
                log("socket removed; exiting")
                return 0
        st = svc.reap()
        if st is not None:
            log("main process exited: %s; restarting in %.1f s" % (describe(st), a.restart_sec))
            restart_at = time.monotonic() + a.restart_sec
        if restart_at is not None and time.monotonic() >= restart_at:
            restart_at = None
            svc.start()
        time.sleep(0.05)


if __name__ == "__main__":
    sys.exit(main())
