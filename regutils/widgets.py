"""Interactive figures that work on the static site, without a kernel.

A Python callback cannot run on a static HTML page, so :func:`frame_slider` renders every
frame when the cell runs (each a small PNG in an ``ipywidgets.Image``), puts the frames in a
``Stack`` and links the slider's ``index`` to the Stack's ``selected_index`` with
``ipywidgets.jslink``. The link lives in the browser: the embedded widget state that the
book's HTML carries is enough for the slider to switch frames. In Jupyter, Colab or Binder
the same code renders the frames from the live computation and the slider works the same way.

Two sliders (say ``alpha`` and ``l1_ratio``) need no index arithmetic, which ``jslink``
cannot do: the frames for each outer value form an inner ``Stack``, the inner Stacks form an
outer ``Stack``; the outer slider is linked to the outer Stack, and the inner slider is linked
to every inner Stack, so each inner Stack always shows the same inner value and the outer Stack
picks which of them is visible.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence

from .checks import check_int, check_real, check_str

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _dpi(dpi) -> float:
    """``dpi`` if it is a finite number > 0 (the resolution a frame is saved at)."""
    return check_real("dpi", dpi, 0, None, closed="right")


def figure_to_png(fig, *, dpi: float = 60) -> bytes:
    """The PNG bytes of a matplotlib ``fig`` at ``dpi``; closes ``fig``."""
    import matplotlib.pyplot as plt
    from matplotlib.figure import Figure

    if not isinstance(fig, Figure):
        raise ValueError(f"fig must be a matplotlib Figure, got {type(fig).__name__}")
    buf = io.BytesIO()
    try:
        fig.savefig(buf, format="png", dpi=_dpi(dpi))
    finally:
        plt.close(fig)
    return buf.getvalue()


def _labels(values: Sequence, label: Callable, what: str) -> list[str]:
    values = list(values)
    if not values:
        raise ValueError(f"{what} is empty: need at least one value")
    labels = [str(label(v)) for v in values]
    seen = set()
    for v, text in zip(values, labels):
        if text in seen:
            raise ValueError(
                f"{what}: two values share the slider label {text!r}; pass a finer `label` "
                f"formatter (value {v!r})"
            )
        seen.add(text)
    return labels


def _slider(labels: list[str], description: str):
    import ipywidgets as w

    # options are (label, index) pairs: the readout shows the value, `index` drives the Stack
    return w.SelectionSlider(
        options=list(zip(labels, range(len(labels)))),
        index=0,
        description=description,
        continuous_update=True,
        layout=w.Layout(width="min(32rem, 100%)"),
        style={"description_width": "initial"},
    )


def _image(png: bytes):
    import ipywidgets as w

    return w.Image(value=png, format="png", layout=w.Layout(max_width="100%", height="auto"))


def frame_slider(
    render: Callable,
    values: Sequence,
    *,
    description: str,
    outer_values: Sequence | None = None,
    outer_description: str | None = None,
    label: Callable = "{:.3g}".format,
    dpi: float = 60,
    max_frames: int = 48,
):
    """A slider over precomputed figures that works with or without a kernel.

    Parameters
    ----------
    render
        ``render(value)`` (one slider) or ``render(value, outer_value)`` (two sliders) returns a
        matplotlib ``Figure``; each figure is saved as PNG at ``dpi`` and closed.
    values
        The values of the (inner) slider, in slider order.
    description
        The slider's label, e.g. ``"alpha"``.
    outer_values, outer_description
        Optional second slider (e.g. ``l1_ratio``); every ``(value, outer_value)`` pair is one frame.
    label
        Formats a value for the slider readout; labels must be distinct.
    dpi
        Resolution of the PNG frames (60 keeps a 6 x 3.2 inch figure near 30 KB).
    max_frames
        Refuse to render more frames than this (page weight: every frame is in the page).

    Returns
    -------
    ipywidgets.VBox
        Children: the outer slider (if any), the slider, then the outer ``Stack``. The
        ``jslink`` links are in its ``frame_links`` attribute, as ``(source, target)`` trait
        pairs ``(slider, "index") -> (stack, "selected_index")``.

    Raises
    ------
    ValueError
        If an argument is out of its range (naming it), the labels repeat, there are more
        frames than ``max_frames``, or ``render`` returns something other than a ``Figure``.
    """
    import ipywidgets as w
    from matplotlib.figure import Figure

    if not callable(render):
        raise ValueError(f"render must be callable (value -> Figure), got {type(render).__name__}")
    check_str("description", description)
    max_frames = check_int("max_frames", max_frames, 1)
    _dpi(dpi)  # before any frame is rendered
    values = list(values)
    labels = _labels(values, label, "values")
    two = outer_values is not None
    outer = list(outer_values) if two else [None]
    outer_labels = _labels(outer, label, "outer_values") if two else None
    if outer_description is not None:
        if not two:
            raise ValueError("outer_description was given without outer_values")
        check_str("outer_description", outer_description)
    n_frames = len(values) * len(outer)
    if n_frames > max_frames:
        raise ValueError(
            f"{n_frames} frames requested ({len(values)} values x {len(outer)} outer values) but "
            f"max_frames={max_frames}; every frame is embedded in the page, so use a coarser grid "
            "or raise max_frames deliberately"
        )

    def frame(value, outer_value):
        fig = render(value, outer_value) if two else render(value)
        if not isinstance(fig, Figure):
            raise ValueError(f"render must return a matplotlib Figure, got {type(fig).__name__} "
                             f"for value {value!r}")
        return _image(figure_to_png(fig, dpi=dpi))

    slider = _slider(labels, description)
    inner_stacks = [
        w.Stack(children=[frame(v, o) for v in values], selected_index=0) for o in outer
    ]
    links = [w.jslink((slider, "index"), (stack, "selected_index")) for stack in inner_stacks]
    if two:
        outer_slider = _slider(outer_labels, outer_description or "")
        stack = w.Stack(children=inner_stacks, selected_index=0)
        links.append(w.jslink((outer_slider, "index"), (stack, "selected_index")))
        box = w.VBox([outer_slider, slider, stack])
    else:
        stack = inner_stacks[0]
        box = w.VBox([slider, stack])
    box.frame_links = tuple(links)
    return box
