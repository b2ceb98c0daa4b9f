"""The local stack: a real Kafka broker, ClickHouse server and Flink connector jars.

Nothing here is a mock. Each component is installed on first use from the package
registries (Maven Central for Kafka and the Flink jars, Debian for ClickHouse), then run as a
detached process on loopback with its files under ``Settings.data_dir``.
"""
