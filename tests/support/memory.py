"""Peak resident memory (VmHWM) of running processes, read from /proc (Linux)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path


def peak_memory_mb(pids: Mapping[str, int]) -> dict[str, float]:
    """VmHWM (the peak resident memory since the process started) of each named process, in MB;
    a process that is gone (or a kernel thread, without the line) is left out."""
    peaks = {}
    for name, pid in pids.items():
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except FileNotFoundError:
            continue
        for line in status.splitlines():
            if line.startswith("VmHWM:"):
                peaks[name] = round(int(line.split()[1]) / 1024, 1)
    return peaks
