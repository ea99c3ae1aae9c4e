"""Errors a user can act on. The CLI prints their message, never a traceback."""

from __future__ import annotations


class CapplanError(Exception):
    """Base class: the message names what is wrong, where, expected versus found."""

    exit_code = 2


class ConfigError(CapplanError):
    pass


class InputError(CapplanError):
    """A file that cannot be loaded at all (unreadable, empty, wrong shape, missing column)."""

    def __init__(self, path: str, problem: str, *, expected: str | None = None, found: str | None = None):
        self.path = str(path)
        self.problem = problem
        self.expected = expected
        self.found = found
        msg = f"{self.path}: {problem}"
        if expected is not None:
            msg += f"; expected {expected}"
        if found is not None:
            msg += f", found {found}"
        super().__init__(msg)


class WarehouseLockedError(CapplanError):
    pass


class SeriesError(CapplanError):
    """A series cannot be used as asked (too short, NaN, unknown)."""


class ModelError(CapplanError):
    pass
