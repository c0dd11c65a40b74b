"""The knowledge base: SQLAlchemy tables, migrations, the seed loader and repository functions.

    session.py     DATABASE_URL or the default SQLite file; make_engine, make_session_factory
    schema.py      Alembic upgrade in-process; ensure_ready() = upgrade + (re)load the seed if it changed
    seed.py        the one loader for kb/data/ (JSON catalogs, benchmark CSVs, vLLM memory CSV)
    repository.py  catalog, benchmarks, memory measurements, prices, templates, deployment outcomes
    threads.py     conversation threads: messages, spec versions, plans, choices, approvals, jobs
    tables.py      the ORM tables (table_base.py, thread_tables.py)

Repository functions take `session=` keyword-only, never commit, and return planner types.
"""
