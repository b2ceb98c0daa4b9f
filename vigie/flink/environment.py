"""One way to build a PyFlink environment, so every job runs with the same settings.

Python functions run in thread mode (PEMJA): on this project's 2-core machines it was an
order of magnitude faster than process mode for per-record Python operators (see
docs/performance.md), and every operator the jobs use is supported there.
"""

from __future__ import annotations

import os
import sys

from pyflink.common import Configuration
from pyflink.datastream import CheckpointingMode, StreamExecutionEnvironment

from vigie.config import Settings
from vigie.stack.flink import FlinkRuntime
from vigie.stack.process import StackError


def make_environment(settings: Settings, *, streaming: bool = True) -> StreamExecutionEnvironment:
    """A MiniCluster environment with the connector jars and thread-mode Python."""
    jars = FlinkRuntime(settings).jar_urls()
    if not jars:
        msg = "the Flink Kafka connector jar is missing; run `vigie stack up` first"
        raise StackError(msg)
    config = Configuration()
    config.set_string("python.execution-mode", "thread")
    # The interpreter running this job, not whatever `python` is first on PATH.
    config.set_string("python.executable", sys.executable)
    config.set_string("python.client.executable", sys.executable)
    # Thread mode embeds the base interpreter, which does not see a virtualenv's packages.
    config.set_string("python.pythonpath", os.pathsep.join(p for p in sys.path if p))
    config.set_string("pipeline.jars", ";".join(jars))
    config.set_string("python.fn-execution.bundle.size", "1000")
    config.set_string("python.fn-execution.bundle.time", "100")
    if settings.flink_embedded:  # MiniCluster only: a real cluster has its own
        config.set_string("taskmanager.memory.process.size", "1536m")
        config.set_string("rest.bind-port", "0")
    checkpoints = settings.flink_checkpoint_dir
    if checkpoints is None and settings.flink_embedded:
        # The MiniCluster's default, in memory, refuses state over 5 MB: fusion has more.
        checkpoints = settings.data_dir / "flink" / "checkpoints"
    if checkpoints is not None:
        config.set_string("execution.checkpointing.dir", checkpoints.as_uri())
        config.set_string(
            "execution.checkpointing.externalized-checkpoint-retention", "RETAIN_ON_CANCELLATION"
        )
        config.set_string("execution.checkpointing.num-retained", "2")
    if settings.flink_restore_from is not None:
        config.set_string("execution.state-recovery.path", settings.flink_restore_from.as_uri())
    env = StreamExecutionEnvironment.get_execution_environment(config)
    env.set_parallelism(settings.flink_parallelism)
    if streaming:
        env.enable_checkpointing(settings.flink_checkpoint_ms, CheckpointingMode.EXACTLY_ONCE)
    return env
