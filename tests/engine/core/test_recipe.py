import pytest

from engine.core.recipe import Recipe, RecipeError, load_recipe
from engine.version import __version__


def test_round_trip_through_a_file(tmp_path):
    recipe = Recipe("median", {"size": 5})
    path = tmp_path / "r.json"
    path.write_text(recipe.to_json())
    loaded = load_recipe(path)
    assert loaded == Recipe("median", {"size": 5}, __version__)


@pytest.mark.parametrize(("text", "fragment"), [
    ("{", "not valid JSON"),
    ("[1, 2]", '"op" name'),
    ('{"op": "median", "params": 3}', '"params" must be'),
])
def test_bad_recipes_name_the_file(tmp_path, text, fragment):
    path = tmp_path / "bad.json"
    path.write_text(text)
    with pytest.raises(RecipeError) as error:
        load_recipe(path)
    assert "bad.json" in str(error.value) and fragment in str(error.value)


def test_missing_recipe_file(tmp_path):
    with pytest.raises(RecipeError, match="cannot read recipe"):
        load_recipe(tmp_path / "none.json")
