"""The ``ovn-inject`` program: the CLI in this process, or a thin client of ``ovn-inject --detach``.

With ``$OVN_INJECT_DAEMON`` set (the control socket ``ovn-inject --detach``
printed), a call sends its arguments, environment and working directory to
that daemon, which runs the command in its warm process (see
:mod:`ovn_inject.cli.server`), then prints what the command printed and exits
with its status: ``ovn-nbctl``'s daemon mode (``OVN_NB_DAEMON``). This module
decides that before anything heavy is imported (click, the CLI's commands): a
scripted call then costs the interpreter's start and one round trip.

Without a daemon, ``flow-add`` (what a script calls once per flow) runs without
click (:mod:`ovn_inject.direct.dispatch`) unless it is a call that module leaves
to click.

Commands that do not run in the daemon (the daemons, the sandbox, deployment,
``--detach`` itself) are sent back, and run here as without it.
"""

from __future__ import annotations

import _socket  # the socket module's C core (see _call)
import os
import sys

from ovn_inject.cjson import dumps, value_at  # json without the json module (see cjson)
from ovn_inject.constants import DAEMON_ENV

TYPE_CHECKING = False  # typing's own costs an import this module avoids
if TYPE_CHECKING:
    from typing import Any

#: The daemon's control command for this client: one JSON request, one JSON reply.
RUN_JSON = "run-json"
#: The command run without click when no daemon runs it (:mod:`ovn_inject.direct.dispatch`).
DIRECT = "flow-add"


def main(prog_name: str | None = None) -> None:
    """The console entry point (``ovn-inject``) and ``python -m ovn_inject``."""
    path = os.environ.get(DAEMON_ENV)
    if path:
        status = _through_daemon(path, sys.argv[1:])
        if status is not None:
            sys.exit(status)
    elif DIRECT in sys.argv:
        from ovn_inject.direct.dispatch import run

        status = run(sys.argv[1:])
        if status is not None:
            _exit_uncollected(status)
    from ovn_inject.cli import main as app

    app(prog_name=prog_name)


def _exit_uncollected(status: int) -> None:
    """``sys.exit(status)`` without the garbage collection Python runs as it exits.

    That last collection runs even with the collector disabled, and visits every
    object the command made (some 11,000: modules, classes, the language's tables)
    to find no garbage, which the direct path makes none of: 1 ms of CPU, and 2-3 ms
    of a flow-add's wall time. Frozen (``gc.freeze``), they are out of its sight; the
    exit is otherwise Python's own (buffers flushed, atexit handlers run).
    """
    import gc

    gc.freeze()
    sys.exit(status)


def request(argv: list[str]) -> dict[str, object]:
    """What the daemon needs to run ``argv`` as this process would: environment, directory, umask.

    The terminal's size goes with them when stdout is one (the daemon's is not): tables are fit
    to it and help is wrapped to it, as in this process.
    """
    env = dict(os.environ)
    columns, lines = _positive(env.get("COLUMNS")), _positive(env.get("LINES"))
    if not (columns and lines):
        try:
            size = os.get_terminal_size(sys.__stdout__.fileno())  # type: ignore[union-attr]
        except (AttributeError, ValueError, OSError):
            pass
        else:
            if not columns:
                env["COLUMNS"] = str(size.columns)
            if not lines:
                env["LINES"] = str(size.lines)
    umask = os.umask(0o022)
    os.umask(umask)
    return {"argv": argv, "env": env, "cwd": os.getcwd(), "umask": umask}


def _positive(text: str | None) -> bool:
    try:
        return text is not None and int(text) > 0
    except ValueError:
        return False


def _through_daemon(path: str, argv: list[str]) -> int | None:
    """Run ``argv`` in the daemon and print its output; its exit status, or None to run it here."""
    try:
        target, sent = os.path.abspath(path), dumps(request(argv))
    except OSError:
        return None  # no working directory to run it in (removed): here, as it would run without a daemon
    try:
        reply = _loads(_call(target, RUN_JSON, sent))
    except _Failed as exc:
        sys.stderr.write(f"ovn-inject: {exc}\n")
        return 1
    except KeyboardInterrupt:
        # As click says it when interrupted; the daemon finishes the command.
        sys.stderr.write("\nAborted!\n")
        return 1
    if reply.get("local"):
        return None
    try:
        for fd, text in reply["output"]:
            stream = sys.stdout if fd == 1 else sys.stderr
            stream.write(text)
            stream.flush()
    except BrokenPipeError:
        # The reader went away (ovn-inject ... | head): quietly, as click does.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1
    return int(reply["status"])


class _Failed(Exception):
    pass


def _call(path: str, method: str, param: str) -> str:
    """One unixctl request (JSON-RPC on a unix socket) and its result, with the socket module alone.

    db.rpc's client would do, but its imports cost more than the request; so would the socket
    module's (enum, selectors, array: 5 ms): its C core has all a blocking client uses.
    """
    where = f"the ovn-inject daemon at {path} (${DAEMON_ENV})"
    sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
    try:
        try:
            _connect(sock, path)
        except OSError as exc:
            raise _Failed(f"cannot reach {where}: {exc.strerror or exc}") from None
        message = dumps({"method": method, "params": [param], "id": 0})
        data = bytearray()
        try:
            sock.sendall(message.encode())
            while True:
                chunk = sock.recv(1 << 20)
                if not chunk:
                    raise _Failed(f"lost {where}: it closed the connection (see its log)")
                data += chunk
                if not data.rstrip().endswith(b"}"):
                    continue  # not a whole message yet: a reply is one JSON object
                try:
                    reply = _loads(data.decode())
                except ValueError:
                    continue  # a "}" inside the text, not the end
                break
        except OSError as exc:
            raise _Failed(f"lost {where}: {exc.strerror or exc}") from None
    finally:
        sock.close()
    if reply.get("error") is not None:
        raise _Failed(f"{where} refused the request: {str(reply['error']).strip()}")
    return str(reply.get("result"))


def _connect(sock: _socket.socket, path: str) -> None:
    """Connect ``sock``; a path longer than a socket address holds goes through its directory's fd."""
    if len(os.fsencode(path)) < 108:
        sock.connect(path)
        return
    directory = os.open(os.path.dirname(path), os.O_RDONLY)
    try:
        sock.connect(f"/proc/self/fd/{directory}/{os.path.basename(path)}")
    finally:
        os.close(directory)


def _loads(text: str) -> dict[str, Any]:
    """One JSON object; ValueError on anything else (a partial message, another value)."""
    stripped = text.strip(" \t\n\r")
    found = value_at(stripped)
    if found is None or found[1] != len(stripped) or not isinstance(found[0], dict):
        raise ValueError("not one JSON object")
    return found[0]
