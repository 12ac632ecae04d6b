"""Recipes over many files: the plan of outputs, one file's processing, the resumable journal,
and the executors that run the files (in order, on worker processes, or on a Ray cluster).

``pixelmend run`` and ``pixelmend batch`` share :mod:`~engine.batch.plan` (inputs → outputs)
and :mod:`~engine.batch.process` (load → recipe → atomic save); :mod:`~engine.batch.runner`
adds the journal (:mod:`~engine.batch.journal`), the report and parallelism
(:mod:`~engine.batch.executors`).
"""
