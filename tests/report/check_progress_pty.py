#!/usr/bin/env python3
"""The progress line as a terminal sees it. Runs a program with stderr on a
pseudo-terminal and checks that the line is redrawn in place (carriage
returns, no newline, clear-to-end-of-line), that it shows a percentage,
that the last thing written clears the line, and that the program writes
nothing to stderr when it is a pipe, or with --quiet.

Usage: check_progress_pty.py PROGRESS_DEMO_BINARY
   or: check_progress_pty.py --command CMD... (any program whose progress
       line goes to stderr; its own stdout is ignored)
   or: check_progress_pty.py --silent-command CMD... (must write nothing
       to stderr although it is a terminal, e.g. with --quiet)"""
import os
import pty
import subprocess
import sys
import time

failures = []


def check(condition, message):
    if not condition:
        failures.append(message)


def run_on_pty(command, columns=100):
    """Runs command with stderr (only) on a pty; returns the bytes written."""
    master, slave = pty.openpty()
    import fcntl, struct, termios
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, columns, 0, 0))
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL,
                               stderr=slave, stdin=subprocess.DEVNULL)
    os.close(slave)
    output = b""
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:  # EIO: the slave side is closed
            break
        if not chunk:
            break
        output += chunk
    process.wait()
    os.close(master)
    return process.returncode, output


def check_terminal_output(name, code, output, columns):
    check(code == 0, "%s: exit status %d" % (name, code))
    check(output.count(b"\r") >= 3,
          "%s: %d carriage returns, expected redraws" % (name, output.count(b"\r")))
    check(b"\n" not in output, "%s: a newline on the progress line" % name)
    check(b"%" in output and b"ETA" in output, "%s: no percentage/ETA" % name)
    check(output.endswith(b"\r\x1b[K"),
          "%s: does not end by clearing the line: %r" % (name, output[-20:]))
    # Every redraw fits the terminal (width - 1 visible characters).
    for part in output.split(b"\r"):
        visible = part.replace(b"\x1b[K", b"")
        check(len(visible) <= columns - 1,
              "%s: a line of %d characters on %d columns" % (name, len(visible), columns))


def main():
    if sys.argv[1] == "--silent-command":
        command = sys.argv[2:]
        code, output = run_on_pty(command, 100)
        check(code == 0 and output == b"",
              "%s: exit %d, wrote %r" % (" ".join(command), code, output[:60]))
    elif sys.argv[1] == "--command":
        command = sys.argv[2:]
        code, output = run_on_pty(command, 100)
        check_terminal_output(" ".join(command), code, output, 100)
    else:
        demo = sys.argv[1]
        # 4 threads x 60 steps x 10 ms: about 0.6 s, several redraws.
        for columns in (100, 40):
            code, output = run_on_pty([demo, "4", "60", "10000"], columns)
            check_terminal_output("demo on %d columns" % columns, code, output,
                                  columns)
        code, output = run_on_pty([demo, "4", "60", "10000", "--quiet"])
        check(code == 0 and output == b"",
              "--quiet: wrote %r to the terminal" % output[:40])
        result = subprocess.run([demo, "4", "30", "10000"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        check(result.returncode == 0 and result.stderr == b""
              and result.stdout == b"done\n",
              "stderr a pipe: wrote %r" % result.stderr[:40])
    for failure in failures:
        print("FAIL:", failure)
    print("progress line: %d checks failed" % len(failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
