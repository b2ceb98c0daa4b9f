"""Deployable PyFlink entry points; each is a few lines over ``vigie.flink.pipeline``."""
