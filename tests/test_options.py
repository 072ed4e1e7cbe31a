"""The option schema: one declaration, parsed from rST/CLI strings and YAML values."""

from __future__ import annotations

import subprocess
import sys

import pytest

from model_diagram.errors import InputError, OptionError
from model_diagram.options import OPTIONS, canonical_name, parse_options, validate_defaults
from model_diagram.yamlread import read_yaml

FACTORY = {"factory": "models:make_mlp"}


def test_every_option_is_documented_once() -> None:
    for name, spec in OPTIONS.items():
        assert spec.name == name
        assert "_" not in name
        assert spec.help and spec.type and spec.example, name
    assert {
        "factory",
        "input",
        "inputs",
        "kwargs",
        "input-size",
        "input-factory",
        "depth",
        "direction",
        "engine",
        "format",
        "caption",
        "name",
        "class",
    } <= set(OPTIONS)


def test_examples_parse() -> None:
    for spec in OPTIONS.values():
        spec.from_string(spec.example)


def test_strings_are_yaml_flow_and_json() -> None:
    yaml_form = parse_options(
        {**FACTORY, "input": "{user_id: 'long[2](0,10)', age: 'float[2]'}", "depth": "2"},
        strings=True,
    )
    json_form = parse_options(
        {**FACTORY, "input": '{"user_id": "long[2](0,10)", "age": "float[2]"}', "depth": "2"},
        strings=True,
    )
    assert yaml_form.input == json_form.input == {"user_id": "long[2](0,10)", "age": "float[2]"}
    assert yaml_form.depth == 2


def test_underscore_aliases_and_bare_flags() -> None:
    opts = parse_options({**FACTORY, "input": "float[2,8]", "expand_nested": None}, strings=True)
    assert opts.expand_nested is True
    assert canonical_name("hide_inner_tensors") == "hide-inner-tensors"
    assert canonical_name("css_class") == "class"


def test_text_options_are_not_yaml() -> None:
    opts = parse_options({**FACTORY, "caption": "yes: {not yaml}", "alt": "no"}, strings=True)
    assert opts.caption == "yes: {not yaml}"
    assert opts.alt == "no"


@pytest.mark.parametrize(
    ("values", "fragments"),
    [
        ({"depht": "2"}, ["unknown option 'depht'", "did you mean 'depth'"]),
        ({"depth": "-2"}, ["option 'depth'", "-2", ">= -1"]),
        ({"depth": "deep"}, ["option 'depth'", "'deep'", "int"]),
        ({"direction": "UP"}, ["option 'direction'", "'UP'", "TB, LR, BT, RL"]),
        ({"engine": "neato"}, ["option 'engine'", "auto, dot, graphviz-pure"]),
        ({"expand-nested": "maybe"}, ["option 'expand-nested'", "'maybe'", "bool"]),
        ({"factory-kwargs": "[1, 2]"}, ["option 'factory-kwargs'", "mapping"]),
        ({"input": "{a: [unclosed"}, ["option 'input'", "cannot parse"]),
        ({"width": "wide"}, ["option 'width'", "length"]),
        ({"name": "../../etc/passwd"}, ["option 'name'"]),
        ({"class": "ok <bad>"}, ["option 'class'", "CSS class"]),
        ({"timeout": "0"}, ["option 'timeout'", "positive"]),
        ({"input-size": "[2, 0]"}, ["option 'input-size'", "positive"]),
    ],
)
def test_bad_values_name_option_value_and_accepted(
    values: dict[str, str], fragments: list[str]
) -> None:
    with pytest.raises(OptionError) as info:
        parse_options({**FACTORY, "input": "float[2,8]", **values}, strings=True)
    for fragment in fragments:
        assert fragment in str(info.value)


def test_factory_grammar() -> None:
    with pytest.raises(OptionError, match=r"package\.module:attr"):
        parse_options({"factory": "os.system('x')", "input": "float[1]"})
    with pytest.raises(OptionError, match="'factory' is required"):
        parse_options({"input": "float[1]"})
    assert parse_options({"factory": "a.b:C.make", "input": "float[1]"}).factory == "a.b:C.make"


def test_malformed_specs_are_input_errors() -> None:
    with pytest.raises(InputError, match="option 'input': unknown dtype 'flot'"):
        parse_options({**FACTORY, "input": "flot[2]"})
    with pytest.raises(InputError, match=r"option 'kwargs': dims .* must be positive"):
        parse_options({**FACTORY, "kwargs": {"x": "float[2,0]"}})


def test_inputs_are_exclusive() -> None:
    with pytest.raises(OptionError, match="cannot be combined"):
        parse_options({**FACTORY, "input": "float[2]", "input-size": [2]})
    both = parse_options({**FACTORY, "input": "float[2]", "kwargs": {"mask": "bool[2]"}})
    assert both.kwargs == {"mask": "bool[2]"}


def test_defaults_apply_underneath() -> None:
    defaults = validate_defaults({"depth": 1, "direction": "LR"})
    opts = parse_options(
        {**FACTORY, "input": "float[2]", "depth": "2"}, strings=True, defaults=defaults
    )
    assert (opts.depth, opts.direction) == (2, "LR")
    with pytest.raises(OptionError, match="unknown option 'colour'"):
        validate_defaults({"colour": "red"})


SIMPLE = [
    '{user_id: "long[2](0,1000)", age: "float[2]", hist: "long[2,10](0,1000)"}',
    "{input_ids: 'long[2,16](0,50000)'}",
    '{ a : "float[1, 3]" ,\n  b:\n   "int[2](0,5)"}',
    '{x: "float[2](-1.5e3,+2)"}',
    *("2", "0", "-7", "123456789012345678", "0.5", "-2.25", " 3 "),
    *("true", "True", "TRUE", "no", "Off", "yes", "y", "n", "auto", "LR", "graphviz-pure"),
    *("a.b", "_x", "NaN", "inf", "e5", "float[2,3,32,32]", "long[2, 16](0,1000)"),
]
NOT_SIMPLE = [
    '{yes: "float[2]"}',  # YAML 1.1 reads the key as True
    '{Null: "float[2]"}',
    '{a: "float[2]", a: "long[3]"}',  # a repeated key: the parser decides
    '{a: "float[2]",}',
    "{a: float[2]}",  # brackets in a plain flow scalar: YAML refuses it
    '{a:"float[2]"}',
    '{a: "float[2]", b: {c: "long[1]"}}',
    '{a: "x\\"y"}',
    "{}",
    '{a: "float[2]"} # note',
    *("010", "0x1f", "1_000", "+5", "1e3", ".5", "1.", "null", "~", "tRUE", "yES", "1:20"),
    *("a b", "[1, 2]", "'quoted'", "2024-01-01"),
]


def test_simple_options_read_as_yaml_reads_them() -> None:
    """Numbers, booleans, words and ``{name: "spec"}`` are read without the parser, as
    YAML reads them; anything YAML might read otherwise goes to the parser."""
    import yaml

    from model_diagram import yamlread

    for text in SIMPLE:
        assert yamlread._simple(text) is not yamlread._NOT_SIMPLE, text
        found = read_yaml(text)
        assert found == yaml.safe_load(text), text
        assert type(found) is type(yaml.safe_load(text)), text
    for text in NOT_SIMPLE:
        assert yamlread._simple(text) is yamlread._NOT_SIMPLE, text


def test_common_options_parse_without_importing_yaml() -> None:
    """A warm Sphinx build whose options are specs, dicts of specs and numbers never
    loads PyYAML (MkDocs has loaded it for its own configuration anyway)."""
    script = (
        "import sys\n"
        "from model_diagram.options import parse_options\n"
        "o = parse_options({'factory': 'm:f', 'input': '{a: \"long[2](0,9)\", b: \"float[2]\"}',"
        " 'kwargs': \"{mask: 'long[2]'}\", 'depth': '2', 'table': 'true'}, strings=True)\n"
        "assert o.input == {'a': 'long[2](0,9)', 'b': 'float[2]'}, o.input\n"
        "assert o.depth == 2 and o.table is True\n"
        "print('yaml' in sys.modules)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], check=False, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"
