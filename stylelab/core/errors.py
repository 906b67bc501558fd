"""Errors that carry a message for the user: what was wrong and what to do."""


class StylelabError(ValueError):
    """Bad input or a missing resource. The message says what was wrong and what to do.

    The CLI prints it as one line (no traceback) and exits with status 2.
    """
