"""W1 client: one MLflow run logs METRICS metrics x STEPS steps with MlflowClient.log_batch
at its largest batch (1,000 metrics per call; each call is synchronous, so durable on return).
Prints one JSON line with the seconds from run creation to set_terminated returning.
Usage: python w1_mlflow.py TRACKING_URL EXPERIMENT STEPS METRICS
"""

import json
import random
import sys
import time

url, experiment, steps, metrics = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
from mlflow import MlflowClient  # noqa: E402
from mlflow.entities import Metric  # noqa: E402

MAX_BATCH = 1000
keys = [f"m{j}" for j in range(metrics)]
rng = random.Random(1)
t0 = time.perf_counter()
client = MlflowClient(tracking_uri=url)
exp = client.create_experiment(experiment)
run = client.create_run(exp, run_name="w1")
run_id = run.info.run_id
t_init = time.perf_counter()
batch: list[Metric] = []
for step in range(steps):
    ts = int(time.time() * 1000)
    batch.extend(Metric(k, rng.uniform(-3, 3), ts, step) for k in keys)
    while len(batch) >= MAX_BATCH:
        client.log_batch(run_id, metrics=batch[:MAX_BATCH])
        batch = batch[MAX_BATCH:]
if batch:
    client.log_batch(run_id, metrics=batch)
t_loop = time.perf_counter()
client.set_terminated(run_id)
t_end = time.perf_counter()
print(json.dumps({"init_s": t_init - t0, "loop_s": t_loop - t_init, "finish_s": t_end - t_loop,
                  "total_s": t_end - t0, "run_id": run_id}))
