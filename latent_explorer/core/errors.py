"""Errors that a user can cause and fix; the CLI prints them as one line and exits 2."""


class UserError(Exception):
    """A mistake in the user's input (a file, a value, a model spec).

    The message is shown to the user as it is, so it names the file or value and,
    where there is one, the remedy.
    """


class ModelLoadError(UserError):
    """A model spec that cannot be turned into a working model."""


class ImageLoadError(UserError):
    """An image file that cannot be read as an image."""


class Cancelled(Exception):
    """Raised inside long work when the caller asked it to stop."""
