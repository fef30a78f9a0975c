"""One family of errors for everything a user can get wrong.

The CLI turns any `IdaError` into one line and exit status 2; anything else is a bug.
"""


class IdaError(Exception):
    """A user-facing error: bad input, a malformed file, an unknown name."""
