"""The one exception family users see: its message says what went wrong and what to do."""


class VigieError(Exception):
    """An error meant for the person at the terminal, printed without a stack trace."""
