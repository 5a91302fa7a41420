"""A run long enough to be sealed reads back exactly through the wandb client.

Once 1,024 lines wait, the server seals them into chunks and stores the segments holding
them against the chunks' values (each noisy value once). Here the official client logs
3,000 steps of values in every shape a training log has (noise of 17 digits, small numbers
the client writes with an exponent, negative numbers, integers, keys with digits, a metric
that comes and goes), and ``scan_history`` returns each row as it was logged.
"""

from __future__ import annotations

import sqlite3
import uuid
from pathlib import Path

import pytest

from tests.e2e.client import client_env, output_of, read_out, run_script
from tests.e2e.compare import same
from tests.e2e.server import RunyardServer

pytestmark = pytest.mark.e2e

STEPS = 3000

SCRIPT = """
import json, os, random
import wandb

rng = random.Random(7)
run = wandb.init(project=os.environ["PROJECT"], entity="admin", id=os.environ["RUN_ID"])
logged = []
for i in range(int(os.environ["STEPS"])):
    row = {"loss": 2.5 / (1 + i) ** 0.5 + rng.gauss(0, 0.05),
           "lr": 3e-4 * rng.random() ** 4,
           "delta": rng.gauss(0, 1) * 10 ** rng.randint(-8, 8),
           "epoch": i // 700,
           "layer1/grad": rng.random()}
    if i % 3 == 0:
        row["sparse"] = rng.random()
    run.log(row)
    logged.append(dict(row, _step=i))
run.finish()
api = wandb.Api()
scanned = list(api.run(f"admin/{os.environ['PROJECT']}/{os.environ['RUN_ID']}").scan_history())
json.dump({"logged": logged, "scanned": scanned}, open("out.json", "w"))
"""


def test_a_sealed_run_scans_back_exactly(server: RunyardServer, home: Path,
                                         tmp_path: Path) -> None:
    project, run_id = f"sealed-{uuid.uuid4().hex[:6]}", uuid.uuid4().hex[:8]
    env = client_env(server, home, PROJECT=project, RUN_ID=run_id, STEPS=str(STEPS))
    result = run_script(SCRIPT, env, tmp_path / "client")
    assert result.returncode == 0, output_of(result)
    out = read_out(tmp_path / "client")
    logged, scanned = out["logged"], out["scanned"]
    assert len(scanned) == STEPS
    for got, want in zip(scanned, logged, strict=True):
        user = {k: v for k, v in got.items() if k == "_step" or not k.startswith("_")}
        assert same(user, want), (got, want)
    with sqlite3.connect(server.data_dir / "runyard.db") as db:
        forms = dict(db.execute(
            "SELECT s.form, count(*) FROM history_segments s JOIN runs r ON r.id = s.run_id "
            "WHERE r.name = ? GROUP BY s.form", (run_id,)).fetchall())
    assert forms.get(2, 0) >= 1, forms  # stored against the chunks' values
