"""The optional peers of the benchmarks: which are installed, and how each is installed.

A peer is a module here (``torch_peer``, ``jax_peer``, ``autograd_peer``) with the same
interface: ``MODULE`` (what it imports), ``LABEL``, ``KINDS`` (the networks it can run),
``functions(kind, params)`` returning ``(step, input_grad)``, and ``overhead_chain``.
No peer library (torch, jax, autograd) is ever imported by the engine, the models or
the tests, nor by the benchmark's driver: each is imported only in the worker process
that times it. A peer that does not import is skipped with one line saying how to
install it.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

from . import autograd_peer, jax_peer, torch_peer

PEERS = {"torch": torch_peer, "jax": jax_peer, "autograd": autograd_peer}
ROOT = Path(__file__).resolve().parents[2]  #: the project's root, where workers run
EXTRAS = {"torch": ".[torch]", "jax": ".[jax]", "autograd": ".[autograd]"}


def probe(name: str):
    """``{"version": ..., "backend": ...}`` of the peer if it imports here, else None (never an error).

    The import is tried in a child process: this process (the benchmark's driver, or a
    test) never imports a peer, and an installation that fails to load counts as absent.
    ``backend`` is the peer's own account of what runs its arithmetic (its ``describe``).
    """
    peer = PEERS[name]
    if importlib.util.find_spec(peer.MODULE) is None:
        return None
    code = (f"import importlib.metadata, json; from {peer.__name__} import describe; "
            f"print(json.dumps({{'version': importlib.metadata.version({peer.MODULE!r}), 'backend': describe()}}))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    return json.loads(done.stdout.strip().splitlines()[-1]) if done.returncode == 0 else None


def installed() -> dict:
    """{peer name: {"version", "backend"} or None} for every peer, in a fixed order."""
    return {name: probe(name) for name in PEERS}


def skip_lines(peers: dict) -> list:
    """One line for each peer that is not installed, saying how to install it."""
    return [f"{PEERS[name].LABEL}: not installed, skipped (pip install -e \"{EXTRAS[name]}\")"
            for name, found in peers.items() if found is None]
