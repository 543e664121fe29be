"""What every benchmark here shares: one process per measurement, and a header naming the machine.

Each measurement runs in a fresh Python process of its own (``in_own_process``): BLAS
thread pools, allocator state and caches left by one implementation would otherwise
slow down or speed up the next. The header (``environment``) names what decides the
numbers: Python, NumPy, the BLAS library with its kernel and thread count
(threadpoolctl, when installed), and the ``OPENBLAS_CORETYPE`` and ``OPENBLAS_L2_SIZE``
variables, which on some machines slow sgemm about 1.6x: compare ratios within one
setting, never times across machines.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
from pathlib import Path

import numpy as np

from models.io import atomic_write_text

from .adapters.peer_libraries import PEERS, ROOT, installed


def in_own_process(module: str, arguments: list) -> dict:
    """Run ``python -m module *arguments`` from the project root; return the JSON object its last line prints."""
    done = subprocess.run([sys.executable, "-m", module, *arguments], cwd=ROOT, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"worker {module} {' '.join(arguments)} failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def cpu_model() -> str:
    """The processor's name as Linux reports it (``model name`` in /proc/cpuinfo), else what ``platform`` says."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def environment(peers: bool = True) -> dict:
    """Versions, CPUs, the OpenBLAS variables and each BLAS library loaded, with its kernel and threads;
    with ``peers``, which peer libraries import and what runs their arithmetic (a child process each)."""
    env = {"python": sys.version.split()[0], "numpy": np.__version__, "peers": installed() if peers else {}}
    env["cpus"] = os.cpu_count()
    env["cpu"] = cpu_model()
    env.update({name: os.environ.get(name) for name in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")})
    try:
        from threadpoolctl import threadpool_info
    except ImportError:  # NumPy's build information: the library, but not the kernel in use
        blas = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
        keys = ("name", "version", "openblas configuration")
        env["blas"] = [{"source": "numpy.show_config (pip install threadpoolctl for the kernel in use)",
                        **{k: blas[k] for k in keys if k in blas}}]
        return env
    keys = ("internal_api", "version", "architecture", "corrupt", "num_threads")
    env["blas"] = [  # NumPy's own BLAS, and the copy scipy (imported by minigrad) loads
        {"library": "/".join(Path(pool["filepath"]).parts[-2:]), **{k: pool[k] for k in keys if k in pool}}
        for pool in threadpool_info()
        if pool["user_api"] == "blas"
    ]
    return env


def environment_lines(env: dict) -> list:
    """The environment as report lines: versions, CPUs, the OpenBLAS variables and each BLAS in use."""
    peers = "".join(f", {PEERS[name].LABEL} {found['version']} ({found['backend']})" for name, found in env["peers"].items() if found)
    lines = [f"Python {env['python']}, NumPy {env['numpy']}{peers}, "
             f"{env['cpus']} CPUs ({env.get('cpu', 'unknown')}), OPENBLAS_CORETYPE={env['OPENBLAS_CORETYPE']}, "
             f"OPENBLAS_L2_SIZE={env['OPENBLAS_L2_SIZE']}"]
    return lines + ["BLAS: " + ", ".join(f"{k}={v}" for k, v in pool.items()) for pool in env["blas"]]


def write_json(path: Path, data: dict) -> None:
    """``data`` as indented JSON at ``path``, written atomically."""
    atomic_write_text(path, json.dumps(data, indent=2))
