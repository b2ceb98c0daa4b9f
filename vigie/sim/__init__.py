"""The simulated city: a deterministic scenario generator and its file and Kafka adapters."""
