"""Adapters between the pure core and PyFlink: environment, sources, operators."""
