"""The command center: operators watch incidents live and acknowledge them.

Pure parts (filters, the board of current incidents, access decisions, acknowledgement
validation, the views shown in the terminal and the page) live in small modules with no I/O,
so they are unit-tested without a broker. The adapters (``kafka_io`` for the consumer loop
and the acks producer, ``server`` for the ASGI app and its Server-Sent Events, ``watch`` for
the terminal) stay thin over them.
"""
