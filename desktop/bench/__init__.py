"""The editor's benchmarks: ``pixelmend bench ui`` (:mod:`desktop.bench.ui`).

The engine's benchmarks (``pixelmend bench classical|denoise|inpaint|texture``) are the engine's
own; these measure what a person feels in the editor, through the real window.
"""
