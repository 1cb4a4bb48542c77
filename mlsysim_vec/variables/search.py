"""Catalogue entries of the outputs of ``optimize.search`` and ``optimize.pareto``."""

from .core import Variable

VARIABLES: dict[str, Variable] = dict(
    objective=Variable(
        description="objective at the winning point, in the objective's canonical unit (attrs['units'])"
    ),
    n_searched=Variable(
        description="candidate points searched per result point (product of the searched dimensions' sizes)", kind="int"
    ),
    n_feasible=Variable(
        description="candidates that satisfy every constraint and have a numeric objective", kind="int"
    ),
    rank=Variable(description="position in the top-k list (1 = best)", kind="int"),
    on_front=Variable(
        description="on the 2-objective Pareto front (allowed, and no allowed point is at least "
        "as good in both objectives and better in one)",
        kind="bool",
    ),
    meets_constraints=Variable(description="the point satisfies every constraint of the search", kind="bool"),
)
