"""Run the official wandb client in a subprocess, isolated from the developer's own setup."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

from tests.e2e.server import ADMIN_KEY, RunyardServer

CLIENT_TIMEOUT = 240


def client_env(server: RunyardServer, home: Path, key: str = ADMIN_KEY,
               **extra: str) -> dict[str, str]:
    home.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("WANDB_")}
    env.update({
        "HOME": str(home),
        "WANDB_BASE_URL": server.url,
        "WANDB_API_KEY": key,
        "WANDB_DIR": str(home),
        "WANDB_CONFIG_DIR": str(home / ".config" / "wandb"),
        "WANDB_CACHE_DIR": str(home / ".cache" / "wandb"),
        "WANDB_DATA_DIR": str(home / ".local" / "wandb"),
        "WANDB_ERROR_REPORTING": "false",
        "NETRC": str(home / ".netrc"),
        "PYTHONUNBUFFERED": "1",
    })
    env.update(extra)
    return env


def run_script(source: str, env: dict[str, str], cwd: Path,
               timeout: float = CLIENT_TIMEOUT) -> subprocess.CompletedProcess[str]:
    """Run a Python script that uses ``import wandb``; it may write ``$OUT`` as JSON."""
    cwd.mkdir(parents=True, exist_ok=True)
    script = cwd / "script.py"
    script.write_text(textwrap.dedent(source))
    return subprocess.run([sys.executable, str(script)], cwd=cwd, env=env, text=True,
                          capture_output=True, timeout=timeout, check=False)


def start_script(source: str, env: dict[str, str], cwd: Path) -> subprocess.Popen[str]:
    cwd.mkdir(parents=True, exist_ok=True)
    script = cwd / "script.py"
    script.write_text(textwrap.dedent(source))
    return subprocess.Popen([sys.executable, str(script)], cwd=cwd, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            start_new_session=True)


def wandb_cli(args: list[str], env: dict[str, str], cwd: Path,
              timeout: float = CLIENT_TIMEOUT) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "wandb", *args], cwd=cwd, env=env, text=True,
                          capture_output=True, timeout=timeout, check=False)


def output_of(result: subprocess.CompletedProcess[str]) -> str:
    return f"exit {result.returncode}\n--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}"


def read_out(cwd: Path) -> Any:
    return json.loads((cwd / "out.json").read_text())
