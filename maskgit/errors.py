"""Exceptions raised by the library. The CLI turns each into a one-line message.

Every message says what is wrong and what to do about it, so that `str(error)` is enough for a user.
"""


class MaskGitError(Exception):
    """Base class of every error maskgit raises on purpose."""


class ConfigError(MaskGitError, ValueError):
    """A configuration value, preset name or argument is invalid."""


class CheckpointError(MaskGitError):
    """A checkpoint cannot be read, or does not fit the model it is loaded into."""


class InputError(MaskGitError, ValueError):
    """An input tensor or file has the wrong shape, range or type for the model it is given to."""


class DataError(MaskGitError):
    """A dataset cannot be found, fetched, read or split as asked."""


class TrainingError(MaskGitError):
    """Training cannot start or go on: a mismatched resume, diverging losses, a broken run folder."""


class MetricError(MaskGitError):
    """A score cannot be computed from the given images (too few, degenerate features)."""
