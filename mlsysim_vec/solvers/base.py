"""What every resolver shares: argument handling, the grid, the ``Result``."""

from __future__ import annotations

from ..grid import Arg, Grid, build_grid
from ..result import Result

__all__ = ["Resolver"]


class Resolver:
    """A stateless resolver: ``solve(**kwargs)`` is a pure function of its arguments.

    Subclasses declare ``ARGS`` (a tuple of ``grid.Arg``) and implement ``_compute(grid)``,
    returning a dict of output arrays laid out on the grid. Every argument may be a scalar, a
    sequence (a new dimension named after the keyword), a DataArray (its own dimensions) or a
    registry family. ``chunks`` (``{dim: size}`` or ``"auto"``) makes the outputs lazy dask
    arrays chunked along those dimensions.
    """

    ARGS: tuple[Arg, ...] = ()

    def solve(self, *args, chunks=None, **kwargs) -> Result:
        grid = self.grid(*args, chunks=chunks, **kwargs)
        return Result.from_arrays(type(self).__name__, grid, self._compute(grid))

    def grid(self, *args, chunks=None, **kwargs) -> Grid:
        """Validate and align the arguments without computing (used by sweeps and tests)."""
        name = type(self).__name__
        if len(args) > len(self.ARGS):
            raise TypeError(f"{name}.solve() takes at most {len(self.ARGS)} positional arguments")
        positional = dict(zip([a.name for a in self.ARGS], args))
        for key in positional.keys() & kwargs.keys():
            raise TypeError(f"{name}.solve() got multiple values for argument {key!r}")
        kwargs = positional | kwargs
        grid = build_grid(self.ARGS, kwargs, name, chunks)
        self._check(grid)
        return grid

    def _check(self, grid: Grid) -> None:
        """Cross-argument validation before computing (raise ValueError/TypeError)."""

    @classmethod
    def arguments(cls) -> dict[str, Arg]:
        """The resolver's arguments by name (for specs, the CLI and documentation)."""
        return {a.name: a for a in cls.ARGS}
