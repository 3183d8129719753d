"""`import dlngraph`: the deliberate list of public names, each documented, each the object of its
home module, cheap to import, and enough on its own to build, train, evaluate and run a network."""

from __future__ import annotations

import ast
import importlib
import subprocess
import sys
from pathlib import Path

import pytest

import dlngraph
from dlngraph.cli.main import USER_ERRORS
from dlngraph.runs.gc_tuning import OLDER_THRESHOLDS, YOUNGEST_THRESHOLD
from dlngraph.testing.server import ScriptedServer
from tests.runs.test_gc_tuning import thresholds_after

ROOT = Path(__file__).resolve().parents[1]

PUBLIC = [
    "CompiledNetwork",
    "ConcatNode",
    "DataError",
    "Dataset",
    "EvalReport",
    "Example",
    "FileData",
    "ForwardResult",
    "GeneratedData",
    "LLMError",
    "LMNode",
    "Limits",
    "MetricError",
    "ModelPool",
    "ModelSpec",
    "NetworkSpec",
    "NodeExecutionError",
    "OverrideError",
    "PresetData",
    "RunDirectoryError",
    "RunSummary",
    "Sampling",
    "SpecError",
    "SplitSizes",
    "TrainOptions",
    "TrainingError",
    "TrainingSpec",
    "VoteNode",
    "__version__",
    "compile_network",
    "dump_spec",
    "evaluate_splits",
    "load_dataset",
    "load_spec",
    "load_spec_text",
    "resume_run",
    "run_forward",
    "train_spec",
    "tune_gc",
]

HEAVY = ("llama_cpp", "ray", "matplotlib")
"""What a program must never pay for by importing dlngraph: the embedded model, Ray, plotting."""


def test_all_is_the_deliberate_list() -> None:
    assert dlngraph.__all__ == PUBLIC


@pytest.mark.parametrize("name", sorted(dlngraph._HOMES))
def test_every_name_is_its_home_modules_object_and_is_documented(name: str) -> None:
    home = importlib.import_module(dlngraph._HOMES[name])
    assert getattr(dlngraph, name) is getattr(home, name)
    namespace: dict[str, object] = {}
    exec(f"from dlngraph import {name}", namespace)  # noqa: S102 - the user's spelling of it
    assert namespace[name] is getattr(home, name)
    assert f"`{name}`" in (dlngraph.__doc__ or ""), f"{name} is not in the package docstring"


def test_the_lazy_table_and_the_type_checkers_imports_name_the_same_objects() -> None:
    tree = ast.parse((ROOT / "dlngraph" / "__init__.py").read_text(encoding="utf-8"))
    (block,) = [node for node in tree.body if isinstance(node, ast.If) and ast.unparse(node.test) == "TYPE_CHECKING"]
    imported = {alias.name: statement.module for statement in block.body if isinstance(statement, ast.ImportFrom)
                for alias in statement.names}
    assert imported == dlngraph._HOMES
    assert {"__version__", *dlngraph._HOMES} == set(PUBLIC)


def test_every_error_the_command_line_reports_to_a_user_is_public() -> None:
    public = {getattr(dlngraph, name) for name in dlngraph._HOMES}
    assert {*USER_ERRORS, dlngraph.SpecError} <= public


def test_an_unknown_name_is_an_attribute_error_and_dir_lists_the_public_ones() -> None:
    with pytest.raises(AttributeError, match="module 'dlngraph' has no attribute 'train'"):
        dlngraph.train  # noqa: B018
    assert set(PUBLIC) <= set(dir(dlngraph))


def _loaded_after(code: str) -> list[str]:
    """The top-level packages among HEAVY, and dlngraph's own modules, loaded by `code`."""
    probe = code + "; import sys; print(' '.join(sorted(sys.modules)))"
    output = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, cwd=ROOT).stdout
    return output.split()


def test_importing_dlngraph_loads_none_of_its_modules_and_nothing_heavy() -> None:
    loaded = _loaded_after("import dlngraph")
    assert [module for module in loaded if module.startswith("dlngraph.")] == []
    assert [module for module in loaded if module.split(".")[0] in (*HEAVY, "aiohttp", "networkx")] == []


def test_building_a_spec_loads_neither_the_http_client_nor_the_training_loop() -> None:
    loaded = _loaded_after("import dlngraph; dlngraph.NetworkSpec, dlngraph.dump_spec, dlngraph.load_spec")
    assert "aiohttp" not in loaded and "dlngraph.runs" not in loaded and "dlngraph.dln" not in loaded


def test_every_public_name_in_use_still_loads_nothing_heavy() -> None:
    loaded = _loaded_after("import dlngraph; [getattr(dlngraph, name) for name in dlngraph.__all__]")
    assert "dlngraph.runs.train" in loaded
    assert [module for module in loaded if module.split(".")[0] in HEAVY] == []


def test_tune_gc_is_the_commands_setting_and_touching_the_api_leaves_the_programs_own() -> None:
    touched = "import dlngraph; [getattr(dlngraph, name) for name in dlngraph.__all__]"
    assert thresholds_after(touched) == thresholds_after("pass")
    assert thresholds_after(touched + "; dlngraph.tune_gc()") == (YOUNGEST_THRESHOLD, *OLDER_THRESHOLDS)


def _network_in_code(base_url: str) -> dlngraph.NetworkSpec:
    model = dlngraph.ModelSpec(backend="openai", base_url=base_url, model="scripted",
                               sampling=dlngraph.Sampling(temperature=0.0, max_tokens=32))
    return dlngraph.NetworkSpec(
        name="public-api",
        models={"forward": model},
        nodes=[dlngraph.LMNode(id="answer", model="forward", template="classify", prompt="Yes or No?",
                               classes=["Yes|yes", "No|no"])],
        output="answer",
        training=dlngraph.TrainingSpec(iterations=1, batch_size=4, num_p_samples=2),
        data=dlngraph.GeneratedData(task="navigate", sizes=dlngraph.SplitSizes(train=8, dev=4, test=4)),
    )


def test_a_spec_built_in_code_dumps_and_loads_back_as_itself() -> None:
    spec = _network_in_code("http://127.0.0.1:9/v1")
    assert dlngraph.load_spec_text(dlngraph.dump_spec(spec)).spec == spec
    assert dlngraph.compile_network(spec).topological_order == ["answer"]


async def test_a_spec_object_trains_evaluates_and_runs_forward_through_the_public_names(tmp_path: Path) -> None:
    async with ScriptedServer() as server:
        spec = _network_in_code("http://127.0.0.1:9/v1")  # unreachable: every call goes to base_url
        options = dlngraph.TrainOptions(runs_root=tmp_path, base_url=server.base_url)
        summary = await dlngraph.train_spec(spec, options)
        assert summary.stopped == "completed" and summary.iterations_run == 1
        assert list(tmp_path.iterdir()) == [Path(summary.run_dir)]  # the run directory, no spec file beside it

        (report,) = await dlngraph.evaluate_splits(Path(summary.run_dir) / "final.yaml", splits=["test"],
                                                   baselines=True, base_url=server.base_url)
        assert [row.system for row in report.rows] == ["spec", "0-shot", "5-shot"]
        assert all(row.count == 4 for row in report.rows)

        network = dlngraph.compile_network(spec)
        dataset = dlngraph.load_dataset(spec.data, base_dir=tmp_path)
        async with dlngraph.ModelPool.from_specs(spec.models, base_url=server.base_url) as models:
            result = await dlngraph.run_forward(network, models, [example.input for example in dataset.dev])
        assert models.closed
        assert len(result.predictions()) == 4 and all(prediction in ("Yes", "No") for prediction in result.predictions())
