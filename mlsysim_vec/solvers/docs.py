"""The generated half of every resolver's documentation.

``document_solve(cls)`` (called for every ``Resolver`` subclass) gives ``cls.solve`` a real
signature — every argument of ``cls.ARGS`` with its default, then the keyword-only options of
the class's own ``solve`` — and a numpydoc docstring: Parameters (type, unit, default, allowed
values, from ``ARGS`` and the catalogue ``mlsysim_vec.variables``), Returns (every name of
``cls.OUTPUTS`` with its unit and meaning), then the ``Notes`` and ``References`` sections of
the class docstring (the equations and their published sources). ``help()``, IDE completion
and the API reference (docs/api) therefore show one text, generated from one catalogue.
"""

from __future__ import annotations

import inspect
import textwrap

from ..grid import REQUIRED, Arg
from ..options import Option
from ..variables import variable

__all__ = ["document_solve", "parameter_doc", "output_doc", "COMMON_OPTIONS"]

#: Descriptions of keyword-only ``solve`` options shared by resolvers.
COMMON_OPTIONS = {
    "chunks": (
        "dict or 'auto', optional",
        "Evaluate lazily on dask, chunked along the named grid dimensions (``{dim: size}``) or "
        "``'auto'``; the Result's arrays are then dask arrays (``Result.compute()`` loads them).",
    ),
}

_TYPES = {"number": float, "integer": int, "bool": bool, "choice": str}

_PREAMBLE = (
    "Every argument may be a scalar, a list, tuple or 1-D array (a new grid dimension named after "
    "the argument), a registry family or list of records, an ``xarray.DataArray`` (its own "
    "dimensions: two arguments can share one) or a pint Quantity; the outputs are computed for "
    "every combination in one call."
)


def document_solve(cls) -> None:
    """Replace ``cls.solve`` by a function with the generated signature and docstring."""
    impl = cls.__dict__.get("solve")
    if impl is None:
        impl = getattr(cls.solve, "__mlsysim_impl__", cls.solve)

    def solve(self, *args, **kwargs):
        return impl(self, *args, **kwargs)

    solve.__mlsysim_impl__ = impl
    solve.__name__ = "solve"
    solve.__qualname__ = f"{cls.__name__}.solve"
    solve.__module__ = cls.__module__
    solve.__signature__ = _signature(cls, impl)
    solve.__doc__ = _docstring(cls, impl)
    cls.solve = solve


def _options(cls, impl) -> list[inspect.Parameter]:
    """Keyword-only parameters of the class's own ``solve`` (``chunks``, ``raise_errors``...)."""
    names = {a.name for a in cls.ARGS}
    out = []
    for p in inspect.signature(impl).parameters.values():
        if p.kind is inspect.Parameter.KEYWORD_ONLY and p.name not in names:
            out.append(p)
    out.sort(key=lambda p: p.name == "chunks")  # chunks last
    return out


def _annotation(arg: Arg):
    if arg.kind == "record":
        types = arg.types
        if not types:
            return inspect.Parameter.empty
        annotation = types[0]
        for t in types[1:]:
            annotation = annotation | t
        return annotation
    return _TYPES.get(arg.kind, inspect.Parameter.empty)


def _signature(cls, impl) -> inspect.Signature:
    params = [inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD)]
    kind = inspect.Parameter.POSITIONAL_OR_KEYWORD
    seen_default = False
    for arg in cls.ARGS:
        default = inspect.Parameter.empty if arg.default is REQUIRED else arg.default
        if default is inspect.Parameter.empty and seen_default:
            kind = inspect.Parameter.KEYWORD_ONLY  # a required argument after optional ones
        seen_default |= default is not inspect.Parameter.empty
        params.append(inspect.Parameter(arg.name, kind, default=default, annotation=_annotation(arg)))
    params += [p.replace(kind=inspect.Parameter.KEYWORD_ONLY) for p in _options(cls, impl)]
    return inspect.Signature(params, return_annotation="Result")


def _type_text(arg: Arg) -> str:
    if arg.kind == "choice":
        text = "{" + ", ".join(repr(c) for c in arg.choices) + "}"
    elif arg.kind == "record":
        text = arg.type_hint or " or ".join(t.__name__ for t in arg.types)
    else:
        text = {"number": "float", "integer": "int", "bool": "bool"}[arg.kind]
        if arg.unit:
            text += f" [{arg.unit}]"
    if arg.default is REQUIRED:
        return text
    if arg.default is None:
        return text + ", optional"
    default = arg.default
    if isinstance(default, Option):
        return f"{text}, default: the {default.name!r} option (``ms.set_options``)"
    if isinstance(default, float) and default.is_integer() and arg.kind == "integer":
        default = int(default)
    return f"{text}, default {default!r}"


def parameter_doc(arg: Arg) -> str:
    """The numpydoc entry of one argument (name line and indented description)."""
    var = variable(arg.name)
    description = arg.doc or var.description
    description = description[:1].upper() + description[1:] if description else ""
    sentences = [description.rstrip(".") + "."] if description else []
    if arg.kind in ("number", "integer"):
        sentences.append(arg.allowed()[0].upper() + arg.allowed()[1:] + ".")
        if arg.unit:
            sentences.append(
                f"A plain number is read in {arg.unit}; a pint Quantity of any compatible unit is converted."
            )
    if arg.default is None:
        sentences.append("None (the default) leaves it out.")
    if arg.aliases:
        sentences.append("Also spelled " + ", ".join(f"``{k!r}``" for k in arg.aliases) + ".")
    if arg.keyword_aliases:
        sentences.append("Also accepted as " + ", ".join(f"``{k}``" for k in arg.keyword_aliases) + ".")
    body = textwrap.fill(" ".join(sentences), width=92, initial_indent="    ", subsequent_indent="    ")
    return f"{arg.name} : {_type_text(arg)}\n{body}"


def output_doc(name: str) -> str:
    """The numpydoc entry of one output."""
    var = variable(name)
    if var.kind == "category":
        kind = "str, one of " + ", ".join(repr(c) for c in var.categories)
    elif var.kind in ("bool", "int", "text"):
        kind = {"bool": "bool", "int": "int", "text": "str"}[var.kind]
    elif var.kind == "record":
        kind = "str (record name)"
    elif var.unit:
        kind = f"Quantity [{var.unit}]"
        if var.display and var.display != var.unit:
            kind += f", shown in {var.display}"
    else:
        kind = "float"
    description = var.description[:1].upper() + var.description[1:]
    if var.optional:
        description += " (NaN, or None for a scalar call, where it does not apply)"
    body = textwrap.fill(description.rstrip(".") + ".", width=92, initial_indent="    ", subsequent_indent="    ")
    return f"{name} : {kind}\n{body}"


def _class_sections(cls) -> tuple[str, str]:
    """(summary, the Notes/References/Examples part) of the class docstring."""
    doc = inspect.cleandoc(cls.__doc__ or "")
    summary = doc.split("\n\n", 1)[0].replace("\n", " ").strip()
    lines = doc.splitlines()
    for i, line in enumerate(lines[:-1]):
        if line.strip() in ("Notes", "References", "Examples") and set(lines[i + 1].strip()) == {"-"}:
            return summary, "\n".join(lines[i:])
    return summary, ""


def _docstring(cls, impl) -> str:
    summary, sections = _class_sections(cls)
    parts = [f"Evaluate {cls.__name__} over every combination of its arguments.", ""]
    if summary:
        parts += [summary, ""]
    parts += [textwrap.fill(_PREAMBLE, width=96), "", "Parameters", "----------"]
    parts += [parameter_doc(a) for a in cls.ARGS]
    own = getattr(cls, "OPTIONS", {})
    for p in _options(cls, impl):
        kind, text = own.get(p.name) or COMMON_OPTIONS.get(p.name) or ("", "")
        default = "" if p.default is inspect.Parameter.empty else f", default {p.default!r}"
        body = textwrap.fill(text, width=92, initial_indent="    ", subsequent_indent="    ")
        parts.append(f"{p.name} : {kind or 'optional'}{default if kind and 'optional' not in kind else ''}\n{body}")
    parts += ["", "Returns", "-------", "Result"]
    parts.append(
        textwrap.fill(
            "Python scalars, strings and pint Quantities when every argument is a scalar; otherwise "
            "quantified DataArrays over the grid (``.dataset`` holds plain floats in the canonical "
            "units). Its outputs:",
            width=92,
            initial_indent="    ",
            subsequent_indent="    ",
        )
    )
    parts += [output_doc(name) for name in cls.OUTPUTS]
    text = "\n".join(parts)
    if sections:
        text += "\n\n" + sections
    return text
