"""``pixelmend bench ui``: the editor measured through the real window."""

from __future__ import annotations

from desktop.bench import ui as bench_ui


def test_bench_ui_measures_the_real_window(qapp, capsys):
    figures = bench_ui.run(0.05, dabs=20)
    assert figures["layers"] == 3
    assert 0 < figures["dab_fit_s"][0] < 1.0 and 0 < figures["open_s"][0] < 30
    assert figures["rss_three_layers_mb"] >= figures["rss_one_layer_mb"] > 10
    table = bench_ui.format_table(figures)
    assert "brush dab, fit zoom" in table and "RSS, 3 layers" in table


def test_bench_ui_rejects_a_bad_size(capsys):
    try:
        bench_ui.main(["--megapixels", "0"])
    except SystemExit as exit_:
        assert exit_.code == 2
    else:
        raise AssertionError("--megapixels 0 was accepted")
    assert "--megapixels must be positive" in capsys.readouterr().err
