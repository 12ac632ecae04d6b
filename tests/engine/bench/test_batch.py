import numpy as np

from engine.cli import main
from engine.io import save


def test_the_batch_suite_times_the_runs_and_survives_a_kill(tmp_path, capsys):
    data = tmp_path / "data"
    data.mkdir()
    rng = np.random.default_rng(0)
    for index in range(3):
        save(data / f"p{index}.png", (rng.random((40, 48, 3)) * 255).astype(np.uint8))
    code = main(["bench", "batch", "--data", str(data), "--count", "5", "--kills", "1",
                 "--no-ray", "--quiet"])
    out = capsys.readouterr().out
    assert code == 0, out
    rows = [line for line in out.splitlines() if " worker" in line and "×" in line]
    assert len(rows) == 3 and rows[0].startswith("1 worker × 1 thread")
    assert all(line.split()[-5] == "5" and line.split()[-4] == "0" for line in rows)
    assert "kill -9 trials: 1" in out
    trial = out.splitlines()[-1].split()
    assert trial[1:3] == ["0", "0"] and trial[3] == "True" and trial[4] == "0"
