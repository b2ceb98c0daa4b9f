"""The pure core: event model, geometry, linking, rules and serde. No I/O, no services."""
