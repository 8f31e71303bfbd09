"""The one exception type the CLI turns into a one-line message and exit code 1."""


class BgsubError(Exception):
    """An expected failure (bad input, missing file, ...). The message is shown to the user as is."""


class NotImplementedYet(BgsubError):
    """A command whose work lands in a later issue."""
