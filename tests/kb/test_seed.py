from __future__ import annotations

import json
import math
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, select, text
from sqlalchemy.orm import Session

from kb import repository as repo
from kb.errors import SeedDataError
from kb.seed import DATA_DIR, MODELS, fingerprint, load_seed, read_seed
from kb.tables import ModelBenchmark, ModelCatalog
from planner.types import Precision

FIXTURE_DATA = Path(__file__).parent / "data"


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    """A writable copy of the small fixture seed."""
    target = tmp_path / "data"
    shutil.copytree(FIXTURE_DATA, target)
    return target


@pytest.fixture
def migrated(migrated_engine: Engine) -> Engine:
    return migrated_engine


def _edit_json(path: Path, change: Callable[[Any], None]) -> None:
    doc = json.loads(path.read_text())
    change(doc)
    path.write_text(json.dumps(doc))


def test_fixture_seed_loads_with_sources(migrated: Engine, data_dir: Path) -> None:
    counts = load_seed(migrated, data_dir=data_dir)
    assert counts == {
        "models": 3, "gpus": 3, "prices": 3, "usecases": 2, "benchmarks": 16, "memory_measurements": 4,
    }  # fmt: skip
    with Session(migrated) as session:
        rows = repo.list_benchmarks(session=session)
        assert all(r.source for r in rows)
        aic = [r for r in rows if r.source_set == "aiconfigurator_measured"]
        assert all(r.scenario == "closed_loop" and "silicon_sample.csv @095f58a5" in r.source for r in aic)


def test_loading_twice_changes_nothing(migrated: Engine, data_dir: Path) -> None:
    assert load_seed(migrated, data_dir=data_dir) is not None
    snapshot = _dump(migrated)
    assert load_seed(migrated, data_dir=data_dir) is None
    assert _dump(migrated) == snapshot


def test_a_changed_file_reloads(migrated: Engine, data_dir: Path) -> None:
    load_seed(migrated, data_dir=data_dir)
    _edit_json(data_dir / MODELS, lambda d: d["models"].pop())
    assert load_seed(migrated, data_dir=data_dir) is not None
    with Session(migrated) as session:
        assert session.scalar(select(func.count()).select_from(ModelCatalog)) == 2


def _set(index: int, key: str, value: Any, list_key: str = "models") -> Callable[[Any], None]:
    def change(doc: Any) -> None:
        doc[list_key][index][key] = value

    return change


def _drop(index: int, key: str, list_key: str) -> Callable[[Any], None]:
    def change(doc: Any) -> None:
        del doc[list_key][index][key]

    return change


@pytest.mark.parametrize(
    ("file", "change", "expected"),
    [
        (
            "models.json",
            _set(1, "num_layers", "eighty"),
            "row 1 (id 'meta-llama/Llama-3.1-70B-Instruct'), field 'num_layers'",
        ),
        ("models.json", _drop(0, "source", "models"), "field 'source': is missing"),
        ("models.json", _set(2, "attention", "sparse"), "field 'attention': must be one of"),
        ("models.json", _set(0, "precisions", ["fp3"]), "unknown precision 'fp3'"),
        ("models.json", _set(1, "id", "meta-llama/Llama-3.1-8B-Instruct"), "appears twice"),
        ("models.json", _set(0, "num_kv_heads", 64), "'num_kv_heads': 64 exceeds num_attention_heads 32"),
        ("models.json", _set(2, "params_active_b", 33), "field 'params_active_b': 33 exceeds params_total_b"),
        ("models.json", _set(0, "attention_layers", 33), "'attention_layers': 33 exceeds num_layers 32"),
        ("models.json", _set(0, "sliding_window_layers", 8), "'sliding_window_layers': needs sliding_window"),
        (
            "models.json",
            _set(0, "state_elements_per_seq", 1000),
            "'state_elements_per_seq': needs attention_layers",
        ),
        ("models.json", _set(0, "state_elements_per_seq", "big"), "field 'state_elements_per_seq'"),
        ("models.json", _set(0, "int4_integer", "yes"), "field 'int4_integer': expected true or false"),
        ("models.json", _set(0, "checkpoints", ["x/y"]), "field 'checkpoints': must be an object"),
        (
            "models.json",
            _set(0, "trust_remote_code", "yes"),
            "field 'trust_remote_code': expected true or false",
        ),
        ("models.json", _set(0, "checkpoints", {"fp4": "x/y"}), "names 'fp4', which is not in precisions"),
        ("models.json", _set(0, "checkpoints", {"fp8": "an fp8 copy"}), "is not a Hugging Face repository"),
        ("gpus.json", _set(0, "memory_gib", -80, "gpus"), "field 'memory_gib': must be greater than 0"),
        ("costs.json", _set(0, "gpu_id", "H999", "prices"), "'H999' is not a GPU id in gpus.json"),
        ("costs.json", _set(0, "effective_date", "last year", "prices"), "expected an ISO date"),
        ("costs.json", _set(0, "hourly_usd_per_gpu", 1.0, "prices"), "disagrees with hourly_usd_instance"),
        (
            "slo_templates.json",
            _set(0, "slo", {"ttft_ms": 1, "itl_ms": 1}, "templates"),
            "field 'slo.e2e_ms'",
        ),
    ],
)
def test_malformed_json_names_file_row_and_field(
    data_dir: Path, file: str, change: Callable[[Any], None], expected: str
) -> None:
    _edit_json(data_dir / file, change)
    with pytest.raises(SeedDataError) as err:
        read_seed(data_dir)
    assert file in str(err.value)
    assert expected in str(err.value)


def test_invalid_json_names_the_line(data_dir: Path) -> None:
    (data_dir / "gpus.json").write_text('{"gpus": [\n  {"id": "x",}\n]}')
    with pytest.raises(SeedDataError, match=r"gpus.json, row line 2: is not valid JSON"):
        read_seed(data_dir)


def test_missing_file_says_how_to_fix(data_dir: Path) -> None:
    (data_dir / "costs.json").unlink()
    with pytest.raises(SeedDataError, match="costs.json: is missing; restore it from git"):
        read_seed(data_dir)


@pytest.mark.parametrize(
    ("column", "value", "expected"),
    [
        ("gpu_count", "two", "row trt017-002, field 'gpu_count': not a number: 'two'"),
        ("notes", "no tag here", "row trt017-002, field 'notes': does not start with 'scenario=<tag>'"),
        ("engine", "FooServe", "row trt017-002, field 'engine': unknown engine 'FooServe'"),
    ],
)
def test_malformed_csv_names_file_row_and_field(
    data_dir: Path, column: str, value: str, expected: str
) -> None:
    import csv

    path = data_dir / "benchmarks" / "serving_benchmarks.csv"
    with path.open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    rows[1][column] = value
    with path.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    with pytest.raises(SeedDataError) as err:
        read_seed(data_dir)
    assert "serving_benchmarks.csv" in str(err.value) and expected in str(err.value)


def test_a_failed_load_leaves_the_database_as_it_was(migrated: Engine, data_dir: Path) -> None:
    load_seed(migrated, data_dir=data_dir)
    before = _dump(migrated)
    _edit_json(data_dir / "slo_templates.json", _set(1, "traffic", {"input_tokens_mean": 0}, "templates"))
    with pytest.raises(SeedDataError):
        load_seed(migrated, data_dir=data_dir)
    assert _dump(migrated) == before


def test_a_write_that_fails_midway_rolls_back(migrated: Engine, data_dir: Path) -> None:
    load_seed(migrated, data_dir=data_dir)
    before = _dump(migrated)
    data = read_seed(data_dir)
    data.benchmarks.append(dict(data.benchmarks[0]))  # duplicate primary key: fails on insert
    from kb.seed import write_seed

    with pytest.raises(Exception, match="(?i)unique|duplicate"):
        with Session(migrated) as session, session.begin():
            write_seed(session, data)
    assert _dump(migrated) == before


def test_extra_keys_are_kept_in_details(migrated: Engine, data_dir: Path) -> None:
    load_seed(migrated, data_dir=data_dir)
    with Session(migrated) as session:
        model = repo.load_catalog(session=session).model("llama3.1:8b")
    assert model.details["license_url"] == "https://example.org/license"
    assert model.details["notes"] == "test fixture"
    assert model.sliding_window is None


def test_infinite_request_rate_round_trips(migrated: Engine, data_dir: Path) -> None:
    load_seed(migrated, data_dir=data_dir)
    with Session(migrated) as session:
        row = next(b for b in repo.list_benchmarks(session=session) if b.id == "trt017-001")
    assert row.request_rate is not None and math.isinf(row.request_rate)
    assert row.engine == "tensorrt-llm" and row.scenario == "offline_max_throughput"
    assert row.model_id == "meta-llama/Llama-3.1-8B-Instruct" and row.gpu_id == "H200"


def test_fingerprint_changes_with_any_seed_file(data_dir: Path) -> None:
    before = fingerprint(data_dir)
    path = data_dir / "memory" / "vllm_memory_h100_v0.19.0" / "results_raw.csv"
    path.write_text(path.read_text() + "\n")
    assert fingerprint(data_dir) != before


@pytest.mark.skipif(not (DATA_DIR / MODELS).exists(), reason="kb/data/models.json not written yet")
def test_the_real_seed_loads_completely(seeded_sqlite_template: Path) -> None:
    from kb.session import make_engine

    engine = make_engine(f"sqlite:///{seeded_sqlite_template}")
    with Session(engine) as session:
        catalog = repo.load_catalog(session=session)
        sets = repo.benchmark_source_sets(session=session)
        benchmarks = repo.list_benchmarks(session=session)
        memory = repo.list_memory_measurements(session=session)
    engine.dispose()
    assert len(catalog.models) >= 30 and len(catalog.gpus) >= 10 and len(catalog.templates) >= 10
    assert sets == {"serving_benchmarks": 398, "aiconfigurator_measured": 5221}
    assert all(b.source for b in benchmarks)
    assert all(m.source for m in catalog.models) and all(g.source for g in catalog.gpus)
    assert len(memory) == 74
    for name in ("H100", "h100-80gb", "A100", "L4", "MI300X", "B200"):
        assert catalog.find_gpu(name) is not None, name
    mapped = [b for b in benchmarks if b.model_id and b.gpu_id]
    assert len(mapped) > 1000  # most Llama/Qwen/gpt-oss rows on H100/H200/B200 map to the catalog


def _dump(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    tables = ("model_catalog", "hardware_profiles", "cost_data", "use_case_slo_templates", "kb_meta")
    with engine.connect() as conn:
        out = {
            t: sorted(map(tuple, conn.execute(text(f"SELECT * FROM {t}")).all()), key=repr) for t in tables
        }
        out["model_benchmarks"] = [
            (r,) for r in conn.execute(select(ModelBenchmark.id).order_by(ModelBenchmark.id)).scalars()
        ]
    return out


def test_aic_gpu_count_covers_experts_spread_wider_than_attention(tmp_path: Path) -> None:
    """vLLM at tp 1 with moe_tp 2 ran on two GPUs (data-parallel attention); 235 GB of fp8 weights
    cannot sit on one 141 GB H200, so the row must not read as a one-GPU run."""
    from kb.seed_csv import parse_aiconfigurator
    from planner.catalog import Catalog

    source = "tests/kb/data/benchmarks/aiconfigurator_measured/silicon_sample.csv"
    header = Path(source).read_text().splitlines()[0]
    columns = header.split(",")

    def row(row_id: str, **cells: Any) -> str:
        base = {
            "id": row_id, "silicon_data_source": "measured=2026-01-01; silicon_concurrency=8",
            "backend": "vllm", "model_path": "Qwen/Qwen3-235B-A22B-FP8", "system": "h200_sxm",
            "precision": "fp8", "mode": "agg", "isl": 1000, "osl": 100, "silicon_ttft_ms": 300,
            "silicon_tpot_ms": 50,
        }  # fmt: skip
        base.update(cells)
        return ",".join(str(base.get(c, "")) for c in columns)

    lines = [
        header,
        row("moe-wider", tp_size=1, pp_size=1, moe_tp_size=2, moe_ep_size=1),
        row("attention-dp", tp_size=2, pp_size=1, attention_dp_size=4, moe_tp_size=1, moe_ep_size=8),
        row("dense", tp_size=4, pp_size=1, moe_tp_size=1, moe_ep_size=0),
        row("pipeline", tp_size=2, pp_size=2, moe_tp_size=4, moe_ep_size=1),
    ]
    path = tmp_path / "aic.csv"
    path.write_text("\n".join(lines) + "\n")
    rows = {r.id: r for r in parse_aiconfigurator(path, Catalog(models=(), gpus=()), label="aic.csv")}
    assert {k: r.gpu_count for k, r in rows.items()} == {
        "moe-wider": 2, "attention-dp": 8, "dense": 4, "pipeline": 8,
    }  # fmt: skip
    assert rows["moe-wider"].tensor_parallel == 1


def test_hybrid_and_sliding_window_layers_reach_the_model_spec(migrated: Engine, data_dir: Path) -> None:
    def hybrid(doc: Any) -> None:
        doc["models"][0].update(
            attention_layers=8, sliding_window=128, sliding_window_layers=4, state_elements_per_seq=1_000_000
        )
        doc["models"][0]["precisions"] = ["bf16", "int4"]
        doc["models"][0]["int4_integer"] = True
        doc["models"][0]["checkpoints"] = {"int4": "RedHatAI/Meta-Llama-3.1-8B-Instruct-quantized.w4a16"}

    _edit_json(data_dir / MODELS, hybrid)
    load_seed(migrated, data_dir=data_dir)
    with Session(migrated) as session:
        catalog = repo.load_catalog(session=session)
    m, plain = catalog.model("llama3.1:8b"), catalog.model("Qwen/Qwen3-30B-A3B")
    assert (m.attention_layers, m.kv_layers, m.sliding_window, m.sliding_window_layers) == (8, 8, 128, 4)
    assert m.state_elements_per_seq == 1_000_000 and m.int4_integer
    assert (plain.attention_layers, plain.kv_layers, plain.sliding_window_layers) == (None, 48, 0)
    assert plain.state_elements_per_seq == 0 and not plain.int4_integer
    assert m.checkpoint(Precision.INT4) == "RedHatAI/Meta-Llama-3.1-8B-Instruct-quantized.w4a16"
    assert plain.checkpoint(Precision.INT4) is None and m.checkpoint(Precision.BF16) is None


def test_every_shipped_quantized_checkpoint_is_a_listed_precision_and_integer_int4_says_so() -> None:
    """int4 from an AWQ/GPTQ/W4A16 repository computes as integer weight-only on every GPU (the
    performance model's int4_integer); only a base that ships 4-bit itself (gpt-oss's MXFP4) is FP4."""
    from kb.convert import model_spec

    models = {m.id: m for m in (model_spec(row) for row in read_seed().models)}
    quantized = [m for m in models.values() if m.checkpoint(Precision.INT4) or m.checkpoint(Precision.INT8)]
    assert len(quantized) >= 15
    for m in quantized:
        for p in (Precision.INT4, Precision.INT8):
            repo = m.checkpoint(p)
            assert repo is None or p in m.precisions, (m.id, p)
        repo = m.checkpoint(Precision.INT4)
        if repo and repo != m.id:
            assert m.int4_integer, f"{m.id}: int4 from {repo} is integer weight-only"
    assert models["openai/gpt-oss-120b"].checkpoint(Precision.INT4) == "openai/gpt-oss-120b"
    natives = {
        m.id: m.native_precision.value for m in models.values() if m.native_precision is not Precision.BF16
    }
    assert natives == {
        "deepseek-ai/DeepSeek-V3": "fp8", "deepseek-ai/DeepSeek-R1": "fp8",
        "deepseek-ai/DeepSeek-V3.1": "fp8", "moonshotai/Kimi-K2-Instruct": "fp8",
        "MiniMaxAI/MiniMax-M2.5": "fp8",
        "openai/gpt-oss-20b": "int4", "openai/gpt-oss-120b": "int4", "moonshotai/Kimi-K2.5": "int4",
    }  # fmt: skip
    remote = sorted(m.id for m in models.values() if m.details.get("trust_remote_code") is True)
    assert remote == ["moonshotai/Kimi-K2-Instruct", "moonshotai/Kimi-K2.5"]
