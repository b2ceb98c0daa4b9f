"""Quality measurement: fusion against the simulator's ground truth, beside a baseline."""
