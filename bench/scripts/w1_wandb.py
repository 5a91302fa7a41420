"""W1 client: one run logs METRICS metrics x STEPS steps with the official wandb client.

Run as a subprocess (online against Runyard, or WANDB_MODE=offline as the baseline).
Prints one JSON line: seconds from wandb.init to finish() returning (durable), split up.
Usage: python w1_wandb.py PROJECT RUN_ID STEPS METRICS
"""

import json
import random
import sys
import time

project, run_id, steps, metrics = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
import wandb  # noqa: E402

keys = [f"m{j}" for j in range(metrics)]
rng = random.Random(1)
t0 = time.perf_counter()
run = wandb.init(project=project, entity="admin", id=run_id, name=run_id,
                 config={"steps": steps, "metrics": metrics})
t_init = time.perf_counter()
for _ in range(steps):
    run.log({k: rng.uniform(-3, 3) for k in keys})
t_loop = time.perf_counter()
run.finish()
t_end = time.perf_counter()
print(json.dumps({"init_s": t_init - t0, "loop_s": t_loop - t_init, "finish_s": t_end - t_loop,
                  "total_s": t_end - t0}))
