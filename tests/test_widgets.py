"""regutils.widgets: frames rendered, one Image per value, jslinks wired for a kernel-free page."""

import io

import ipywidgets as w
from ipywidgets.widgets.widget_link import Link
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

from regutils.widgets import PNG_SIGNATURE, figure_to_png, frame_slider  # noqa: E402


def _render(value, outer=None):
    fig, ax = plt.subplots(figsize=(2, 1.5))
    ax.plot([0, 1], [0, value if outer is None else value * outer])
    ax.set_ylim(0, 3)  # fixed, so that different values draw different pictures
    return fig


def _savefig_png(fig, dpi) -> bytes:
    """The PNG matplotlib itself writes for ``fig`` (the answer key for a frame)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    plt.close(fig)
    return buf.getvalue()


def _png_size(png: bytes) -> tuple[int, int]:
    # IHDR is the first chunk: width and height are big-endian uint32 at bytes 16..24
    return int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")


def test_figure_to_png_closes_and_scales():
    fig = _render(1.0)
    png = figure_to_png(fig, dpi=50)
    assert png.startswith(PNG_SIGNATURE)
    assert _png_size(png) == (100, 75)  # 2 x 1.5 inches at 50 dpi
    assert not plt.fignum_exists(fig.number)
    with pytest.raises(ValueError, match="^fig must be a matplotlib Figure, got str$"):
        figure_to_png("not a figure")
    fig = _render(1.0)
    with pytest.raises(ValueError, match="^dpi must be a finite number > 0, got -5$"):
        figure_to_png(fig, dpi=-5)
    assert not plt.fignum_exists(fig.number)  # closed on bad input too, as documented


def test_one_slider():
    values = [0.01, 0.1, 1.0]
    before = set(plt.get_fignums())
    box = frame_slider(_render, values, description="alpha", dpi=40)
    assert set(plt.get_fignums()) == before  # every frame's figure was closed
    slider, stack = box.children
    assert isinstance(slider, w.SelectionSlider) and isinstance(stack, w.Stack)
    assert [label for label, _ in slider.options] == ["0.01", "0.1", "1"]
    assert slider.description == "alpha"
    assert len(stack.children) == len(values)
    for image in stack.children:
        assert isinstance(image, w.Image) and image.format == "png"
        png = bytes(image.value)
        assert png.startswith(PNG_SIGNATURE)
        assert _png_size(png) == (80, 60)
    assert len({bytes(image.value) for image in stack.children}) == 3  # the frames differ
    # ... and frame k is values[k]'s figure, the one the slider's k-th label names
    assert [bytes(image.value) for image in stack.children] == [_savefig_png(_render(v), 40) for v in values]
    (link,) = box.frame_links
    assert isinstance(link, Link)
    assert link.source == (slider, "index") and link.target == (stack, "selected_index")
    assert slider.index == stack.selected_index == 0


def test_two_sliders_nest_stacks():
    values, outer = [1.0, 2.0, 3.0], [0.5, 1.0]
    calls = []

    def render(v, o):
        calls.append((v, o))
        return _render(v, o)

    box = frame_slider(render, values, description="alpha", outer_values=outer, outer_description="l1_ratio", dpi=30)
    outer_slider, slider, stack = box.children
    assert outer_slider.description == "l1_ratio" and slider.description == "alpha"
    assert sorted(calls) == sorted((v, o) for v in values for o in outer)
    assert len(stack.children) == len(outer)
    for inner in stack.children:
        assert isinstance(inner, w.Stack) and len(inner.children) == len(values)
        assert all(isinstance(img, w.Image) and bytes(img.value).startswith(PNG_SIGNATURE) for img in inner.children)
    links = box.frame_links
    assert len(links) == len(outer) + 1
    inner_links = {id(link.target[0]) for link in links if link.source == (slider, "index")}
    assert inner_links == {id(inner) for inner in stack.children}
    assert all(link.target[1] == "selected_index" for link in links)
    assert any(link.source == (outer_slider, "index") and link.target == (stack, "selected_index") for link in links)
    # inner Stack j holds outer[j]'s frames, frame i of it values[i]'s
    for j, o in enumerate(outer):
        frames = [bytes(img.value) for img in stack.children[j].children]
        assert frames == [_savefig_png(_render(v, o), 30) for v in values], o


def test_widget_state_embeds_the_links():
    box = frame_slider(_render, [1.0, 2.0], description="alpha", dpi=20)
    state = w.Widget.get_manager_state(widgets=[box, *box.frame_links])["state"]
    link_states = [s["state"] for s in state.values() if s["model_name"] == "LinkModel"]
    slider, stack = box.children
    assert {"source": ["IPY_MODEL_" + slider.model_id, "index"], "target": ["IPY_MODEL_" + stack.model_id, "selected_index"]}.items() <= link_states[0].items()


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        (dict(render="nope", values=[1.0]), ValueError, r"^render must be callable \(value -> Figure\), got str$"),
        (dict(values=[]), ValueError, "^values is empty: need at least one value$"),
        (dict(values=[1.0, 1.0001]), ValueError,
         r"^values: two values share the slider label '1'; pass a finer `label` formatter \(value 1.0001\)$"),
        (dict(values=[1.0], outer_values=[0.5, 0.50001]), ValueError, "^outer_values: two values share the slider label '0.5'"),
        (dict(values=[1.0], description=""), ValueError, "^description must be a non-empty string, got ''$"),
        (dict(values=[1.0], description=3), ValueError, "^description must be a non-empty string, got 3$"),
        (dict(values=[1.0], outer_values=[1, 2], outer_description=["l1_ratio"]), ValueError,
         r"^outer_description must be a non-empty string, got \['l1_ratio'\]$"),
        (dict(values=[1.0, 2.0, 3.0], max_frames=2), ValueError,
         r"^3 frames requested \(3 values x 1 outer values\) but max_frames=2; every frame is embedded"),
        (dict(values=[1.0], outer_values=[1, 2, 3], max_frames=2), ValueError,
         r"^3 frames requested \(1 values x 3 outer values\)"),
        (dict(values=[1.0], outer_values=[]), ValueError, "^outer_values is empty: need at least one value$"),
        (dict(values=[1.0], outer_description="l1_ratio"), ValueError, "^outer_description was given without outer_values$"),
        (dict(values=[1.0], dpi=0), ValueError, "^dpi must be a finite number > 0, got 0$"),
        (dict(values=[1.0], max_frames=0), ValueError, "^max_frames must be an integer >= 1, got 0$"),
        (dict(values=[1.0], max_frames=True), ValueError, "^max_frames must be an integer >= 1, got True$"),
    ],
)
def test_bad_input(kwargs, error, message):
    kwargs = {"render": _render, "description": "alpha", **kwargs}
    with pytest.raises(error, match=message):
        frame_slider(kwargs.pop("render"), kwargs.pop("values"), **kwargs)


def test_render_must_return_a_figure():
    with pytest.raises(ValueError, match="^render must return a matplotlib Figure, got int for value 1.0$"):
        frame_slider(lambda v: 3, [1.0], description="alpha")
