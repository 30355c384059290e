"""Server processes started by another (`manage.py start`, `manage.py dicomserver
--processes`) that stop when the one that started them dies."""

import ctypes
import signal
import subprocess

PR_SET_PDEATHSIG = 1  # linux/prctl.h


def _die_with_parent():
    """Run in the child before it starts: if its parent is killed outright (SIGKILL), the
    kernel sends it SIGTERM instead of leaving it orphaned."""
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except OSError:  # not Linux: the parent's own signal handlers still stop its children
        pass


def spawn(command, **options):
    """subprocess.Popen of a child that gets SIGTERM when this process dies."""
    return subprocess.Popen(command, preexec_fn=_die_with_parent, **options)
