import math

import pytest

from engine.core.params import (
    Bool,
    Choice,
    Float,
    Int,
    ParamError,
    Seed,
    parse_param_text,
    resolve_params,
)

SPECS = (
    Float("sigma", 1.5, minimum=0.1, maximum=10.0),
    Int("size", 5, minimum=3, maximum=31, odd=True),
    Bool("fast", False),
    Choice("method", "telea", choices=("telea", "ns")),
    Seed("seed", 0),
)


def test_defaults_fill_missing_values_in_spec_order():
    assert resolve_params(SPECS, {"size": 7}) == {
        "sigma": 1.5, "size": 7, "fast": False, "method": "telea", "seed": 0}


@pytest.mark.parametrize(
    ("values", "fragment"),
    [
        ({"sigma": 0.0}, "outside [0.1, 10]"),
        ({"sigma": math.nan}, "finite"),
        ({"sigma": "abc"}, "not a number"),
        ({"size": 4}, "must be odd"),
        ({"size": 2.5}, "not an integer"),
        ({"size": 33}, "outside [3, 31]"),
        ({"fast": "maybe"}, "true or false"),
        ({"method": "magic"}, "telea, ns"),
        ({"seed": -1}, "outside"),
        ({"colour": 1}, "unknown parameter 'colour'"),
    ],
)
def test_bad_values_raise_a_message_naming_the_problem(values, fragment):
    with pytest.raises(ParamError, match=None) as error:
        resolve_params(SPECS, values)
    assert fragment in str(error.value)


def test_text_values_from_the_command_line_are_coerced():
    assert parse_param_text(SPECS, "sigma=2.5") == ("sigma", 2.5)
    assert parse_param_text(SPECS, "size=9") == ("size", 9)
    assert parse_param_text(SPECS, "fast=yes") == ("fast", True)
    assert parse_param_text(SPECS, "method= ns") == ("method", "ns")
    with pytest.raises(ParamError, match="NAME=VALUE"):
        parse_param_text(SPECS, "sigma")
    with pytest.raises(ParamError, match="unknown parameter 'nope'"):
        parse_param_text(SPECS, "nope=1")


def test_specs_describe_themselves_as_json():
    described = [spec.to_json() for spec in SPECS]
    assert described[0]["kind"] == "float" and described[0]["minimum"] == 0.1
    assert described[1]["odd"] is True
    assert described[3]["choices"] == ["telea", "ns"]
    assert described[4]["kind"] == "seed" and described[4]["minimum"] == 0
    assert SPECS[1].label == "Size"
