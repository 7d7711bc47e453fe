"""``python -m ws2core demo``: it runs end to end and says what it shows.

The demo's last part serves echo clients through ws2core.provider on 127.0.0.1 from a thread;
its exit status is 1 if a handle leaked or the server thread did not finish, so these tests
hold the demo to the checks it prints.
"""

from __future__ import annotations

import re
import threading

import pytest

from ws2core.__main__ import main


def test_demo_serves_every_client_and_leaks_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    before = threading.active_count()
    assert main(["demo"]) == 0
    out = capsys.readouterr().out
    for name in ("alpha", "beta", "gamma"):
        # the client read back its own message, and the server logged echoing it
        assert re.search(rf"WSPRecv  ->  b'hello from {name}'", out), name
        assert f"WSPRecv b'hello from {name}', WSPSend it back" in out
    assert out.count("server: FD_ACCEPT") == 3
    assert out.count("server: FD_CLOSE on") == 3
    assert "(iErrorCode 0)" in out                         # graceful closes
    assert "err = WSAEWOULDBLOCK" in out                    # the non-blocking connect
    assert "the stop event is set: done" in out
    # The policy's record: the listener's bind and each client's connect, with the bytes
    # each echo carried both ways ("hello from beta" is the 15-byte one).
    assert out.count("bind tcp 127.0.0.1:<port>  allowed") == 1
    assert out.count("connect tcp 127.0.0.1:<port>  allowed, 16 bytes sent, 16 received") == 2
    assert out.count("connect tcp 127.0.0.1:<port>  allowed, 15 bytes sent, 15 received") == 1
    assert out.rstrip().endswith("no leaked handle")
    assert threading.active_count() == before               # server and reactor both ended


def test_help_lists_both_commands(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert "demo" in out and "bench" in out


@pytest.mark.parametrize("command", [[], ["demo"], ["bench"], ["run"]],
                         ids=["main", "demo", "bench", "run"])
@pytest.mark.parametrize("columns", [60, 80, 120])
def test_help_wraps_to_the_terminal(
    command: list[str], columns: int, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Every --help fits the terminal (argparse reads COLUMNS), and uses its width: it is
    wrapped there, not written at a fixed width."""
    monkeypatch.setenv("COLUMNS", str(columns))
    with pytest.raises(SystemExit) as exit_info:
        main([*command, "--help"])
    assert exit_info.value.code == 0
    lines = capsys.readouterr().out.splitlines()
    widest = max(lines, key=len)
    assert len(widest) <= columns, widest
    if columns > 80:
        assert len(widest) > 80
    if command == ["bench"]:
        # The list of sections and the examples keep a line each, however narrow.
        for n in range(1, 8):
            assert any(line.startswith(f"  {n}. ") for line in lines), n
        assert "  python benchmarks/check.py results.json" in lines


def test_demo_steps_read_in_order(capsys: pytest.CaptureFixture[str]) -> None:
    """Step 8 starts a new table right after step 7 shows closed values staying dead, so it
    says so before its first handle, else that handle (0x4 again) reads as s1's value reused."""
    assert main(["demo"]) == 0
    out = capsys.readouterr().out
    assert re.findall(r"^(\d+)\. ", out, re.M) == [str(n) for n in range(1, 12)]
    walk, provider = out.split("\n8. ")
    assert "a closed value stays dead" in walk
    # The first part ends with its table empty: s4, made in step 7, is closed in sight too.
    assert "WPUCloseSocketHandle(s4, err)  ->  0" in walk
    s1 = re.search(r"s1 = WPUCreateSocketHandle\(.*\)  ->  (0x[0-9a-f]+)", walk)
    assert s1
    before_listener, _, after = provider.partition("\n     listener ")
    assert before_listener.splitlines()[0].endswith("on a new table:")
    assert "up = ws2core.UpcallTable()  ->  <UpcallTable over <HandleTable 0 sockets" in (
        before_listener
    )
    claimed = re.search(
        r"start again at (0x[0-9a-f]+):\n.*'s \1 below is not s1 reused", before_listener
    )
    assert claimed and claimed.group(1) == s1.group(1)
    assert after.startswith(f"{s1.group(1)}: WSPSocket")  # as said: s1's value, in a new table
