from pathlib import Path

import pytest

from engine.batch.plan import PlanError, collect_inputs, plan_outputs


def test_folders_keep_their_sub_folders_and_names(photos, tmp_path):
    flat, to_folder = plan_outputs([photos], tmp_path / "out")
    assert to_folder and [job.relative.as_posix() for job in flat] == [
        "photo000.png", "photo002.png", "photo004.png"]
    deep, _ = plan_outputs([photos], tmp_path / "out", recursive=True, fmt="tif")
    assert len(deep) == 6 and deep[-1].target == tmp_path / "out" / "sub" / "photo005.tif"


def test_one_file_to_one_file_and_forced_folders(photos, tmp_path):
    source = photos / "photo000.png"
    jobs, to_folder = plan_outputs([source], tmp_path / "x.jpg")
    assert not to_folder and jobs[0].target == tmp_path / "x.jpg"
    jobs, to_folder = plan_outputs([source], tmp_path / "x", folder=True)
    assert to_folder and jobs[0].target == tmp_path / "x" / "photo000.png"


@pytest.mark.parametrize(("inputs", "output", "fragment"), [
    (["missing.png"], "out", "no such file"),
    (["in/photo000.png"], "in/no/such/x.png", "does not exist"),
    (["in", "in/photo000.png"], "out.png", "looks like a file name"),
])
def test_impossible_plans_say_why(photos, tmp_path, monkeypatch, inputs, output, fragment):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(PlanError, match=fragment):
        plan_outputs(inputs, output)


def test_two_inputs_to_one_name_are_refused(photos, tmp_path):
    with pytest.raises(PlanError, match="would both be written"):
        plan_outputs([photos / "photo000.png", photos / "sub" / "photo001.png",
                      photos / "photo000.png"], tmp_path / "out")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(PlanError, match="--recursive"):
        collect_inputs([empty])
    assert collect_inputs([Path(photos)], recursive=True)[1][1] == Path("photo002.png")
