"""Feed connectors: one pure parser per agency format, and the runtime that ships them."""
