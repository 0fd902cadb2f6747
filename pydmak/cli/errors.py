"""The command line's own error: a request it cannot carry out."""

__all__ = ["CommandError"]


class CommandError(Exception):
    """The command cannot do what was asked (exit status 1); the text is
    the one line printed on stderr."""
