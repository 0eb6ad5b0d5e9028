"""Whether a process id still names a living process on this machine."""

from __future__ import annotations

import os


def pid_alive(pid: int) -> bool:
    """True while ``pid`` exists, even when it belongs to another user.

    Signal 0 checks existence without delivering anything; ``PermissionError`` means the process is
    there but not ours to signal, which still counts as alive.
    """
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
