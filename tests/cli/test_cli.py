"""The ``signoff`` command: ``serve`` and ``tenants create``, run as real subprocesses."""

from __future__ import annotations

import os
import queue
import re
import signal
import stat
import subprocess
import sys
import threading
import time

import httpx

_LISTENING = re.compile(r"listening on (http://\S+)")


def _run(*args: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "signoff", *args], capture_output=True, text=True, timeout=timeout
    )


class _Serve:
    """``signoff serve`` in a subprocess; its output is read on a thread with deadlines.

    Used as a context manager: leaving the block stops the server (killing it if SIGTERM
    does not) and records its exit status in `returncode`, without raising, so a failure
    inside the block is the one reported. Check `returncode` after the block.
    """

    def __init__(self, *args: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "signoff", "serve", "--port", "0", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        self.lines: queue.Queue[str | None] = queue.Queue()
        self._pump_thread = threading.Thread(target=self._pump, daemon=True)
        self._pump_thread.start()
        self.returncode: int | None = None

    def __enter__(self) -> _Serve:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.returncode = self.stop()

    def _pump(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(line)
        self.lines.put(None)

    def until_listening(self, timeout: float = 20) -> tuple[str, list[str]]:
        deadline = time.monotonic() + timeout
        seen: list[str] = []
        while True:
            line = self.lines.get(timeout=max(0.0, deadline - time.monotonic()))
            assert line is not None, f"serve exited early: {seen}"
            seen.append(line)
            match = _LISTENING.search(line)
            if match:
                return match.group(1), seen

    def stop(self) -> int:
        """SIGTERM, then the exit status (a kill's, if the server did not exit in time)."""
        self.process.send_signal(signal.SIGTERM)
        try:
            code = self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            code = self.process.wait(timeout=5)
        self._pump_thread.join(timeout=5)  # it reads to EOF, which follows the exit
        if self.process.stdout is not None:
            self.process.stdout.close()
        return code


def test_help_works() -> None:
    result = _run("--help")
    assert result.returncode == 0
    assert "serve" in result.stdout
    assert "tenants" in result.stdout


def test_serve_creates_an_admin_key_once_and_it_works(tmp_path) -> None:
    db = tmp_path / "cli.db"
    key_file = tmp_path / "admin.key"
    with _Serve("--db", str(db), "--admin-key-file", str(key_file)) as first:
        url, first_output = first.until_listening()
        key = key_file.read_text().strip()
        response = httpx.get(f"{url}/v1/api-keys", headers={"Authorization": f"Bearer {key}"})
    with _Serve("--db", str(db)) as second:
        _, second_output = second.until_listening()
    assert stat.S_IMODE(os.stat(key_file).st_mode) == 0o600
    assert any(key in line for line in first_output)
    assert response.status_code == 200
    assert not any("sgn_live_" in line for line in second_output)
    assert (first.returncode, second.returncode) == (0, 0)  # SIGTERM is a clean exit


def test_tenants_create_prints_the_key_alone_on_the_last_line(tmp_path) -> None:
    db = str(tmp_path / "tenants.db")
    result = _run("tenants", "create", "acme", "--db", db)
    assert result.returncode == 0
    last = result.stdout.strip().splitlines()[-1]
    assert re.fullmatch(r"sgn_live_[0-9A-Za-z]{12}_[0-9A-Za-z]{43}", last)
    again = _run("tenants", "create", "acme", "--db", db)
    assert again.returncode == 1
    assert "exists" in again.stderr
