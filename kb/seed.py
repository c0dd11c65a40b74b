"""The one seed loader: kb/data/*.json, the benchmark CSVs and the vLLM memory CSV, into the tables.

Everything is parsed and checked before the first write; the write is one transaction, so a bad
file leaves the database as it was. A fingerprint of the files (and of this loader's version) is
kept in `kb_meta`: loading the same files again changes nothing, changed files reload.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, delete, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from kb import convert
from kb.errors import SeedDataError
from kb.schema import schema_lock
from kb.seed_csv import parse_aiconfigurator, parse_serving
from kb.seed_json import check_unique, parse_gpu, parse_model, parse_rows, parse_template, price_parser
from kb.seed_memory import parse_memory
from kb.session import IMMEDIATE
from kb.tables import (
    Base,
    CostData,
    HardwareProfile,
    KbMeta,
    MemoryMeasurementRow,
    ModelBenchmark,
    ModelCatalog,
    UseCaseSloTemplate,
)
from planner.catalog import Catalog

DATA_DIR = Path(__file__).parent / "data"
LOADER_VERSION = "4"  # bump when the mapping from files to rows changes, so databases reload
MODELS, GPUS, COSTS, TEMPLATES = "models.json", "gpus.json", "costs.json", "slo_templates.json"
SERVING = "benchmarks/serving_benchmarks.csv"
AICONFIGURATOR = "benchmarks/aiconfigurator_measured/silicon_sample.csv"
MEMORY_RAW = "memory/vllm_memory_h100_v0.19.0/results_raw.csv"
MEMORY_PREDICTED = "memory/vllm_memory_h100_v0.19.0/results_predicted.csv"
SEED_FILES = (MODELS, GPUS, COSTS, TEMPLATES, SERVING, AICONFIGURATOR, MEMORY_RAW, MEMORY_PREDICTED)
FINGERPRINT_KEY = "seed_fingerprint"


@dataclass
class SeedData:
    """Every seeded row, parsed and checked, ready to write."""

    models: list[ModelCatalog]
    gpus: list[HardwareProfile]
    prices: list[CostData]
    templates: list[UseCaseSloTemplate]
    benchmarks: list[dict[str, Any]]
    memory: list[dict[str, Any]]
    fingerprint: str
    versions: dict[str, Any] = field(default_factory=dict)  # the "version" of each JSON file

    def counts(self) -> dict[str, int]:
        return {
            "models": len(self.models),
            "gpus": len(self.gpus),
            "prices": len(self.prices),
            "usecases": len(self.templates),
            "benchmarks": len(self.benchmarks),
            "memory_measurements": len(self.memory),
        }


def fingerprint(data_dir: Path | None = None) -> str:
    """sha256 over the loader version and every seed file's name and bytes."""
    data_dir = data_dir or DATA_DIR
    digest = hashlib.sha256(f"loader {LOADER_VERSION}\n".encode())
    for name in SEED_FILES:
        path = data_dir / name
        digest.update(f"{name}\n".encode())
        digest.update(path.read_bytes() if path.exists() else b"<missing>")
    return digest.hexdigest()


def _read_json(path: Path) -> object:
    if not path.exists():
        raise SeedDataError(
            str(path), None, None, "is missing; restore it from git (kb/data/ ships with predeploy)"
        )
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise SeedDataError(str(path), f"line {exc.lineno}", None, f"is not valid JSON: {exc.msg}") from exc


def read_seed(data_dir: Path | None = None) -> SeedData:
    """Parse and check every seed file under data_dir (default: kb/data).

    Raises:
        SeedDataError: a file is missing or malformed; the message names the file, row and field.
    """
    data_dir = data_dir or DATA_DIR
    fp = fingerprint(data_dir)
    models = _json_rows(data_dir / MODELS, "models", "id", parse_model, "model_id")
    gpus = _json_rows(data_dir / GPUS, "gpus", "id", parse_gpu, "gpu_type")
    prices = parse_rows(
        _read_json(data_dir / COSTS), file=str(data_dir / COSTS), key="prices", id_key="gpu_id",
        parse=price_parser({g.gpu_type for g in gpus}),
    )  # fmt: skip
    templates = _json_rows(data_dir / TEMPLATES, "templates", "use_case", parse_template, "use_case")
    catalog = Catalog(models=tuple(map(convert.model_spec, models)), gpus=tuple(map(convert.gpu_spec, gpus)))
    benchmarks = [
        *parse_serving(data_dir / SERVING, catalog, label=str(data_dir / SERVING)),
        *parse_aiconfigurator(data_dir / AICONFIGURATOR, catalog, label=str(data_dir / AICONFIGURATOR)),
    ]
    check_unique([b.id for b in benchmarks], file=str(data_dir / "benchmarks"), field="id")
    memory = parse_memory(
        data_dir / MEMORY_RAW, data_dir / MEMORY_PREDICTED, label=str(data_dir / MEMORY_RAW)
    )
    return SeedData(
        models=models,
        gpus=gpus,
        prices=prices,
        templates=templates,
        benchmarks=[convert.benchmark_values(b) for b in benchmarks],
        memory=[convert.memory_values(m, row_id=i, details=d) for i, m, d in memory],
        fingerprint=fp,
        versions={name: _version(data_dir / name) for name in (MODELS, GPUS, COSTS, TEMPLATES)},
    )


def _version(path: Path) -> Any:
    doc = _read_json(path)
    return doc.get("version") if isinstance(doc, dict) else None


def _json_rows(path: Path, key: str, id_key: str, parse: Any, pk: str) -> list[Any]:
    rows: list[Any] = parse_rows(_read_json(path), file=str(path), key=key, id_key=id_key, parse=parse)
    check_unique([getattr(r, pk) for r in rows], file=str(path), field=id_key)
    return rows


def stored_fingerprint(session: Session) -> str | None:
    return session.scalar(select(KbMeta.value).where(KbMeta.key == FINGERPRINT_KEY))


def write_seed(session: Session, data: SeedData) -> None:
    """Replace the seeded rows with `data`, inside the caller's transaction.

    Rows others refer to (models, GPUs, use cases) are upserted, not deleted and re-inserted, so
    deployment outcomes and templates that name them survive a reload.

    Raises:
        SeedDataError: a model, GPU or use case was removed from the files but stored rows refer to it.
    """
    for child in (ModelBenchmark, MemoryMeasurementRow, CostData):
        session.execute(delete(child))
    upserts: tuple[tuple[list[Any], type[Base], str, str], ...] = (
        (data.gpus, HardwareProfile, "gpu_type", GPUS),
        (data.models, ModelCatalog, "model_id", MODELS),
        (data.templates, UseCaseSloTemplate, "use_case", TEMPLATES),
    )
    for rows, table, pk, file in upserts:
        for row in rows:
            session.merge(row)
        keep = [getattr(r, pk) for r in rows]
        try:
            session.execute(delete(table).where(getattr(table, pk).not_in(keep)))
            session.flush()
        except IntegrityError as exc:
            raise SeedDataError(
                file, None, None, "an entry was removed that stored deployments still refer to; put it back"
            ) from exc
    session.add_all(data.prices)
    if data.benchmarks:
        session.execute(insert(ModelBenchmark), data.benchmarks)
    if data.memory:
        session.execute(insert(MemoryMeasurementRow), data.memory)
    session.merge(KbMeta(key=FINGERPRINT_KEY, value=data.fingerprint))
    session.merge(KbMeta(key="seed_counts", value=json.dumps(data.counts(), sort_keys=True)))
    session.merge(KbMeta(key="seed_versions", value=json.dumps(data.versions, sort_keys=True, default=str)))
    session.flush()


def load_seed(engine: Engine, *, data_dir: Path | None = None, force: bool = False) -> dict[str, int] | None:
    """Load the seed files when they differ from what is stored (or always with force).

    Returns the row counts loaded, or None when the stored data was already current.

    Raises:
        SeedDataError: a seed file is malformed; nothing was written.
    """
    fp = fingerprint(data_dir)
    with Session(engine) as session:
        if not force and stored_fingerprint(session) == fp:
            return None
    data = read_seed(data_dir)
    with Session(engine) as session, session.begin():
        with schema_lock(session.connection(execution_options={IMMEDIATE: True})):
            if not force and stored_fingerprint(session) == data.fingerprint:
                return None  # another process loaded it while we parsed
            write_seed(session, data)
    return data.counts()


def load_seed_if_changed(engine: Engine, *, data_dir: Path | None = None) -> bool:
    """True when the seed was (re)loaded."""
    return load_seed(engine, data_dir=data_dir) is not None
