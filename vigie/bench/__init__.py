"""``vigie bench``: the whole pipeline measured on the local stack (see docs/performance.md)."""
