"""The Python API and the CLI over the same core."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

import model_diagram
from model_diagram.cli import main
from model_diagram.errors import DiagramError
from model_diagram.options import OPTIONS
from model_diagram.styles import graph as graph_style

SVG = "{http://www.w3.org/2000/svg}"


def labels(svg: str) -> str:
    return " ".join(t.text or "" for t in ET.fromstring(svg).iter(f"{SVG}text"))


def test_render_a_factory_path_and_save_every_format(tmp_path: Path) -> None:
    diagram = model_diagram.render(
        "example_project.models:make_cnn",
        input="float[2,3,32,32]",
        depth=2,
        cache_dir=tmp_path / "cache",
        save_path=tmp_path / "out" / "cnn.svg",
    )
    assert "Conv2d" in labels(diagram.svg)
    assert diagram._repr_svg_() == diagram.svg
    saved = (tmp_path / "out" / "cnn.svg").read_text()
    assert saved.startswith("<?xml") and ET.fromstring(saved.split("\n", 1)[1]) is not None
    png = diagram.save(tmp_path / "cnn.png", dpi=50)
    small = png.stat().st_size
    assert png.read_bytes().startswith(b"\x89PNG")
    assert diagram.save(tmp_path / "big.png", dpi=200).stat().st_size > small
    assert diagram._repr_png_().startswith(b"\x89PNG")
    with pytest.raises(model_diagram.api.OptionError, match=r"use a \.svg, \.png or \.pdf"):
        diagram.save(tmp_path / "cnn.gif")


def test_live_model_is_not_mutated(tmp_path: Path) -> None:
    import torch
    from torch import nn

    model = nn.Sequential(nn.Linear(8, 16), nn.Dropout(), nn.Linear(16, 4))
    model.train()
    model[1].eval()  # mixed modes must survive
    before = {k: v.clone() for k, v in model.state_dict().items()}
    diagram = model_diagram.render(model, input_data=torch.randn(3, 8), cache_dir=tmp_path)
    assert "(3, 16)" in labels(diagram.svg)
    assert model.training and not model[1].training and model[2].training
    assert all(p.device.type == "cpu" for p in model.parameters())
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


def test_visualize_model_keywords(tmp_path: Path) -> None:
    """Torch-RecHub's visualize_model users: a dict input_data is ONE positional argument."""
    import torch
    from example_project.models import make_recommender

    features = {
        "user_id": torch.randint(0, 1000, (4,)),
        "age": torch.rand(4),
        "hist": torch.randint(0, 1000, (4, 10)),
    }
    diagram = model_diagram.render(
        make_recommender(),
        input_data=features,
        depth=2,
        show_shapes=False,
        graph_name="Recommender",
        save_path=tmp_path / "rec.png",
        dpi=72,
        cache_dir=tmp_path,
    )
    assert "x['hist']" in labels(diagram.svg) and "(4, 10)" not in labels(diagram.svg)
    assert ET.fromstring(diagram.svg).get("aria-label") == "Recommender"
    assert (tmp_path / "rec.png").read_bytes().startswith(b"\x89PNG")


def test_cli_render_cache_info_and_clear(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cache = tmp_path / "cache"
    common = ["--cache-dir", str(cache)]
    argv = [
        "render",
        "example_project.models:make_transformer",
        "--kwargs",
        '{input_ids: "long[1,16](0,1000)"}',
        "--depth",
        "2",
        "--direction",
        "LR",
        "--expand-nested",
        "-o",
        str(tmp_path / "t.svg"),
        *common,
    ]
    assert main(argv) == 0
    assert "traced" in capsys.readouterr().out
    assert main(argv) == 0
    assert "from cache" in capsys.readouterr().out
    svg = (tmp_path / "t.svg").read_text().split("\n", 1)[1]
    assert "EncoderBlock" in labels(svg) and "input_ids" in labels(svg)
    assert main([*argv[:-4], "-o", str(tmp_path / "t.png"), *common]) == 0
    assert (tmp_path / "t.png").read_bytes().startswith(b"\x89PNG")
    capsys.readouterr()
    assert main(["cache", "info", *common]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["manifests"] == 1 and info["renders"] == 2 and info["bytes"] > 0
    assert main(["cache", "clear", *common]) == 0
    assert not (cache / "blobs").exists()


def test_cli_errors_exit_non_zero(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = str(tmp_path / "x.svg")
    assert main(["render", "models:make_mlp", "--input", "flot[2,8]", "-o", out]) == 1
    assert "error (input): option 'input': unknown dtype 'flot'" in capsys.readouterr().err
    assert (
        main(
            [
                "render",
                "models:make_forward_raises",
                "--input",
                "float[2,8]",
                "-o",
                out,
                "--cache-dir",
                str(tmp_path),
            ]
        )
        == 1
    )
    assert "bad forward: shape mismatch" in capsys.readouterr().err
    assert not Path(out).exists()


def test_cli_bare_flag_for_every_boolean_option(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A bare flag is true for every boolean option, whatever its type text says."""
    flags = {name for name, spec in OPTIONS.items() if spec.flag}
    assert {name for name, spec in OPTIONS.items() if isinstance(spec.default, bool)} < flags
    assert "collapse-repeats" in flags  # typed bool | None, shown as "bool (default: ...)"
    common = ["--cache-dir", str(tmp_path / "cache")]
    base = [
        "render",
        "example_project.models:make_transformer",
        "--kwargs",
        '{input_ids: "long[1,16](0,1000)"}',
        "--depth",
        "2",
    ]
    bare = tmp_path / "bare.svg"
    off = tmp_path / "off.svg"
    assert main([*base, "--collapse-repeats", "-o", str(bare), *common]) == 0
    assert main([*base, "--collapse-repeats", "false", "-o", str(off), *common]) == 0
    capsys.readouterr()

    def text(path: Path) -> str:
        return labels(path.read_text().split("\n", 1)[1])

    assert "x4" in text(bare) and "x4" not in text(off)
    assert main([*base, "--legend", "--show-params", "-o", str(bare), *common]) == 0
    assert "Legend" in text(bare)


def test_a_bug_of_ours_is_one_reported_error_in_cli_and_api(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The pipeline turns an unexpected exception into one "please report" DiagramError."""

    def broken(*args: object) -> str:
        raise ZeroDivisionError("injected")

    monkeypatch.setattr(graph_style, "to_dot", broken)
    common = ["--input", "float[2,8]", "--cache-dir", str(tmp_path / "c")]
    out = tmp_path / "x.svg"
    assert main(["render", "models:make_mlp", *common, "-o", str(out)]) == 1
    err = capsys.readouterr().err
    assert "unexpected ZeroDivisionError: injected (please report this model-diagram bug)" in err
    assert "Traceback" not in err and not out.exists()
    with pytest.raises(DiagramError, match="please report this model-diagram bug"):
        model_diagram.render("models:make_mlp", input="float[2,8]", cache_dir=tmp_path / "c")
