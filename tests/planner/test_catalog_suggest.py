"""Unknown names get suggestions drawn from ids, names and aliases."""

import pytest

from planner.catalog import Catalog
from planner.errors import UnknownNameError
from planner.types import GpuSpec, InterconnectKind


def _gpu(gpu_id: str, *aliases: str) -> GpuSpec:
    return GpuSpec(
        id=gpu_id,
        name=gpu_id,
        vendor="nvidia",
        architecture="x",
        memory_gib=80,
        memory_bandwidth_gb_s=1000,
        bf16_tflops=100,
        fp8_tflops=0,
        int8_tops=0,
        interconnect=InterconnectKind.PCIE,
        interconnect_gb_s=32,
        gpus_per_node=8,
        max_tensor_parallel=8,
        node_label=gpu_id,
        resource_name="nvidia.com/gpu",
        source="test",
        aliases=aliases,
    )


CATALOG = Catalog(
    models=(), gpus=(_gpu("H100-SXM", "H100", "h100-80gb"), _gpu("A100-80GB", "A100"), _gpu("L4"))
)


@pytest.mark.parametrize(("name", "expected"), [("h1000", "H100-SXM"), ("a10O", "A100-80GB"), ("l4x", "L4")])
def test_unknown_gpu_suggests_by_alias(name: str, expected: str) -> None:
    with pytest.raises(UnknownNameError) as err:
        CATALOG.gpu(name)
    assert expected in err.value.suggestions
    assert "did you mean" in str(err.value)


def test_nothing_close_gives_no_suggestion() -> None:
    with pytest.raises(UnknownNameError) as err:
        CATALOG.gpu("tpu-v5e")
    assert err.value.suggestions == []
