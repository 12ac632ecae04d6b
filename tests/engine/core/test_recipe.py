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


def test_steps_round_trip_and_the_one_op_form_stays_as_it_was(tmp_path):
    from engine.core.recipe import Step

    restore = Recipe(steps=[Step("detect_defects"), Step("inpaint", {"method": "telea"},
                                                        "proposal"),
                            Step("denoise", {"strength": 0.8}, "none")],
                     name="Restore old photo")
    data = restore.to_dict()
    assert data["name"] == "Restore old photo" and len(data["steps"]) == 3
    assert data["steps"][0] == {"op": "detect_defects", "params": {}}     # "auto" left out
    assert data["steps"][1]["mask"] == "proposal"
    path = tmp_path / "restore.json"
    path.write_text(restore.to_json())
    assert load_recipe(path) == restore and restore.title() == "Restore old photo"
    assert Recipe("median", {"size": 5}).to_dict() == {"op": "median", "params": {"size": 5},
                                                       "engine": __version__}
    assert Recipe(steps=[Step("a"), Step("b")]).title() == "a → b"
    with pytest.raises(AttributeError, match="3 steps"):
        _ = restore.op


@pytest.mark.parametrize(("text", "fragment"), [
    ('{"steps": []}', "non-empty JSON list"),
    ('{"steps": [{"op": "median"}, {"params": {}}]}', "step 2 of the recipe"),
    ('{"steps": [{"op": "median", "mask": "everything"}]}', '"mask" must be one of'),
    ('{"op": "median", "name": 3}', '"name" must be text'),
])
def test_bad_steps_say_which_step(tmp_path, text, fragment):
    path = tmp_path / "bad.json"
    path.write_text(text)
    with pytest.raises(RecipeError, match=fragment):
        load_recipe(path)


def test_the_shipped_recipes_are_listed_and_read():
    from engine.core.recipe import shipped_recipes

    recipes = shipped_recipes()
    assert "restore-old-photo" in recipes
    restore = load_recipe(recipes["restore-old-photo"])
    assert [step.op for step in restore.steps] == ["detect_defects", "inpaint", "denoise"]
