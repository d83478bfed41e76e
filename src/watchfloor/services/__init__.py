"""Use-cases by capability: what the CLI and the web call, one service per job.

``regions`` holds the one picture of a region (the region, its engines, matrices
and placements, each cache bounded); ``operations/`` is the operations room
(situation, room, store, stages, views); ``reports/`` the public reporting
service; ``patrol``, ``posture``, ``arv``, ``tension``, ``travel``, ``reach``,
``auth`` and ``region_map`` one capability each. Services may import storage,
ingest, the engine, the models, the pure solvers and the foundation; never the
web or the CLI. Each validates its input once and raises from
:mod:`watchfloor.errors`.
"""
